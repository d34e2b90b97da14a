package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestRateLimit(t *testing.T) {
	lim := NewMemoryRateLimiter(0.5, 2) // one token every 2 s
	e := newEnv(t, func(c *Config) { c.RateLimiter = lim })
	k1, k2 := e.key(remediation.RoleViewer), e.key(remediation.RoleViewer)
	get := func(secret string) *httptest.ResponseRecorder {
		return e.as(secret, req{Method: http.MethodGet, Path: "/v1/actions"})
	}
	wantStatus(t, get(k1), 200)
	wantStatus(t, get(k1), 200)
	w := get(k1)
	ae := wantError(t, w, http.StatusTooManyRequests, remediation.ERATELIMITED)
	if ra := w.Header().Get("Retry-After"); ra != "2" && ra != "1" {
		t.Errorf("Retry-After = %q, want 1 or 2 (whole seconds, rounded up)", ra)
	}
	if ae.Error.Details["retry_after_seconds"] == nil {
		t.Errorf("details = %v", ae.Error.Details)
	}
	// Other keys have their own bucket; probes are never limited.
	wantStatus(t, get(k2), 200)
	wantStatus(t, get(testAPIKey), 200)
	for range 5 {
		wantStatus(t, e.do(req{Method: http.MethodGet, Path: "/healthz", NoAuth: true}), 200)
	}
	// Unauthenticated requests are answered 401 before the limiter.
	wantError(t, e.do(req{Method: http.MethodGet, Path: "/v1/actions", NoAuth: true}), 401, remediation.EUNAUTHORIZED)
}

// stubLimiter answers every Allow with fixed values and records keys.
type stubLimiter struct {
	mu      sync.Mutex
	keys    []string
	allowed bool
	after   time.Duration
	err     error
}

func (l *stubLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	return l.allowed, l.after, l.err
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{1500 * time.Millisecond, "2"}, {time.Millisecond, "1"}, {0, "1"}, {61 * time.Second, "61"}} {
		lim := &stubLimiter{after: tc.after}
		e := newEnv(t, func(c *Config) { c.RateLimiter = lim })
		w := e.get("/v1/actions")
		wantError(t, w, 429, remediation.ERATELIMITED)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("after %v: Retry-After = %q, want %q", tc.after, got, tc.want)
		}
		if len(lim.keys) != 1 || lim.keys[0] != "bootstrap" {
			t.Errorf("limiter keys = %v", lim.keys)
		}
	}
}

func TestRateLimiterErrorFailsOpen(t *testing.T) {
	lim := &stubLimiter{err: errors.New("redis: connection refused")}
	e := newEnv(t, func(c *Config) { c.RateLimiter = lim })
	secret := e.key(remediation.RoleViewer)
	wantStatus(t, e.as(secret, req{Method: http.MethodGet, Path: "/v1/actions"}), 200)
	logs := e.logs.String()
	if !strings.Contains(logs, "rate limiter failed") || !strings.Contains(logs, `"level":"WARN"`) {
		t.Errorf("no warning logged: %s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Error("key secret in the logs")
	}
	if len(lim.keys) != 1 || lim.keys[0] == "" || strings.Contains(lim.keys[0], "rk_") {
		t.Errorf("limiter got key %v, want the key id", lim.keys)
	}
}

func TestMemoryRateLimiterRefills(t *testing.T) {
	lim := NewMemoryRateLimiter(1000, 1)
	ctx := context.Background()
	if ok, _, _ := lim.Allow(ctx, "k"); !ok {
		t.Fatal("first request refused")
	}
	ok, after, _ := lim.Allow(ctx, "k")
	if ok || after <= 0 || after > 2*time.Millisecond {
		t.Fatalf("second request: ok %v after %v", ok, after)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if ok, _, _ := lim.Allow(ctx, "k"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bucket never refilled")
		}
		time.Sleep(time.Millisecond)
	}
}
