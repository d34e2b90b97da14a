package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

const (
	tenantC  = "44444444-4444-4444-4444-444444444444" // never registered
	hookHost = "hooks.example.com"
	publicIP = "93.184.215.14"
)

// fakeVerifier answers Verify with a fixed result and records the tenants.
type fakeVerifier struct {
	mu      sync.Mutex
	tenants []string
	result  *remediation.Verification
	err     error
}

func (v *fakeVerifier) Verify(_ context.Context, t *remediation.Tenant) (*remediation.Verification, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tenants = append(v.tenants, t.ID)
	if v.err != nil {
		return nil, v.err
	}
	if v.result != nil {
		r := *v.result
		return &r, nil
	}
	return &remediation.Verification{TokenAcquired: true, ReadOK: true, Granted: []string{"User.Read.All"}}, nil
}

// fakeLookup resolves the test host names without DNS.
func fakeLookup(_ context.Context, host string) ([]netip.Addr, error) {
	m := map[string][]string{
		hookHost:                {publicIP},
		"hooks2.example.com":    {publicIP, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"internal.example.com":  {"10.1.2.3"},
		"mixed.example.com":     {publicIP, "127.0.0.1"},
		"localhost":             {"127.0.0.1", "::1"},
		"ula.example.com":       {"fd12:3456::1"},
		"metadata.example.com":  {"169.254.169.254"},
		"cgnat.example.com":     {"100.64.1.1"},
		"mapped.example.com":    {"::ffff:192.168.1.1"},
		"unspecified.example":   {"0.0.0.0"},
		"multicast.example.com": {"239.1.1.1"},
	}
	ips, ok := m[strings.TrimSuffix(strings.ToLower(host), ".")]
	if !ok {
		return nil, errors.New("no such host")
	}
	out := make([]netip.Addr, len(ips))
	for i, s := range ips {
		out[i] = netip.MustParseAddr(s)
	}
	return out, nil
}

// accessOpts configures every action, a fake verifier and the fake resolver.
func accessOpts(v *fakeVerifier) func(*Config) {
	return func(c *Config) {
		allActions(c)
		c.Verifier = v
		c.LookupIP = fakeLookup
	}
}

// key creates an API key in the store and returns its secret.
func (e *env) key(role remediation.Role, tenants ...string) string {
	e.t.Helper()
	var ts []string
	if len(tenants) > 0 {
		ts = tenants
	}
	_, secret, err := CreateKey(context.Background(), e.store, "key-"+string(role), role, ts, "test")
	if err != nil {
		e.t.Fatalf("create key: %v", err)
	}
	return secret
}

// as sends r with the API key secret.
func (e *env) as(secret string, r req) *httptest.ResponseRecorder {
	e.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + secret}
	for k, v := range r.Header {
		h[k] = v
	}
	r.Header = h
	return e.do(r)
}

// addWebhook stores a webhook of tenant directly and returns its id.
func (e *env) addWebhook(tenant string) string {
	e.t.Helper()
	w := &remediation.Webhook{ID: uuid.NewString(), TenantID: tenant, URL: "https://" + hookHost + "/in",
		Events: []string{remediation.EventJobFinished}, SecretCiphertext: []byte{1}, SecretKeyID: "test-key-1"}
	if err := e.store.CreateWebhook(context.Background(), w); err != nil {
		e.t.Fatalf("create webhook: %v", err)
	}
	return w.ID
}

// auditEntries reads every audit entry, newest first.
func (e *env) auditEntries() []*remediation.AuditEntry {
	e.t.Helper()
	entries, _, err := e.store.ListAudit(context.Background(), remediation.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatalf("list audit: %v", err)
	}
	return entries
}

// cancelAll cancels every job of the store (so that a tenant can be deleted).
func (e *env) cancelAll() {
	e.t.Helper()
	jobs, _, err := e.store.ListJobs(context.Background(), remediation.JobFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, j := range jobs {
		if _, err := e.store.CancelJob(context.Background(), j.ID); err != nil {
			e.t.Fatal(err)
		}
	}
}

// t0 is a background context for test setup.
func t0(*env) context.Context { return context.Background() }
