package graphsim

import (
	"net/http"
	"testing"
)

func TestRequestLog(t *testing.T) {
	b := setup(t)
	b.do(t, http.MethodGet, userPath(userAlice)+"?$select=id", b.tokA, nil)
	r := b.do(t, http.MethodPatch, userPath(upnAlice), b.tokA, gz(t, `{"accountEnabled":false}`), "Content-Encoding: gzip")
	b.do(t, http.MethodPost, userPath(userGuest)+"/revokeSignInSessions", b.tokA, nil)
	b.do(t, http.MethodGet, userPath(userAlice), "", nil) // 401

	reqs := b.srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests logged, want 4", len(reqs))
	}
	get, patch, revoke, unauth := reqs[0], reqs[1], reqs[2], reqs[3]
	if get.Operation != "GET /users/{id}" || get.Query != "$select=id" || get.Status != 200 || get.TenantID != tenantA ||
		get.Endpoint != EndpointGraph || get.Method != http.MethodGet {
		t.Errorf("GET logged as %+v", get)
	}
	if patch.Operation != "PATCH /users/{id}" || string(patch.Body) != `{"accountEnabled":false}` ||
		patch.ContentEncoding != "gzip" || patch.Status != 204 || patch.RequestID != r.header.Get("request-id") ||
		patch.Path != "/v1.0/users/"+upnAlice {
		t.Errorf("PATCH logged as %+v", patch)
	}
	if revoke.Operation != "POST /users/{id}/revokeSignInSessions" || revoke.Status != 200 {
		t.Errorf("revoke logged as %+v", revoke)
	}
	if unauth.Status != 401 || unauth.TenantID != "" || unauth.Operation != "" {
		t.Errorf("unauthenticated request logged as %+v", unauth)
	}
	writes := b.srv.Writes()
	if len(writes) != 2 || writes[0].Method != http.MethodPatch || writes[1].Method != http.MethodPost {
		t.Errorf("Writes() = %+v", writes)
	}
	b.srv.ResetLog()
	if n := len(b.srv.Requests()); n != 0 {
		t.Errorf("%d requests after ResetLog", n)
	}
}

func TestRequestLogBounded(t *testing.T) {
	b := setup(t, func(o *Options) { o.MaxLoggedRequests = 10 })
	for range 25 {
		b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	}
	if n := len(b.srv.Requests()); n == 0 || n > 10 {
		t.Errorf("%d requests logged, want 1..10", n)
	}
}
