package graphsim

import (
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual quota clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// useFakeClock puts the bundle's server on a manual clock that starts now;
// the tenants' write timelines restart at that instant.
func useFakeClock(b *bundle) *fakeClock {
	fc := &fakeClock{now: time.Now()}
	b.srv.setClock(fc.Now)
	for _, t := range []*Tenant{b.ta, b.tb} {
		t.q.mu.Lock()
		t.q.start = b.srv.since()
		t.q.mu.Unlock()
	}
	return fc
}

// noCALimit turns the Conditional Access rate limit off.
func noCALimit(o *Options) { o.CARequestsPerSecond = -1 }

// decode unmarshals a response body into v.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// values returns the "value" array of a collection answer.
func (r resp) values(t testing.TB) []map[string]any {
	t.Helper()
	var c struct {
		Value []map[string]any `json:"value"`
	}
	r.decode(t, &c)
	return c.Value
}

// wantError fails unless r is an error answer with status and code (and,
// when msg is not empty, that message).
func (r resp) wantError(t testing.TB, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	c, m := r.graphError(t)
	if c != code || (msg != "" && m != msg) {
		t.Fatalf("error %s %q, want %s %q", c, m, code, msg)
	}
}

func filterQuery(f string) string { return "?%24filter=" + url.QueryEscape(f) }

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func msec(n int) time.Duration { return time.Duration(n) * time.Millisecond }
