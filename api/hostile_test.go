package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestHostileBodies(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	path := "/v1/tenants/" + tenantA + "/remediations"
	body := func(extra string) string {
		return `{"action":"disable_user","identities":["a@contoso.com"],"reason":"r"` + extra + `}`
	}
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"context nested 33 levels", body(`,"context":` + nested(32)), 400, "nested deeper than 32"},
		{"arrays nested", `{"identities":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, 400, "nested deeper"},
		{"unclosed nesting", strings.Repeat("[", 100000), 400, "nested deeper"},
		{"huge reason", body(`,"context":{"x":"` + strings.Repeat("x", 300<<10) + `"}`), 400, "longer than"},
		{"huge string with escapes", `{"reason":"` + strings.Repeat(`\"`, 200<<10) + `"}`, 400, "longer than"},
		{"unterminated huge string", `{"reason":"` + strings.Repeat("x", 300<<10), 400, "longer than"},
		{"huge identity", `{"action":"disable_user","identities":["` + strings.Repeat("a", 200<<10) + `@b.com"],"reason":"r"}`, 400, "neither"},
		{"huge number", body(`,"dry_run":1e999999`), 400, ""},
		{"binary", "\x00\x01\x02\xff", 400, ""},
		{"many keys", "{" + strings.Repeat(`"reason":"r",`, 1000) + `"x":1}`, 400, "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(req{Method: http.MethodPost, Path: path, Body: tc.body})
			ae := wantError(t, w, tc.status, remediation.EINVALID)
			if !strings.Contains(ae.Error.Message, tc.msg) {
				t.Errorf("message %q, want %q", ae.Error.Message, tc.msg)
			}
		})
	}
	// 32 levels in all (the body and 31 in context) pass the depth check.
	w := e.do(req{Method: http.MethodPost, Path: path, Body: body(`,"context":` + nested(31))})
	wantStatus(t, w, http.StatusAccepted)
	// Limits apply to every JSON body, e.g. tenant settings.
	w = e.do(req{Method: http.MethodPatch, Path: "/v1/tenants/" + tenantA, Body: `{"mfa_targeting":` + nested(40) + `}`})
	wantError(t, w, 400, remediation.EINVALID)
}

// TestHeaderLimits checks the server's header limit over a real connection.
func TestHeaderLimits(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Shutdown(t.Context()) })
	if e.srv.httpSrv.MaxHeaderBytes != maxHeaderBytes || e.srv.httpSrv.ReadHeaderTimeout <= 0 {
		t.Errorf("MaxHeaderBytes %d, ReadHeaderTimeout %v", e.srv.httpSrv.MaxHeaderBytes, e.srv.httpSrv.ReadHeaderTimeout)
	}
	conn, err := net.DialTimeout("tcp", e.srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 200<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// TestScopedNotFoundLeaksNothing checks that a key of tenant B gets the
// same answer for tenant A's things as for things that do not exist.
func TestScopedNotFoundLeaksNothing(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	j := e.submit(tenantA, "disable_user", "a@contoso.com")
	hook := e.addWebhook(tenantA)
	keyB := e.key(remediation.RoleAdmin, tenantB)
	missingJob := "01900000-0000-7000-8000-000000000000"
	for _, pair := range [][2]req{
		{{Method: "GET", Path: "/v1/tenants/" + tenantA}, {Method: "GET", Path: "/v1/tenants/" + tenantC}},
		{{Method: "DELETE", Path: "/v1/tenants/" + tenantA}, {Method: "DELETE", Path: "/v1/tenants/" + tenantC}},
		{{Method: "GET", Path: "/v1/remediations/" + j.ID}, {Method: "GET", Path: "/v1/remediations/" + missingJob}},
		{{Method: "POST", Path: "/v1/remediations/" + j.ID + "/cancel"}, {Method: "POST", Path: "/v1/remediations/" + missingJob + "/cancel"}},
		{{Method: "GET", Path: "/v1/remediations/" + j.ID + "/items/a@contoso.com"}, {Method: "GET", Path: "/v1/remediations/" + missingJob + "/items/a@contoso.com"}},
		{{Method: "GET", Path: "/v1/tenants/" + tenantA + "/webhooks/" + hook + "/deliveries"}, {Method: "GET", Path: "/v1/tenants/" + tenantC + "/webhooks/" + hook + "/deliveries"}},
	} {
		a, b := e.as(keyB, pair[0]), e.as(keyB, pair[1])
		ea, eb := wantError(t, a, 404, remediation.ENOTFOUND), wantError(t, b, 404, remediation.ENOTFOUND)
		ma := strings.NewReplacer(tenantA, "X", j.ID, "X").Replace(ea.Error.Message)
		mb := strings.NewReplacer(tenantC, "X", missingJob, "X").Replace(eb.Error.Message)
		if ma != mb || fmt.Sprint(ea.Error.Details) != fmt.Sprint(eb.Error.Details) {
			t.Errorf("%s %s: %q %v, but for a missing one %q %v", pair[0].Method, pair[0].Path, ma, ea.Error.Details, mb, eb.Error.Details)
		}
	}
	if st := e.storedJob(j.ID); st.CancelRequested || st.Status != remediation.JobQueued {
		t.Errorf("job of A changed by a key of B: %+v", st)
	}
}

// TestWithoutAccessStore: a store without keys, audit and webhooks leaves
// the bootstrap key working and those routes answering 501.
func TestWithoutAccessStore(t *testing.T) {
	base := newEnv(t)
	secret := base.key(remediation.RoleAdmin)
	e := newEnv(t, func(c *Config) { c.Store = struct{ remediation.Store }{base.store} })
	if e.srv.access != nil {
		t.Fatal("access store found")
	}
	e.addTenant(tenantA)
	wantError(t, e.as(secret, req{Method: "GET", Path: "/v1/actions"}), 401, remediation.EUNAUTHORIZED)
	for _, r := range []req{
		{Method: "GET", Path: "/v1/keys"},
		{Method: "POST", Path: "/v1/keys", Body: map[string]any{"name": "k", "role": "viewer"}},
		{Method: "GET", Path: "/v1/audit"},
		{Method: "GET", Path: "/v1/tenants/" + tenantA + "/webhooks"},
		{Method: "DELETE", Path: "/v1/tenants/" + tenantA},
	} {
		wantError(t, e.do(r), 501, remediation.ENOTIMPLEMENTED)
	}
	if !strings.Contains(e.logs.String(), "audit entry not written") {
		t.Error("lost audit entry not logged")
	}
}
