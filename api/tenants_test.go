package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

func tenantBody(mod func(m map[string]any)) map[string]any {
	m := map[string]any{
		"tenant_id": tenantA, "display_name": "Contoso", "client_id": testClientID, "client_secret": testSecret,
	}
	if mod != nil {
		mod(m)
	}
	return m
}

func TestTenantRegisterListGet(t *testing.T) {
	e := newEnv(t)
	upper := strings.ToUpper(tenantA[:8]) + tenantA[8:]
	w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tenantBody(func(m map[string]any) { m["tenant_id"] = upper })})
	wantStatus(t, w, http.StatusCreated)
	if loc := w.Header().Get("Location"); loc != "/v1/tenants/"+tenantA {
		t.Errorf("Location = %q", loc)
	}
	got := decode[map[string]any](t, w)
	if got["tenant_id"] != tenantA || got["display_name"] != "Contoso" || got["cloud"] != "public" || got["client_id"] != testClientID {
		t.Errorf("created tenant = %v", got)
	}
	for k := range got {
		if strings.Contains(k, "secret") {
			t.Errorf("response has field %q", k)
		}
	}

	// The secret is stored sealed, and opens to the original.
	st, err := e.store.GetTenant(context.Background(), tenantA)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	if strings.Contains(string(st.SecretCiphertext), testSecret) || st.SecretKeyID != "test-key-1" {
		t.Errorf("secret not sealed: key %q", st.SecretKeyID)
	}
	plain, _ := (xorBox{}).Open(st.SecretCiphertext, st.SecretKeyID)
	if cred, err := remediation.ParseCredential(plain); err != nil || cred.Type != remediation.CredentialSecret ||
		cred.ClientSecret != testSecret {
		t.Errorf("sealed credential opens to %v, %v", cred, err)
	}
	if got["credential_type"] != "secret" {
		t.Errorf("credential_type = %v", got["credential_type"])
	}

	wantError(t, e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tenantBody(nil)}), 409, remediation.ECONFLICT)
	e.addTenant(tenantB)

	w = e.get("/v1/tenants")
	wantStatus(t, w, 200)
	list := decode[struct {
		Tenants []map[string]any `json:"tenants"`
	}](t, w)
	if len(list.Tenants) != 2 || list.Tenants[0]["tenant_id"] != tenantA || list.Tenants[1]["tenant_id"] != tenantB {
		t.Errorf("list = %v", list.Tenants)
	}

	w = e.get("/v1/tenants/" + upper)
	wantStatus(t, w, 200)
	if got := decode[map[string]any](t, w); got["tenant_id"] != tenantA {
		t.Errorf("get = %v", got)
	}
	wantError(t, e.get("/v1/tenants/44444444-4444-4444-4444-444444444444"), 404, remediation.ENOTFOUND)
	wantError(t, e.get("/v1/tenants/not-a-guid"), 400, remediation.EINVALID)
	e.assertNoSecret()
}

func TestTenantRegisterInvalid(t *testing.T) {
	for _, tc := range []struct {
		name        string
		allowCustom bool
		body        any
		status      int
		code        string
		field       string // expected in details.fields
	}{
		{"tenant id not a GUID", false, tenantBody(func(m map[string]any) { m["tenant_id"] = "contoso.com" }), 400, remediation.EINVALID, "tenant_id"},
		{"client id missing", false, tenantBody(func(m map[string]any) { delete(m, "client_id") }), 400, remediation.EINVALID, "client_id"},
		{"secret missing", false, tenantBody(func(m map[string]any) { delete(m, "client_secret") }), 400, remediation.EINVALID, "client_secret"},
		{"secret too long", false, tenantBody(func(m map[string]any) { m["client_secret"] = strings.Repeat("x", 1025) }), 400, remediation.EINVALID, "client_secret"},
		{"display name missing", false, tenantBody(func(m map[string]any) { m["display_name"] = "  " }), 400, remediation.EINVALID, "display_name"},
		{"unknown cloud", false, tenantBody(func(m map[string]any) { m["cloud"] = "mars" }), 400, remediation.EINVALID, "cloud"},
		{"endpoints with public cloud", false, tenantBody(func(m map[string]any) { m["graph_endpoint"] = "https://graph.example/v1.0" }), 400, remediation.EINVALID, "cloud"},
		{"unknown field", false, tenantBody(func(m map[string]any) { m["secret"] = "x" }), 400, remediation.EINVALID, ""},
		{"wrong type", false, tenantBody(func(m map[string]any) { m["display_name"] = 5 }), 400, remediation.EINVALID, ""},
		{"malformed JSON", false, `{"tenant_id":`, 400, remediation.EINVALID, ""},
		{"custom refused", false, tenantBody(func(m map[string]any) {
			m["cloud"], m["graph_endpoint"], m["authority_host"] = "custom", "https://graph.example/v1.0", "https://login.example/"
		}), 403, remediation.EFORBIDDEN, ""},
		{"custom without endpoints", true, tenantBody(func(m map[string]any) { m["cloud"] = "custom" }), 400, remediation.EINVALID, "graph_endpoint"},
		{"custom with http", true, tenantBody(func(m map[string]any) {
			m["cloud"], m["graph_endpoint"], m["authority_host"] = "custom", "http://graph.example/v1.0", "https://login.example/"
		}), 400, remediation.EINVALID, "graph_endpoint"},
		{"custom with credentials", true, tenantBody(func(m map[string]any) {
			m["cloud"], m["graph_endpoint"], m["authority_host"] = "custom", "https://graph.example/v1.0", "https://u:p@login.example/"
		}), 400, remediation.EINVALID, "authority_host"},
		{"custom relative", true, tenantBody(func(m map[string]any) {
			m["cloud"], m["graph_endpoint"], m["authority_host"] = "custom", "/v1.0", "https://login.example/"
		}), 400, remediation.EINVALID, "graph_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.AllowCustomEndpoints = tc.allowCustom })
			w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tc.body})
			wantError(t, w, tc.status, tc.code)
			if tc.field != "" && !strings.Contains(w.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("details do not name %s: %s", tc.field, w.Body.String())
			}
			ts, err := e.store.ListTenants(context.Background())
			if err != nil || len(ts) != 0 {
				t.Errorf("tenants stored after a refusal: %v %v", ts, err)
			}
			e.assertNoSecret()
		})
	}
}

func TestTenantCustomEndpointsAllowed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowCustomEndpoints = true })
	w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tenantBody(func(m map[string]any) {
		m["cloud"], m["graph_endpoint"], m["authority_host"] = "custom", "https://graph.example:8443/v1.0", "https://login.example/"
	})})
	wantStatus(t, w, http.StatusCreated)
	got := decode[map[string]any](t, w)
	if got["cloud"] != "custom" || got["graph_endpoint"] != "https://graph.example:8443/v1.0" || got["authority_host"] != "https://login.example/" {
		t.Errorf("tenant = %v", got)
	}
	st, err := e.store.GetTenant(context.Background(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if ep := st.Endpoints(); ep.GraphEndpoint != "https://graph.example:8443/v1.0" {
		t.Errorf("stored endpoints %+v", ep)
	}
	e.assertNoSecret()
}
