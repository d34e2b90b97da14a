package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		auth   string // Authorization header; "-" for none
		want   int
	}{
		{"no header", http.MethodGet, "/v1/tenants", "-", 401},
		{"wrong key", http.MethodGet, "/v1/tenants", "Bearer nope", 401},
		{"key prefix", http.MethodGet, "/v1/tenants", "Bearer " + testAPIKey[:5], 401},
		{"key plus suffix", http.MethodGet, "/v1/tenants", "Bearer " + testAPIKey + "x", 401},
		{"basic scheme", http.MethodGet, "/v1/tenants", "Basic " + testAPIKey, 401},
		{"bare key", http.MethodGet, "/v1/tenants", testAPIKey, 401},
		{"empty bearer", http.MethodGet, "/v1/tenants", "Bearer ", 401},
		{"unknown v1 route", http.MethodGet, "/v1/nope", "-", 401},
		{"unknown route", http.MethodGet, "/nope", "-", 401},
		{"wrong method", http.MethodDelete, "/v1/tenants", "-", 401},
		{"create remediation", http.MethodPost, "/v1/tenants/" + tenantA + "/remediations", "-", 401},
		{"register tenant", http.MethodPost, "/v1/tenants", "Bearer wrong", 401},
		{"actions", http.MethodGet, "/v1/actions", "-", 401},
		{"tenant settings", http.MethodPatch, "/v1/tenants/" + tenantA, "-", 401},
		{"undo", http.MethodPost, "/v1/remediations/x/undo", "-", 401},
		{"retry", http.MethodPost, "/v1/remediations/x/retry", "Bearer wrong", 401},
		{"cancel", http.MethodPost, "/v1/remediations/x/cancel", "-", 401},
		{"history", http.MethodGet, "/v1/history", "-", 401},
		{"valid", http.MethodGet, "/v1/tenants", "Bearer " + testAPIKey, 200},
		{"scheme case-insensitive", http.MethodGet, "/v1/tenants", "bearer " + testAPIKey, 200},
		{"healthz public", http.MethodGet, "/healthz", "-", 200},
		{"readyz public", http.MethodGet, "/readyz", "-", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req{Method: tc.method, Path: tc.path, NoAuth: true}
			if tc.method == http.MethodPost {
				r.Body = map[string]any{"action": "disable_user", "identities": []string{"a@b.com"}, "reason": "x"}
			}
			if tc.auth != "-" {
				r.Header = map[string]string{"Authorization": tc.auth}
			}
			w := e.do(r)
			if tc.want == 401 {
				wantError(t, w, 401, remediation.EUNAUTHORIZED)
				if w.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			wantStatus(t, w, tc.want)
		})
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("unauthenticated requests created %d jobs", n)
	}
	if len(e.disp.Calls()) != 0 {
		t.Errorf("unauthenticated requests reached the dispatcher")
	}
	e.assertNoSecret()
}

func TestAuthEmptyKeyRefusesAll(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.APIKey = "" })
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		w := e.do(req{Method: http.MethodGet, Path: "/v1/tenants", NoAuth: true, Header: map[string]string{"Authorization": auth}})
		wantError(t, w, 401, remediation.EUNAUTHORIZED)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown route", http.MethodGet, "/nope", 404, remediation.ENOTFOUND},
		{"unknown v1 route", http.MethodGet, "/v1/nope", 404, remediation.ENOTFOUND},
		{"wrong method on tenants", http.MethodDelete, "/v1/tenants", 405, codeMethodNotAllowed},
		{"wrong method on actions", http.MethodPost, "/v1/actions", 405, codeMethodNotAllowed},
		{"wrong method on healthz", http.MethodPost, "/healthz", 405, codeMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(req{Method: tc.method, Path: tc.path})
			wantError(t, w, tc.status, tc.code)
			if tc.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{Method: http.MethodGet, Path: "/healthz", Header: map[string]string{"X-Request-Id": "abc-123"}})
	if got := w.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the caller's", got)
	}
	w = e.do(req{Method: http.MethodGet, Path: "/healthz", Header: map[string]string{"X-Request-Id": "bad id\x01"}})
	if got := w.Header().Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-Id = %q, want a generated id", got)
	}
	w = e.get("/v1/nope")
	ae := wantError(t, w, 404, remediation.ENOTFOUND)
	if ae.Error.RequestID == "" || ae.Error.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("error request_id %q, header %q", ae.Error.RequestID, w.Header().Get("X-Request-Id"))
	}
	if !strings.Contains(e.logs.String(), `"msg":"api: request"`) {
		t.Errorf("no debug access log: %s", e.logs.String())
	}
}

// faultyStore fails or panics in ListTenants.
type faultyStore struct {
	remediation.Store
	panics bool
}

func (f faultyStore) ListTenants(context.Context) ([]*remediation.Tenant, error) {
	if f.panics {
		panic("boom in store")
	}
	return nil, errors.New("connect to db://admin:hunter2@db failed")
}

func TestInternalErrorsAndPanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		panics bool
		logged string
	}{
		{"error", false, "hunter2"},
		{"panic", true, "boom in store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := newEnv(t)
			e := newEnv(t, func(c *Config) { c.Store = faultyStore{Store: base.store, panics: tc.panics} })
			w := e.get("/v1/tenants")
			ae := wantError(t, w, 500, remediation.EINTERNAL)
			if ae.Error.Message != "Internal error." {
				t.Errorf("message = %q", ae.Error.Message)
			}
			if strings.Contains(w.Body.String(), tc.logged) {
				t.Errorf("cause leaked to the caller: %s", w.Body.String())
			}
			if !strings.Contains(e.logs.String(), tc.logged) {
				t.Errorf("cause not logged: %s", e.logs.String())
			}
			// The server keeps serving.
			wantStatus(t, e.get("/v1/actions"), 200)
		})
	}
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pingErr    error
		closeStore bool
		status     int
		checks     map[string]string
	}{
		{"ready", nil, false, 200, map[string]string{"store": "ok", "dispatcher": "ok"}},
		{"dispatcher down", errors.New("redis: connection refused"), false, 503, map[string]string{"store": "ok", "dispatcher": "failed"}},
		{"store down", nil, true, 503, map[string]string{"store": "failed", "dispatcher": "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.disp.pingErr = tc.pingErr
			if tc.closeStore {
				e.store.Close()
			}
			w := e.do(req{Method: http.MethodGet, Path: "/healthz", NoAuth: true})
			wantStatus(t, w, 200)
			if got := decode[map[string]string](t, w); got["status"] != "ok" {
				t.Errorf("healthz = %v", got)
			}
			w = e.do(req{Method: http.MethodGet, Path: "/readyz", NoAuth: true})
			var checks map[string]any
			if tc.status == 200 {
				wantStatus(t, w, 200)
				checks = decode[map[string]any](t, w)["checks"].(map[string]any)
			} else {
				ae := wantError(t, w, tc.status, remediation.EUNAVAILABLE)
				checks, _ = ae.Error.Details["checks"].(map[string]any)
			}
			for k, v := range tc.checks {
				if checks[k] != v {
					t.Errorf("check %s = %v, want %s (body %s)", k, checks[k], v, w.Body.String())
				}
			}
			if strings.Contains(w.Body.String(), "connection refused") {
				t.Errorf("readyz shows the cause: %s", w.Body.String())
			}
		})
	}
}

func TestStartShutdown(t *testing.T) {
	e := newEnv(t)
	if e.srv.Addr() != "" {
		t.Fatal("Addr before Start")
	}
	if err := e.srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := e.srv.Addr()
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("Addr = %q", addr)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz status %d", resp.StatusCode)
	}
	if err := e.srv.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
}

func TestActions(t *testing.T) {
	e := newEnv(t)
	w := e.get("/v1/actions")
	wantStatus(t, w, 200)
	got := decode[struct {
		Actions []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Params    []struct {
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"actions"`
	}](t, w)
	if len(got.Actions) != len(remediation.Catalog()) {
		t.Fatalf("%d actions, want %d", len(got.Actions), len(remediation.Catalog()))
	}
	want := map[string]bool{"disable_user": true, "revoke_sessions": true, "remove_group_memberships": true}
	for _, a := range got.Actions {
		if a.Available != want[a.Name] {
			t.Errorf("%s available = %v, want %v", a.Name, a.Available, want[a.Name])
		}
		if a.Params == nil {
			t.Errorf("%s: parameters is null, want a list", a.Name)
		}
	}
}

func TestActionsAllAvailable(t *testing.T) {
	e := newEnv(t, allActions)
	got := decode[struct {
		Actions []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Bulk      bool   `json:"bulk"`
			Undoable  bool   `json:"undoable"`
		} `json:"actions"`
	}](t, e.get("/v1/actions"))
	if len(got.Actions) != 6 {
		t.Fatalf("%d actions", len(got.Actions))
	}
	for _, a := range got.Actions {
		if !a.Available {
			t.Errorf("%s not available", a.Name)
		}
		if single := a.Name == "remove_role_assignments" || a.Name == "remove_group_memberships"; a.Bulk == single {
			t.Errorf("%s bulk = %v", a.Name, a.Bulk)
		}
		if a.Undoable != (a.Name != "revoke_sessions") {
			t.Errorf("%s undoable = %v", a.Name, a.Undoable)
		}
	}
}
