package graphsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBearerEnforcement(t *testing.T) {
	b := setup(t)
	expired, err := b.srv.IssueToken(tenantA, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(b.tokA, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	for _, tc := range []struct {
		name, authz, wantMsg string
	}{
		{"missing", "", msgAccessTokenEmpty},
		{"empty bearer", "Bearer ", msgAccessTokenEmpty},
		{"basic", "Basic dXNlcjpwYXNz", msgAccessTokenEmpty},
		{"garbage", "Bearer not-a-jwt", msgAccessTokenInvalid},
		{"tampered", "Bearer " + tampered, msgAccessTokenInvalid},
		{"expired", "Bearer " + expired, msgAccessTokenExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.authz != "" {
				hdr = append(hdr, "Authorization: "+tc.authz)
			}
			r := b.do(t, http.MethodGet, userPath(userAlice), "", nil, hdr...)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if code, msg := r.graphError(t); code != "InvalidAuthenticationToken" || msg != tc.wantMsg {
				t.Errorf("error %s %q, want InvalidAuthenticationToken %q", code, msg, tc.wantMsg)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}

	// The token's tenant selects the directory: tenant B does not see A's users.
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokB, nil); r.status != http.StatusNotFound {
		t.Errorf("cross-tenant read: %d %s", r.status, r.body)
	}
	// A token of a replaced app registration is no longer valid.
	b.srv.AddTenant(TenantSpec{ID: tenantA, ClientID: "bbbbbbbb-0000-4000-8000-00000000000b"})
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != http.StatusUnauthorized {
		t.Errorf("token of replaced app: %d %s", r.status, r.body)
	}
}

func TestResponseHeaders(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil, "client-request-id: my-correlation-1")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	rid := r.header.Get("request-id")
	if len(rid) != 36 || r.header.Get("client-request-id") != "my-correlation-1" {
		t.Errorf("request-id %q client-request-id %q", rid, r.header.Get("client-request-id"))
	}
	for _, h := range []string{"x-ms-ags-diagnostic", "x-ms-resource-unit", "Date"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}

	// Without client-request-id, Graph sets it to the request id; errors
	// carry both in innerError.
	r = b.do(t, http.MethodGet, userPath("no-such-user@contoso.onmicrosoft.com"), b.tokA, nil)
	rid = r.header.Get("request-id")
	if rid == "" || r.header.Get("client-request-id") != rid {
		t.Errorf("request-id %q client-request-id %q", rid, r.header.Get("client-request-id"))
	}
	inner, _ := r.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["request-id"] != rid || inner["client-request-id"] != rid || inner["date"] == "" {
		t.Errorf("innerError = %v", inner)
	}
}

func TestUnknownRoutes(t *testing.T) {
	b := setup(t)
	for _, tc := range []struct {
		method, path string
		wantStatus   int
		wantCode     string
		wantMsg      string
	}{
		{"GET", "/v1.0/widgets", 400, "BadRequest", "Resource not found for the segment 'widgets'."},
		{"GET", "/v1.0/users/" + userAlice + "/gadgets", 400, "BadRequest", "Resource not found for the segment 'gadgets'."},
		{"DELETE", "/v1.0/users/" + userAlice, 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."},
		{"GET", "/v1.0/users/" + userAlice + "/revokeSignInSessions", 405, "Request_BadRequest", ""},
		{"GET", "/v1.0/users", 501, "NotImplemented", ""},
		{"GET", "/beta/users/" + userAlice, 400, "BadRequest", "Invalid version: beta"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := b.do(t, tc.method, tc.path, b.tokA, nil)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			code, msg := r.graphError(t)
			if code != tc.wantCode || (tc.wantMsg != "" && msg != tc.wantMsg) {
				t.Errorf("error %s %q, want %s %q", code, msg, tc.wantCode, tc.wantMsg)
			}
		})
	}
	if r := b.do(t, http.MethodGet, "/favicon.ico", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /favicon.ico: %d", r.status)
	}
}
