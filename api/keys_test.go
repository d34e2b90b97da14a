package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keyJSON is a key as a client reads it.
type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	Tenants    []string   `json:"tenants"`
	AllTenants bool       `json:"all_tenants"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Secret     string     `json:"secret"`
}

func TestKeyLifecycle(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := newEnv(t, func(c *Config) { c.Now = clk.Now })
	e.addTenant(tenantA)
	e.addTenant(tenantB)

	w := e.post("/v1/keys", map[string]any{"name": "  SOC portal  ", "role": "operator",
		"tenants": []string{strings.ToUpper(tenantA), tenantA}}, map[string]string{"X-Actor": "root@corp.example"})
	wantStatus(t, w, http.StatusCreated)
	k := decode[keyJSON](t, w)
	raw, err := hex.DecodeString(strings.TrimPrefix(k.Secret, "rk_"))
	if !strings.HasPrefix(k.Secret, "rk_") || len(k.Secret) != 67 || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not rk_ + 64 hex", k.Secret)
	}
	if k.Prefix != k.Secret[:10] || k.Name != "SOC portal" || k.Role != "operator" || k.AllTenants ||
		strings.Join(k.Tenants, ",") != tenantA || k.CreatedBy != "api-key:bootstrap" || k.LastUsedAt != nil || k.RevokedAt != nil {
		t.Errorf("created key = %+v", k)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/keys/"+k.ID {
		t.Errorf("Location = %q", loc)
	}

	// The list never shows the secret or its hash.
	w = e.get("/v1/keys")
	wantStatus(t, w, 200)
	if strings.Contains(w.Body.String(), k.Secret) || strings.Contains(w.Body.String(), k.Secret[10:30]) ||
		strings.Contains(w.Body.String(), `"hash"`) || strings.Contains(w.Body.String(), `"secret"`) {
		t.Fatalf("key list shows secret material: %s", w.Body.String())
	}
	list := decode[struct{ Keys []keyJSON }](t, w)
	if len(list.Keys) != 1 || list.Keys[0].ID != k.ID || list.Keys[0].Prefix != k.Prefix {
		t.Fatalf("keys = %+v", list.Keys)
	}

	// The key works, within its tenants, and is recorded on jobs.
	w = e.as(k.Secret, req{Method: http.MethodPost, Path: "/v1/tenants/" + tenantA + "/remediations",
		Body: map[string]any{"action": "disable_user", "identities": []string{"a@contoso.com"}, "reason": "r"}})
	wantStatus(t, w, http.StatusAccepted)
	if j := decode[job](t, w); j.RequestedBy != "api-key:SOC portal ("+k.ID+")" {
		t.Errorf("requested_by = %q", j.RequestedBy)
	}
	wantError(t, e.as(k.Secret, req{Method: http.MethodGet, Path: "/v1/tenants/" + tenantB}), 404, remediation.ENOTFOUND)

	// Last use: recorded on first use, then at most once a minute.
	lastUsed := func() *time.Time {
		keys, err := e.store.ListAPIKeys(context.Background())
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v %v", keys, err)
		}
		return keys[0].LastUsedAt
	}
	if lu := lastUsed(); lu == nil || !lu.Equal(clk.Now()) {
		t.Fatalf("last_used_at = %v, want %v", lu, clk.Now())
	}
	first := clk.Now()
	clk.add(30 * time.Second)
	wantStatus(t, e.as(k.Secret, req{Method: http.MethodGet, Path: "/v1/actions"}), 200)
	if lu := lastUsed(); !lu.Equal(first) {
		t.Errorf("last_used_at moved within a minute: %v", lu)
	}
	clk.add(31 * time.Second)
	wantStatus(t, e.as(k.Secret, req{Method: http.MethodGet, Path: "/v1/actions"}), 200)
	if lu := lastUsed(); !lu.Equal(clk.Now()) {
		t.Errorf("last_used_at = %v, want %v", lu, clk.Now())
	}
	if got := decode[struct{ Keys []keyJSON }](t, e.get("/v1/keys")).Keys[0]; got.LastUsedAt == nil || !got.LastUsedAt.Equal(clk.Now()) {
		t.Errorf("listed last_used_at = %v", got.LastUsedAt)
	}

	// Revoked: 401 from then on; revoking again is fine; unknown is 404.
	w = e.do(req{Method: http.MethodDelete, Path: "/v1/keys/" + k.ID})
	wantStatus(t, w, http.StatusNoContent)
	wantError(t, e.as(k.Secret, req{Method: http.MethodGet, Path: "/v1/actions"}), 401, remediation.EUNAUTHORIZED)
	wantStatus(t, e.do(req{Method: http.MethodDelete, Path: "/v1/keys/" + k.ID}), http.StatusNoContent)
	wantError(t, e.do(req{Method: http.MethodDelete, Path: "/v1/keys/nope"}), 404, remediation.ENOTFOUND)
	if got := decode[struct{ Keys []keyJSON }](t, e.get("/v1/keys")).Keys[0]; got.RevokedAt == nil {
		t.Errorf("revoked key listed without revoked_at: %+v", got)
	}

	if strings.Contains(e.logs.String(), k.Secret) {
		t.Error("key secret in the logs")
	}
	for i, b := range e.bodies {
		if i != 2 && strings.Contains(b, k.Secret) { // bodies[2] is the creation answer
			t.Errorf("key secret in answer %d: %s", i, b)
		}
	}
	e.assertNoSecret()
}

func TestKeyAllTenants(t *testing.T) {
	e := newEnv(t)
	for _, body := range []map[string]any{
		{"name": "all", "role": "viewer"},
		{"name": "all", "role": "viewer", "tenants": nil},
	} {
		w := e.post("/v1/keys", body, nil)
		wantStatus(t, w, http.StatusCreated)
		if k := decode[keyJSON](t, w); !k.AllTenants || k.Tenants != nil {
			t.Errorf("key = %+v, want all tenants", k)
		}
	}
	// A stored admin key of all tenants may manage keys too.
	w := e.post("/v1/keys", map[string]any{"name": "admin", "role": "admin"}, nil)
	admin := decode[keyJSON](t, w).Secret
	wantStatus(t, e.as(admin, req{Method: http.MethodPost, Path: "/v1/keys", Body: map[string]any{"name": "x", "role": "viewer"}}), 201)
}

func TestKeyCreateInvalid(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no name", map[string]any{"role": "viewer"}, "name"},
		{"blank name", map[string]any{"name": "   ", "role": "viewer"}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101), "role": "viewer"}, "name"},
		{"control in name", map[string]any{"name": "a\x07b", "role": "viewer"}, "name"},
		{"no role", map[string]any{"name": "k"}, "role"},
		{"unknown role", map[string]any{"name": "k", "role": "root"}, "role"},
		{"empty tenants", map[string]any{"name": "k", "role": "viewer", "tenants": []string{}}, "tenants"},
		{"tenant not a GUID", map[string]any{"name": "k", "role": "viewer", "tenants": []string{"contoso.com"}}, "tenants"},
		{"unknown field", map[string]any{"name": "k", "role": "viewer", "secret": "mine"}, ""},
		{"tenants wrong type", map[string]any{"name": "k", "role": "viewer", "tenants": tenantA}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.post("/v1/keys", tc.body, nil)
			wantError(t, w, 400, remediation.EINVALID)
			if tc.field != "" && !strings.Contains(w.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("details do not name %s: %s", tc.field, w.Body.String())
			}
		})
	}
	if keys, err := e.store.ListAPIKeys(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("keys stored after refusals: %v %v", keys, err)
	}
}

func TestCreateKeyFunction(t *testing.T) {
	e := newEnv(t)
	k, secret, err := CreateKey(context.Background(), e.store, "cli", remediation.RoleAdmin, nil, "cli:root")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.APIKeyByHash(context.Background(), hashSecret(secret))
	if err != nil || stored.ID != k.ID || stored.CreatedBy != "cli:root" || stored.Role != remediation.RoleAdmin ||
		stored.Tenants != nil || stored.Prefix != secret[:10] {
		t.Fatalf("stored key %+v, %v", stored, err)
	}
	if _, _, err := CreateKey(context.Background(), e.store, "", remediation.RoleAdmin, nil, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Errorf("empty name: %v", err)
	}
	if _, _, err := CreateKey(context.Background(), e.store, "x", "owner", nil, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Errorf("bad role: %v", err)
	}
	if _, _, err := CreateKey(context.Background(), e.store, "x", remediation.RoleViewer, []string{}, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Errorf("empty tenant list: %v", err)
	}
	// The stored key authenticates as an admin of all tenants.
	wantStatus(t, e.as(secret, req{Method: http.MethodGet, Path: "/v1/keys"}), 200)
}
