package graphsim

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fixed ids of the test directory.
const (
	tenantA    = "11111111-1111-4111-8111-111111111111"
	tenantB    = "22222222-2222-4222-8222-222222222222"
	clientA    = "aaaaaaaa-0000-4000-8000-00000000000a"
	secretA    = "secret-A~value"
	userAlice  = "a11ce000-0000-4000-8000-000000000001" // member, enabled
	userGA     = "a11ce000-0000-4000-8000-000000000002" // Global Administrator
	userSynced = "a11ce000-0000-4000-8000-000000000003" // on-premises synced
	userGuest  = "a11ce000-0000-4000-8000-000000000004" // guest
	upnAlice   = "alice@contoso.onmicrosoft.com"
	upnGuest   = "gary_fabrikam.com#EXT#@contoso.onmicrosoft.com"
)

type bundle struct {
	srv    *Server
	ta, tb *Tenant
	client *http.Client
	tokA   string
	tokB   string
}

// setup starts a server with two tenants; tenant A holds four users.
func setup(t testing.TB, opts ...func(*Options)) *bundle {
	t.Helper()
	var o Options
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// Beyond the product's permissions, the test app may change any user
	// property.
	perms := append(slices.Clone(ProductPermissions), PermUserReadWriteAll)
	ta := s.AddTenant(TenantSpec{ID: tenantA, ClientID: clientA, ClientSecret: secretA, Domain: "contoso.onmicrosoft.com",
		Permissions: perms})
	tb := s.AddTenant(TenantSpec{ID: tenantB, Permissions: perms})
	ta.AddUser(UserSpec{ID: userAlice, UserPrincipalName: upnAlice, DisplayName: "Alice Smith", GivenName: "Alice",
		Surname: "Smith", JobTitle: "Analyst", Mail: upnAlice, BusinessPhones: []string{"+1 425 555 0100"}, AccountEnabled: true})
	ta.AddUser(UserSpec{ID: userGA, UserPrincipalName: "root@contoso.onmicrosoft.com", AccountEnabled: true,
		Roles: []string{RoleGlobalAdministrator}})
	ta.AddUser(UserSpec{ID: userSynced, UserPrincipalName: "sync@contoso.onmicrosoft.com", AccountEnabled: true,
		OnPremisesSyncEnabled: true})
	ta.AddUser(UserSpec{ID: userGuest, UserPrincipalName: upnGuest, UserType: "Guest", AccountEnabled: true})
	b := &bundle{srv: s, ta: ta, tb: tb, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CAPool()}},
	}}
	if b.tokA, err = s.IssueToken(tenantA, time.Hour); err != nil {
		t.Fatal(err)
	}
	if b.tokB, err = s.IssueToken(tenantB, time.Hour); err != nil {
		t.Fatal(err)
	}
	return b
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map.
func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// graphError returns the error code and message of a Graph error body.
func (r resp) graphError(t testing.TB) (code, message string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	c, _ := e["code"].(string)
	m, _ := e["message"].(string)
	return c, m
}

// do sends a request; headers are "Name: value" strings.
func (b *bundle) do(t testing.TB, method, path, token string, body []byte, headers ...string) resp {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = b.srv.URL() + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, data}
}

// postForm posts a token request.
func (b *bundle) postForm(t testing.TB, path string, form url.Values) resp {
	t.Helper()
	return b.do(t, http.MethodPost, path, "", []byte(form.Encode()), "Content-Type: application/x-www-form-urlencoded")
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func userPath(id string) string { return "/v1.0/users/" + url.PathEscape(id) }
