package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestGraphErrorsAreMapped(t *testing.T) {
	b := setup(t, graph.Options{})
	admin := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "admin@contoso.example", AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	synced := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "synced@contoso.example", AccountEnabled: true,
		OnPremisesSyncEnabled: true})
	d := b.dir(t)
	ctx := context.Background()

	tests := []struct {
		name       string
		call       func() error
		op         string
		wantStatus int
		wantCode   string
	}{
		{"not found", func() error { _, err := d.GetUser(ctx, "nobody@contoso.example"); return err },
			graph.OpGetUser, 404, "Request_ResourceNotFound"},
		{"privileged target", func() error { return d.SetAccountEnabled(ctx, admin.ID, false) },
			graph.OpSetAccountEnabled, 403, "Authorization_RequestDenied"},
		{"on-premises synced", func() error { return d.SetAccountEnabled(ctx, synced.ID, false) },
			graph.OpSetAccountEnabled, 400, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.sim.ResetLog()
			ge := asGraphError(t, tt.call())
			if ge.Status != tt.wantStatus || ge.Code != tt.wantCode || ge.Operation != tt.op {
				t.Fatalf("got %d %q %q, want %d %q %q", ge.Status, ge.Code, ge.Operation, tt.wantStatus, tt.wantCode, tt.op)
			}
			if ge.Message == "" || ge.Retryable() {
				t.Errorf("message %q, retryable %v", ge.Message, ge.Retryable())
			}
			var reqs []graphsim.Request
			for _, r := range b.sim.Requests() {
				if r.Endpoint == graphsim.EndpointGraph {
					reqs = append(reqs, r)
				}
			}
			if len(reqs) != 1 {
				t.Fatalf("%d requests reached the simulator, want 1", len(reqs))
			}
			if ge.RequestID == "" || ge.RequestID != reqs[0].RequestID {
				t.Errorf("request id %q, simulator's %q", ge.RequestID, reqs[0].RequestID)
			}
		})
	}
	if s, _ := b.st.User(admin.ID); !s.AccountEnabled {
		t.Error("privileged user was disabled")
	}
}

// The SDK must not retry: one request per call, RetryAfter parsed for the
// queue, state unchanged.
func TestThrottlingIsNotRetriedBySDK(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "erin@contoso.example", AccountEnabled: true})
	d := b.dir(t)
	ctx := context.Background()

	tests := []struct {
		name       string
		method     string
		op         string
		status     int
		retryAfter time.Duration
		call       func() error
		check      func(graphsim.UserState) bool
	}{
		{"429 on PATCH", "PATCH", graph.OpSetAccountEnabled, 429, 7 * time.Second,
			func() error { return d.SetAccountEnabled(ctx, u.ID, false) },
			func(s graphsim.UserState) bool { return s.AccountEnabled && s.PatchCount == 0 }},
		{"503 on POST", "POST", graph.OpRevokeSignInSessions, 503, 3 * time.Second,
			func() error { return d.RevokeSignInSessions(ctx, u.ID) },
			func(s graphsim.UserState) bool { return s.RevokedCount == 0 }},
		{"429 on GET", "GET", graph.OpGetUser, 429, 0,
			func() error { _, err := d.GetUser(ctx, u.ID); return err },
			func(graphsim.UserState) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.sim.ResetLog()
			b.sim.InjectFault(graphsim.FaultSpec{TenantID: b.st.ID(), Operation: tt.op, Status: tt.status,
				RetryAfter: tt.retryAfter, Times: 1})
			start := time.Now()
			ge := asGraphError(t, tt.call())
			// The SDK's retry handler would wait at least 3s (Retry-After or
			// its default delay).
			if elapsed := time.Since(start); elapsed > 2500*time.Millisecond {
				t.Errorf("call took %v: the SDK slept", elapsed)
			}
			if ge.Status != tt.status || ge.RetryAfter != tt.retryAfter || !ge.Retryable() {
				t.Fatalf("got status %d retryAfter %v retryable %v", ge.Status, ge.RetryAfter, ge.Retryable())
			}
			if ge.Throttled() != (tt.status == 429) {
				t.Errorf("Throttled() = %v", ge.Throttled())
			}
			if tt.status == 429 && ge.Code != "TooManyRequests" {
				t.Errorf("code %q", ge.Code)
			}
			if n := len(graphRequests(b.sim, tt.method)); n != 1 {
				t.Fatalf("%d %s requests reached the simulator, want exactly 1", n, tt.method)
			}
			if s, _ := b.st.User(u.ID); !tt.check(s) {
				t.Errorf("state changed: %+v", s)
			}
			// The fault was used once: the queue's retry succeeds.
			if err := tt.call(); err != nil {
				t.Fatalf("second call: %v", err)
			}
		})
	}
}

func TestWrongSecretIsAnAuthenticationError(t *testing.T) {
	b := setup(t, graph.Options{})
	const wrong = "Wr0ng-Secret-Value-1234567890"
	b.tenant = tenantFor(t, b.sim, b.st, wrong)
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "frank@contoso.example", AccountEnabled: true})
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)

	_, err := b.dir(t).GetUser(ctx, u.ID)
	ge := asGraphError(t, err)
	if ge.Status != 401 || ge.Code != graph.CodeAuthentication || ge.Retryable() {
		t.Fatalf("got %d %q retryable=%v: %v", ge.Status, ge.Code, ge.Retryable(), ge)
	}
	if !strings.Contains(ge.Message, "invalid_client") {
		t.Errorf("message %q does not name the OAuth error", ge.Message)
	}
	for _, s := range []string{wrong, b.st.ClientSecret()} {
		if strings.Contains(ge.Error(), s) {
			t.Fatalf("error leaks a secret: %s", ge.Error())
		}
	}
	if n := len(graphRequests(b.sim, "GET")); n != 0 {
		t.Errorf("%d requests reached Graph without a token", n)
	}
	calls := log.Calls()
	if len(calls) != 1 || calls[0].ErrorCode != graph.CodeAuthentication || calls[0].HTTPStatus != 401 {
		t.Fatalf("call log %+v", calls)
	}
}

func TestTimeout(t *testing.T) {
	b := setup(t, graph.Options{Timeout: time.Second})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "gina@contoso.example", AccountEnabled: true})
	d := b.dir(t)
	ctx := context.Background()
	// Acquire the token first, so that the time-out hits the Graph call.
	if _, err := d.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	b.sim.InjectFault(graphsim.FaultSpec{Operation: graph.OpSetAccountEnabled, Latency: 6 * time.Second, Times: 1})
	log := &remediation.CallLog{}
	start := time.Now()
	err := d.SetAccountEnabled(remediation.WithCallLog(ctx, log), u.ID, false)
	elapsed := time.Since(start)
	ge := asGraphError(t, err)
	if ge.Status != 0 || ge.Code != graph.CodeTimeout || !ge.Retryable() {
		t.Fatalf("got %d %q: %v", ge.Status, ge.Code, ge)
	}
	if elapsed > 4*time.Second {
		t.Errorf("call returned after %v, the time-out is 1s", elapsed)
	}
	if calls := log.Calls(); len(calls) != 1 || calls[0].ErrorCode != graph.CodeTimeout || calls[0].HTTPStatus != 0 {
		t.Fatalf("call log %+v", calls)
	}

	// A canceled caller is not a time-out.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.GetUser(cctx, u.ID)
	if ge := asGraphError(t, err); ge.Code != graph.CodeCanceled || ge.Status != 0 {
		t.Fatalf("canceled: got %d %q", ge.Status, ge.Code)
	}
}

func TestNetworkError(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "hank@contoso.example", AccountEnabled: true})
	d := b.dir(t)
	if _, err := d.GetUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	_ = b.sim.Close()
	_, err := d.GetUser(context.Background(), u.ID)
	ge := asGraphError(t, err)
	if ge.Status != 0 || ge.Code != graph.CodeNetwork || !ge.Retryable() {
		t.Fatalf("got %d %q: %v", ge.Status, ge.Code, ge)
	}
}
