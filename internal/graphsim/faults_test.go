package graphsim

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestFaultTimesAndRetryAfter(t *testing.T) {
	b := setup(t)
	id := b.srv.InjectFault(FaultSpec{TenantID: tenantA, Operation: "PATCH /users/{id}", UserID: upnAlice,
		Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 2})
	patch := []byte(`{"accountEnabled":false}`)

	// Other users, other operations and other tenants are not affected.
	if r := b.do(t, http.MethodPatch, userPath(userGuest), b.tokA, patch); r.status != 204 {
		t.Errorf("other user: %d %s", r.status, r.body)
	}
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	for i := range 2 {
		// The fault names the UPN; the request uses the object id.
		r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, patch)
		if r.status != 429 {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
		if code, _ := r.graphError(t); code != "TooManyRequests" {
			t.Errorf("code %s", code)
		}
		if r.header.Get("Retry-After") != "2" || r.header.Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
			r.header.Get("x-ms-throttle-scope") == "" || r.header.Get("request-id") == "" {
			t.Errorf("headers %v", r.header)
		}
		if u, _ := b.ta.User(userAlice); !u.AccountEnabled {
			t.Fatalf("throttled PATCH was applied")
		}
	}
	if r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, patch); r.status != 204 {
		t.Errorf("third attempt: %d %s", r.status, r.body)
	}
	if got := b.srv.FaultHits(id); got != 2 {
		t.Errorf("FaultHits = %d, want 2", got)
	}
}

func TestFaultWithoutRetryAfter(t *testing.T) {
	b := setup(t)
	b.srv.InjectFault(FaultSpec{Method: "GET", Status: 429, Code: "TooManyRequests", Message: "Slow down."})
	r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	if code, msg := r.graphError(t); r.status != 429 || code != "TooManyRequests" || msg != "Slow down." {
		t.Errorf("%d %s", r.status, r.body)
	}
	if _, ok := r.header["Retry-After"]; ok || r.header.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" {
		t.Errorf("headers %v", r.header)
	}
	// Unlimited (Times 0) until cleared; it never touches the token endpoint.
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 429 {
		t.Errorf("second GET: %d", r.status)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientA}, "client_secret": {secretA},
		"scope": {"https://graph.microsoft.com/.default"}}
	if r := b.postForm(t, "/"+tenantA+"/oauth2/v2.0/token", form); r.status != 200 {
		t.Errorf("token endpoint hit by a Graph fault: %d %s", r.status, r.body)
	}
	b.srv.ClearFaults()
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestFaultApplyThenFail(t *testing.T) {
	b := setup(t)
	b.srv.InjectFault(FaultSpec{Operation: "PATCH /users/{id}", Status: 504, ApplyThenFail: true, Times: 1})
	r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, gz(t, `{"accountEnabled":false}`), "Content-Encoding: gzip")
	if r.status != 504 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userAlice); u.AccountEnabled || u.PatchCount != 1 {
		t.Errorf("write not applied before the 504: %+v", u)
	}
	// The same for revoke.
	b.srv.InjectFault(FaultSpec{Operation: "/v1.0/users/{id}/revokeSignInSessions", Status: 502, ApplyThenFail: true})
	r = b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", b.tokA, nil)
	if u, _ := b.ta.User(userAlice); r.status != 502 || u.RevokedCount != 1 {
		t.Errorf("revoke: %d, state %+v", r.status, u)
	}
}

func TestFaultLatencyAndTenant(t *testing.T) {
	b := setup(t)
	b.srv.InjectFault(FaultSpec{TenantID: tenantB, Status: 503})
	b.srv.InjectFault(FaultSpec{TenantID: tenantA, Operation: "GET /users/{id}", Latency: 80 * time.Millisecond})
	start := time.Now()
	r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	if r.status != 200 || time.Since(start) < 80*time.Millisecond {
		t.Errorf("latency fault: %d after %v", r.status, time.Since(start))
	}
	r = b.do(t, http.MethodGet, userPath(userAlice), b.tokB, nil)
	if code, _ := r.graphError(t); r.status != 503 || code != "serviceNotAvailable" {
		t.Errorf("tenant B: %d %s", r.status, r.body)
	}
}

func TestLoginFault(t *testing.T) {
	b := setup(t)
	b.srv.InjectFault(FaultSpec{Operation: "POST /{tenant}/oauth2/v2.0/token", Status: 503, RetryAfter: time.Second, Times: 1})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientA}, "client_secret": {secretA},
		"scope": {"https://graph.microsoft.com/.default"}}
	r := b.postForm(t, "/"+tenantA+"/oauth2/v2.0/token", form)
	if r.status != 503 || r.json(t)["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") != "1" {
		t.Errorf("first token request: %d %v %s", r.status, r.header, r.body)
	}
	if r := b.postForm(t, "/"+tenantA+"/oauth2/v2.0/token", form); r.status != 200 {
		t.Errorf("second token request: %d %s", r.status, r.body)
	}
	// Graph is not affected by a login fault.
	b.srv.InjectFault(FaultSpec{Operation: "POST /{tenant}/oauth2/v2.0/token", Status: 500})
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("Graph hit by a login fault: %d", r.status)
	}
}
