package api

import (
	"net/http"
	"testing"
)

// TestTenantGraphLimits sets, validates and clears a tenant's graph_limits.
func TestTenantGraphLimits(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	w := e.do(req{Method: http.MethodPatch, Path: "/v1/tenants/" + tenantA,
		Body: map[string]any{"graph_limits": map[string]any{"writes": 600, "writes_window_s": 30, "ca_requests_per_s": 0.5}}})
	wantStatus(t, w, http.StatusOK)
	got := decode[map[string]any](t, w)
	gl, ok := got["graph_limits"].(map[string]any)
	if !ok || gl["writes"] != float64(600) || gl["writes_window_s"] != float64(30) || gl["ca_requests_per_s"] != 0.5 {
		t.Fatalf("graph_limits = %v", got["graph_limits"])
	}
	// Other settings are kept when only graph_limits changes, and back.
	if got["mfa_policy_state"] != "enabled" {
		t.Errorf("mfa_policy_state changed: %v", got["mfa_policy_state"])
	}
	for _, bad := range []map[string]any{
		{"graph_limits": map[string]any{"writes": -1}},
		{"graph_limits": map[string]any{"writez": 1}},
		{"graph_limits": "many"},
	} {
		w := e.do(req{Method: http.MethodPatch, Path: "/v1/tenants/" + tenantA, Body: bad})
		wantStatus(t, w, http.StatusBadRequest)
	}
	if got := decode[map[string]any](t, e.get("/v1/tenants/"+tenantA)); got["graph_limits"] == nil {
		t.Fatal("a refused PATCH changed graph_limits")
	}
	w = e.do(req{Method: http.MethodPatch, Path: "/v1/tenants/" + tenantA, Body: map[string]any{"graph_limits": nil}})
	wantStatus(t, w, http.StatusOK)
	if got := decode[map[string]any](t, w); got["graph_limits"] != nil {
		t.Fatalf("graph_limits after null = %v", got["graph_limits"])
	}
}
