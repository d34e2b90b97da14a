package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// routeCase is one route of the access matrix. setup prepares what the
// request acts on (always something of tenant A) and returns the path and
// body; ok is the status when access is granted.
type routeCase struct {
	method, route string
	role          remediation.Role // the least role allowed
	allTenants    bool             // only keys of all tenants
	ofTenantA     bool             // acts on something of tenant A (404 for a key of B)
	setup         func(e *env) (path string, body any)
	ok            int
	// listed: a list whose entries carry a tenant_id under this key.
	listed string
}

func fixed(path string, body any) func(*env) (string, any) {
	return func(*env) (string, any) { return path, body }
}

// routeCases lists every /v1 route; DELETE /v1/tenants/:tenant_id comes
// last because it removes tenant A.
func routeCases() []routeCase {
	ta := "/v1/tenants/" + tenantA
	submitted := func(e *env) string { return e.submit(tenantA, "disable_user", "user0@contoso.com").ID }
	V, O, A := remediation.RoleViewer, remediation.RoleOperator, remediation.RoleAdmin
	return []routeCase{
		{method: "GET", route: "/v1/actions", role: V, setup: fixed("/v1/actions", nil), ok: 200},
		{method: "GET", route: "/v1/tenants", role: V, setup: fixed("/v1/tenants", nil), ok: 200, listed: "tenants"},
		{method: "POST", route: "/v1/tenants", role: A, allTenants: true, ok: 201, setup: func(*env) (string, any) {
			return "/v1/tenants", map[string]any{"tenant_id": uuid.NewString(), "display_name": "New",
				"client_id": testClientID, "client_secret": testSecret}
		}},
		{method: "GET", route: "/v1/tenants/:tenant_id", role: V, ofTenantA: true, setup: fixed(ta, nil), ok: 200},
		{method: "PATCH", route: "/v1/tenants/:tenant_id", role: A, ofTenantA: true, ok: 200,
			setup: fixed(ta, map[string]any{"mfa_policy_state": "report_only"})},
		{method: "PUT", route: "/v1/tenants/:tenant_id/credentials", role: A, ofTenantA: true, ok: 200,
			setup: fixed(ta+"/credentials", map[string]any{"client_secret": testSecret + "-2"})},
		{method: "POST", route: "/v1/tenants/:tenant_id/verify", role: A, ofTenantA: true, ok: 200, setup: fixed(ta+"/verify", nil)},
		{method: "POST", route: "/v1/tenants/:tenant_id/webhooks", role: A, ofTenantA: true, ok: 201,
			setup: fixed(ta+"/webhooks", map[string]any{"url": "https://" + hookHost + "/hook"})},
		{method: "GET", route: "/v1/tenants/:tenant_id/webhooks", role: A, ofTenantA: true, ok: 200, setup: fixed(ta+"/webhooks", nil)},
		{method: "DELETE", route: "/v1/tenants/:tenant_id/webhooks/:webhook_id", role: A, ofTenantA: true, ok: 204,
			setup: func(e *env) (string, any) { return ta + "/webhooks/" + e.addWebhook(tenantA), nil }},
		{method: "GET", route: "/v1/tenants/:tenant_id/webhooks/:webhook_id/deliveries", role: A, ofTenantA: true, ok: 200,
			setup: func(e *env) (string, any) { return ta + "/webhooks/" + e.addWebhook(tenantA) + "/deliveries", nil }},
		{method: "POST", route: "/v1/tenants/:tenant_id/remediations", role: O, ofTenantA: true, ok: 202,
			setup: fixed(ta+"/remediations", map[string]any{"action": "disable_user", "identities": []string{"x@contoso.com"}, "reason": "r"})},
		{method: "GET", route: "/v1/remediations", role: V, setup: fixed("/v1/remediations", nil), ok: 200, listed: "remediations"},
		{method: "GET", route: "/v1/remediations/:id", role: V, ofTenantA: true, ok: 200,
			setup: func(e *env) (string, any) { return "/v1/remediations/" + submitted(e), nil }},
		{method: "GET", route: "/v1/remediations/:id/events", role: V, ofTenantA: true, ok: 200, // a finished job: the stream ends
			setup: func(e *env) (string, any) {
				return "/v1/remediations/" + e.finished("disable_user", remediation.ItemSucceeded).ID + "/events", nil
			}},
		{method: "GET", route: "/v1/remediations/:id/items", role: V, ofTenantA: true, ok: 200,
			setup: func(e *env) (string, any) { return "/v1/remediations/" + submitted(e) + "/items", nil }},
		{method: "GET", route: "/v1/remediations/:id/items/:identity", role: V, ofTenantA: true, ok: 200,
			setup: func(e *env) (string, any) {
				return "/v1/remediations/" + submitted(e) + "/items/user0@contoso.com", nil
			}},
		{method: "POST", route: "/v1/remediations/:id/undo", role: O, ofTenantA: true, ok: 202, setup: func(e *env) (string, any) {
			return "/v1/remediations/" + e.finished("disable_user", remediation.ItemSucceeded).ID + "/undo", nil
		}},
		{method: "POST", route: "/v1/remediations/:id/retry", role: O, ofTenantA: true, ok: 202, setup: func(e *env) (string, any) {
			return "/v1/remediations/" + e.finished("disable_user", remediation.ItemFailed).ID + "/retry", nil
		}},
		{method: "POST", route: "/v1/remediations/:id/cancel", role: O, ofTenantA: true, ok: 200,
			setup: func(e *env) (string, any) { return "/v1/remediations/" + submitted(e) + "/cancel", nil }},
		{method: "GET", route: "/v1/history", role: V, setup: fixed("/v1/history", nil), ok: 200, listed: "history"},
		{method: "GET", route: "/v1/audit", role: A, setup: fixed("/v1/audit", nil), ok: 200, listed: "entries"},
		{method: "POST", route: "/v1/keys", role: A, allTenants: true, ok: 201,
			setup: fixed("/v1/keys", map[string]any{"name": "new key", "role": "viewer"})},
		{method: "GET", route: "/v1/keys", role: A, allTenants: true, setup: fixed("/v1/keys", nil), ok: 200},
		{method: "DELETE", route: "/v1/keys/:key_id", role: A, allTenants: true, ok: 204, setup: func(e *env) (string, any) {
			k, _, err := CreateKey(t0(e), e.store, "doomed", remediation.RoleViewer, nil, "test")
			if err != nil {
				e.t.Fatal(err)
			}
			return "/v1/keys/" + k.ID, nil
		}},
		{method: "DELETE", route: "/v1/tenants/:tenant_id", role: A, ofTenantA: true, ok: 204,
			setup: func(e *env) (string, any) { e.cancelAll(); return ta, nil }},
	}
}

// TestAccessMatrix walks every route × {viewer, operator, admin} × {all
// tenants, scoped to A, scoped to B} and checks 403 for a missing role or
// an all-tenants route with a scoped key, 404 for tenant A's things with a
// key of B, the success status otherwise; and 401 without a valid key.
func TestAccessMatrix(t *testing.T) {
	cases := routeCases()
	t.Run("covers every route", func(t *testing.T) {
		e := newEnv(t)
		var got, want []string
		for _, r := range e.srv.echo.Routes() {
			if strings.HasPrefix(r.Path, "/v1/") {
				got = append(got, r.Method+" "+r.Path)
			}
		}
		for _, c := range cases {
			want = append(want, c.method+" "+c.route)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("routes\n%s\nmatrix\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	scopes := []struct {
		name    string
		tenants []string
	}{{"all", nil}, {"A", []string{tenantA}}, {"B", []string{tenantB}}}
	for _, role := range []remediation.Role{remediation.RoleViewer, remediation.RoleOperator, remediation.RoleAdmin} {
		for _, sc := range scopes {
			t.Run(string(role)+"/"+sc.name, func(t *testing.T) {
				e := newEnv(t, accessOpts(&fakeVerifier{}))
				e.addTenant(tenantA)
				e.addTenant(tenantB)
				e.submit(tenantB, "disable_user", "b@fabrikam.com")
				e.finished("disable_user", remediation.ItemSucceeded) // history and audit of tenant A
				e.post("/v1/remediations/"+e.submit(tenantB, "disable_user", "c@fabrikam.com").ID+"/cancel", nil, nil)
				secret := e.key(role, sc.tenants...)
				for _, c := range cases {
					path, body := c.setup(e)
					want := c.ok
					switch {
					case !role.Includes(c.role), c.allTenants && sc.tenants != nil:
						want = http.StatusForbidden
					case c.ofTenantA && sc.name == "B":
						want = http.StatusNotFound
					}
					w := e.as(secret, req{Method: c.method, Path: path, Body: body})
					if w.Code != want {
						t.Errorf("%s %s: status %d, want %d; body %s", c.method, path, w.Code, want, truncate(w.Body.String(), 300))
						continue
					}
					if want == 403 || want == 404 {
						wantCode := map[int]string{403: remediation.EFORBIDDEN, 404: remediation.ENOTFOUND}[want]
						if got := decode[apiError](t, w).Error.Code; got != wantCode {
							t.Errorf("%s %s: code %q", c.method, path, got)
						}
					}
					if want == 200 && c.listed != "" {
						checkListScope(t, w, c.listed, sc.tenants)
					}
					// Without a valid key: 401, whatever the route.
					for _, auth := range []string{"", "Bearer rk_" + strings.Repeat("0", 64), "Bearer " + secret + "x"} {
						w := e.do(req{Method: c.method, Path: path, Body: body, Header: map[string]string{"Authorization": auth}})
						if w.Code != http.StatusUnauthorized {
							t.Errorf("%s %s with %q: status %d, want 401", c.method, path, auth, w.Code)
						}
					}
				}
				e.assertNoSecret()
			})
		}
	}
}

// checkListScope checks that every entry of the list under key carries a
// tenant_id the key may see, and that a key of all tenants sees both.
func checkListScope(t *testing.T, w *httptest.ResponseRecorder, key string, tenants []string) {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(decode[map[string]json.RawMessage](t, w)[key], &list); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	seen := map[string]bool{}
	for _, entry := range list {
		tid, _ := entry["tenant_id"].(string)
		seen[tid] = true
		if tenants != nil && tid != tenants[0] {
			t.Errorf("%s: entry of tenant %q visible to a key of %v", key, tid, tenants)
		}
	}
	if tenants == nil && key != "history" && (!seen[tenantA] || !seen[tenantB]) {
		t.Errorf("%s: a key of all tenants sees %v", key, seen)
	}
	if tenants != nil && tenants[0] == tenantA && !seen[tenantA] {
		t.Errorf("%s: a key of A does not see A: %v", key, seen)
	}
}
