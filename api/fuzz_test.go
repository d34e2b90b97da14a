package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// serveRaw sends r (with the bootstrap key) and checks that the answer is
// never a 500 and that an error answer has the error body.
func serveRaw(tb testing.TB, s *Server, r *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	r.Header.Set("Authorization", "Bearer "+testAPIKey)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code >= 500 && w.Code != http.StatusNotImplemented {
		tb.Fatalf("%s %s: status %d: %s", r.Method, r.URL, w.Code, w.Body.String())
	}
	if w.Code >= 400 {
		var body apiError
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
			tb.Fatalf("%s %s: status %d with body %q", r.Method, r.URL, w.Code, w.Body.String())
		}
	}
	return w
}

// FuzzRemediationRequest posts arbitrary bodies to POST
// /v1/tenants/{id}/remediations: no input may panic or yield a 500.
func FuzzRemediationRequest(f *testing.F) {
	for _, seed := range []string{
		`{"action":"disable_user","identities":["alice@contoso.com"],"reason":"r"}`,
		`{"action":"disable_user","identities":["AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"," bob@contoso.com "],"reason":"r","dry_run":true}`,
		`{"action":"remove_group_memberships","identities":["a@b.com"],"reason":"r","parameters":{"group_ids":["11111111-1111-1111-1111-111111111111"]}}`,
		`{"action":"revoke_sessions","identities":["a@b.com"],"reason":"r","context":{"ticket":"INC-1","n":1e400}}`,
		`{"action":"disable_user","identities":[null],"reason":"r"}`,
		`{"action":"disable_user","identities":"a@b.com","reason":"r"}`,
		`{"action":"disable_user","action":"revoke_sessions"}`,
		`{"context":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`,
		`[` + strings.Repeat(`[`, 100),
		`{"reason":"\ud800"}`,
		`{"identities":["\u0000@b.com"]}`,
		`{} {}`,
		`nul`,
		"",
		"\xff\xfe",
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{"action":"disable_user"}`), "text/plain")
	f.Add([]byte(`{}`), "application/json; charset=\"")
	s, st, _, _ := newServer(f, allActions)
	if err := st.CreateTenant(context.Background(), &remediation.Tenant{ID: tenantA, DisplayName: "A", ClientID: testClientID,
		Cloud: remediation.CloudPublic, SecretCiphertext: []byte{1}, SecretKeyID: "test-key-1"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/tenants/"+tenantA+"/remediations", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := serveRaw(t, s, r)
		switch w.Code {
		case 200, 202, 400, 404, 409, 413, 422, 501:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}

// FuzzQueryParams sends arbitrary query strings to the list endpoints and
// checks the parsers directly: only 200 or 400, never a panic.
func FuzzQueryParams(f *testing.F) {
	for _, seed := range []string{
		"", "limit=1", "limit=1000", "limit=0", "limit=-1", "limit=1e3", "limit=99999999999999999999",
		"cursor=abc", "cursor=%00", "cursor=" + strings.Repeat("c", 2000), "since=2030-01-02T03:04:05Z",
		"since=2030-01-02T03:04:05.123456789+02:00&until=2030-01-01T00:00:00Z", "since=yesterday",
		"since=0000-01-01T00:00:00Z", "until=9999-12-31T23:59:59Z", "limit=1&limit=2", "%zz", "a=1;b=2",
		"tenant_id=" + tenantA, "tenant_id=x", "identity=a@b.com", "status=failed", "status=pending",
		"action=disable_user", "action=%00", "key_id=k", "nope=1",
	} {
		f.Add(seed)
	}
	s, _, _, _ := newServer(f)
	e := echo.New()
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/v1/history", "/v1/remediations", "/v1/audit"} {
			r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: raw}, Header: http.Header{},
				Host: "example.com", RemoteAddr: "192.0.2.1:1234"}
			if w := serveRaw(t, s, r); w.Code != 200 && w.Code != 400 {
				t.Fatalf("%s?%q: status %d", path, raw, w.Code)
			}
		}
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: raw}, Header: http.Header{}}
		q, err := parseQuery(e.NewContext(r, httptest.NewRecorder()), "limit", "cursor", "since", "until")
		if err != nil {
			wantInvalid(t, err)
			return
		}
		if n, err := q.limit(); err != nil {
			wantInvalid(t, err)
		} else if n < 1 || n > maxLimit {
			t.Fatalf("limit %d", n)
		}
		if c, err := q.cursor(); err != nil {
			wantInvalid(t, err)
		} else if len(c) > maxCursor {
			t.Fatalf("cursor of %d bytes", len(c))
		}
		since, until, err := q.timeRange()
		if err != nil {
			wantInvalid(t, err)
		} else if !since.IsZero() && !until.IsZero() && until.Before(since) {
			t.Fatalf("until %v before since %v", until, since)
		}
	})
}

func wantInvalid(t *testing.T, err error) {
	t.Helper()
	if remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("error %v, want EINVALID", err)
	}
}
