package worker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestClassify(t *testing.T) {
	ge := func(status int, code, msg string) *remediation.GraphError {
		return &remediation.GraphError{Operation: "op", Status: status, Code: code, Message: msg, RequestID: "req-1"}
	}
	onPrem := ge(400, "Request_BadRequest", "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.")
	tests := []struct {
		name     string
		err      error
		wantKind kind
		wantCode string
		wantMsg  string
	}{
		{"not found", ge(404, "Request_ResourceNotFound", "Resource 'x' does not exist"), kindPermanent, "Request_ResourceNotFound", msgNotFound},
		{"forbidden", ge(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."), kindPermanent, "Authorization_RequestDenied", msgForbidden},
		{"on-premises tagged", fmt.Errorf("%w: %w", remediation.ErrManagedOnPremises, ge(400, "Request_BadRequest", "anything")), kindPermanent, "Request_BadRequest", msgOnPremises},
		{"on-premises by message", onPrem, kindPermanent, "Request_BadRequest", msgOnPremises},
		{"other 400", ge(400, "Request_BadRequest", "Invalid value"), kindPermanent, "Request_BadRequest", "Invalid value"},
		{"401 without code", ge(401, "", "bad token"), kindPermanent, "http_401", "bad token"},
		{"throttled", ge(429, "TooManyRequests", "slow down"), kindRetryable, "TooManyRequests", "slow down"},
		{"500", ge(500, "generalException", "oops"), kindRetryable, "generalException", "oops"},
		{"502", ge(502, "", "bad gateway"), kindRetryable, "http_502", "bad gateway"},
		{"503", ge(503, "serviceNotAvailable", "down"), kindRetryable, "serviceNotAvailable", "down"},
		{"504", ge(504, "gatewayTimeout", "slow"), kindRetryable, "gatewayTimeout", "slow"},
		{"network", ge(0, "network_error", "connection refused"), kindRetryable, "network_error", "connection refused"},
		{"timeout", ge(0, "timeout", "deadline"), kindRetryable, "timeout", "deadline"},
		{"wrapped graph error", fmt.Errorf("ctx: %w", ge(404, "Request_ResourceNotFound", "")), kindPermanent, "Request_ResourceNotFound", msgNotFound},
		{"domain refusal", remediation.Errorf(remediation.EUNPROCESSABLE, "protected identity"), kindPermanent, remediation.EUNPROCESSABLE, "protected identity"},
		{"panic", &panicError{action: remediation.ActionDisableUser, value: "boom"}, kindPermanent, remediation.EINTERNAL, "internal error while running disable_user"},
		{"domain internal", remediation.Errorf(remediation.EINTERNAL, "db"), kindInfra, "", ""},
		{"store error", errors.New("database is locked"), kindInfra, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := classify(tc.err)
			if v.kind != tc.wantKind {
				t.Fatalf("kind = %v, want %v", v.kind, tc.wantKind)
			}
			if tc.wantKind == kindInfra {
				if v.itemErr != nil {
					t.Errorf("infra error carries an item error %+v", v.itemErr)
				}
				return
			}
			if v.itemErr.Code != tc.wantCode || v.itemErr.Message != tc.wantMsg {
				t.Errorf("item error = %+v, want {%s %s}", v.itemErr, tc.wantCode, tc.wantMsg)
			}
		})
	}
	if v := classify(&remediation.GraphError{Status: 429, RetryAfter: 3 * time.Second, RequestID: "r"}); v.retryAfter != 3*time.Second || v.requestID != "r" {
		t.Errorf("429 verdict = %+v, want Retry-After 3s and request id r", v)
	}
}

func TestIsFailureCountsOnlyGraphRetries(t *testing.T) {
	if !isFailure(&retryError{err: errors.New("x"), delay: time.Second}) {
		t.Error("a Graph retry must count against MaxRetry")
	}
	for _, err := range []error{errors.New("store down"), asynq.ErrLeaseExpired, fmt.Errorf("x: %w", asynq.SkipRetry)} {
		if isFailure(err) {
			t.Errorf("isFailure(%v) = true, want false", err)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: time.Second}
	now := time.Date(2026, 1, 2, 3, 4, 5, 300_000_000, time.UTC)
	for n := range 8 {
		ceiling := min(b.base<<n, b.max)
		for range 200 {
			if d := b.retryDelay(now, n, 0); d < 0 || d > ceiling {
				t.Fatalf("retryDelay(n=%d) = %s, want in [0, %s]", n, d, ceiling)
			}
		}
	}
	// Retry-After wins over a shorter backoff and lands on a whole second
	// no earlier than now+Retry-After (asynq stores whole seconds).
	for range 100 {
		d := b.retryDelay(now, 0, time.Second)
		at := now.Add(d)
		if at.Before(now.Add(time.Second)) || at.Nanosecond() != 0 || d > 2*time.Second {
			t.Fatalf("retryDelay with Retry-After 1s = %s (at %s), want the next whole second after now+1s", d, at)
		}
	}
	// Full jitter spreads: not all delays equal.
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.retryDelay(now, 3, 0)] = true
	}
	if len(seen) < 10 {
		t.Errorf("retryDelay is not jittered: %d distinct values in 50", len(seen))
	}
	for range 100 {
		if d := b.infraDelay(); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("infraDelay = %s, want in [0.5s, 1s] (16 × base capped at max, equal jitter)", d)
		}
	}
	if d := b.delayFor(&retryError{delay: 1234 * time.Millisecond}); d != 1234*time.Millisecond {
		t.Errorf("delayFor(retryError) = %s, want its own delay", d)
	}
}
