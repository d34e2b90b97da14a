package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// policyRequest returns a request of tenant and kind for item seq of job,
// created at.
func policyRequest(tenant string, kind remediation.PolicyKind, job string, seq int, at time.Time) remediation.PolicyRequest {
	return remediation.PolicyRequest{TenantID: tenant, Kind: kind, Op: remediation.PolicyOpAdd,
		UserID: fmt.Sprintf("user-%s-%d", job, seq), JobID: job, Seq: seq, CreatedAt: at}
}

func mustAddRequest(t testing.TB, s remediation.Store, r remediation.PolicyRequest) {
	t.Helper()
	if err := s.AddPolicyRequest(t.Context(), r); err != nil {
		t.Fatalf("AddPolicyRequest(%s, %d): %v", r.JobID, r.Seq, err)
	}
}

func mustPending(t testing.TB, s remediation.Store, tenant string, kind remediation.PolicyKind, limit int) []remediation.PolicyRequest {
	t.Helper()
	got, err := s.PendingPolicyRequests(t.Context(), tenant, kind, limit)
	if err != nil {
		t.Fatalf("PendingPolicyRequests(%s, %s): %v", tenant, kind, err)
	}
	return got
}

// wantRequests compares requests by key (job, seq) and order.
func wantRequests(t testing.TB, got []remediation.PolicyRequest, want ...remediation.PolicyRequest) {
	t.Helper()
	key := func(rs []remediation.PolicyRequest) string {
		var s string
		for _, r := range rs {
			s += fmt.Sprintf("%s/%d ", r.JobID, r.Seq)
		}
		return s
	}
	if key(got) != key(want) {
		t.Fatalf("requests = %s, want %s", key(got), key(want))
	}
}

var policyRequestTests = map[string]func(t *testing.T, s remediation.Store){
	"RoundTrip": func(t *testing.T, s remediation.Store) {
		at := time.Date(2025, 8, 9, 10, 11, 12, 345678912, time.FixedZone("X", 7200))
		in := remediation.PolicyRequest{TenantID: "t1", Kind: remediation.PolicyPhishingResistantMFA,
			Op: remediation.PolicyOpRemove, UserID: "obj-1", JobID: "job-1", Seq: 42, DryRun: true, CreatedAt: at}
		mustAddRequest(t, s, in)
		got := mustPending(t, s, "t1", remediation.PolicyPhishingResistantMFA, 10)
		if len(got) != 1 {
			t.Fatalf("pending = %+v, want one", got)
		}
		r := got[0]
		if r.TenantID != in.TenantID || r.Kind != in.Kind || r.Op != in.Op || r.UserID != in.UserID || r.JobID != in.JobID ||
			r.Seq != 42 || !r.DryRun || !sameTime(r.CreatedAt, at) {
			t.Fatalf("stored = %+v, want %+v", r, in)
		}
	},
	"CreatedAtDefaultsToNow": func(t *testing.T, s remediation.Store) {
		before := time.Now().Add(-time.Second)
		mustAddRequest(t, s, policyRequest("t1", remediation.PolicyMFA, "j", 0, time.Time{}))
		got := mustPending(t, s, "t1", remediation.PolicyMFA, 10)
		if len(got) != 1 || got[0].CreatedAt.Before(before) || got[0].CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("pending = %+v, want CreatedAt now", got)
		}
	},
	"Idempotent": func(t *testing.T, s remediation.Store) {
		at := time.Now().Add(-time.Minute)
		first := policyRequest("t1", remediation.PolicyMFA, "j", 3, at)
		mustAddRequest(t, s, first)
		again := first
		again.UserID, again.Op, again.CreatedAt = "someone-else", remediation.PolicyOpRemove, time.Now()
		mustAddRequest(t, s, again) // no-op, not an error
		got := mustPending(t, s, "t1", remediation.PolicyMFA, 10)
		if len(got) != 1 || got[0].UserID != first.UserID || got[0].Op != first.Op || !sameTime(got[0].CreatedAt, at) {
			t.Fatalf("pending = %+v, want only the first request", got)
		}
	},
	"Invalid": func(t *testing.T, s remediation.Store) {
		r := policyRequest("t1", remediation.PolicyMFA, "j", 0, time.Now())
		r.Op = "toggle"
		wantCode(t, s.AddPolicyRequest(t.Context(), r), remediation.EINVALID)
		r = policyRequest("t1", remediation.PolicyMFA, "", 0, time.Now())
		wantCode(t, s.AddPolicyRequest(t.Context(), r), remediation.EINVALID)
	},
	"PendingOldestFirstPerTenantAndKind": func(t *testing.T, s remediation.Store) {
		base := time.Now().Add(-time.Hour)
		var mfa []remediation.PolicyRequest
		for i := range 5 {
			// Added newest first; same time for 1 and 2 (then by job, seq).
			at := base.Add(time.Duration(5-i) * time.Minute)
			if i == 2 {
				at = base.Add(4 * time.Minute)
			}
			r := policyRequest("t1", remediation.PolicyMFA, "j1", 10-i, at)
			mustAddRequest(t, s, r)
			mfa = append([]remediation.PolicyRequest{r}, mfa...)
		}
		mustAddRequest(t, s, policyRequest("t1", remediation.PolicyPhishingResistantMFA, "j2", 0, base))
		mustAddRequest(t, s, policyRequest("t2", remediation.PolicyMFA, "j3", 0, base))
		// j1/9 (added first) and j1/8 have the same time: seq 8 comes first.
		wantRequests(t, mustPending(t, s, "t1", remediation.PolicyMFA, 10), mfa...)
		if mfa[2].Seq != 8 || mfa[3].Seq != 9 {
			t.Fatalf("test setup: %+v", mfa)
		}
		wantRequests(t, mustPending(t, s, "t1", remediation.PolicyMFA, 2), mfa[0], mfa[1])
		wantRequests(t, mustPending(t, s, "t1", remediation.PolicyPhishingResistantMFA, 10),
			policyRequest("t1", remediation.PolicyPhishingResistantMFA, "j2", 0, base))
		wantRequests(t, mustPending(t, s, "t3", remediation.PolicyMFA, 10))
	},
	"Delete": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		base := time.Now().Add(-time.Hour)
		var all []remediation.PolicyRequest
		for i := range 2500 {
			r := policyRequest("t1", remediation.PolicyMFA, fmt.Sprint("j", i%2), i, base.Add(time.Duration(i)*time.Millisecond))
			mustAddRequest(t, s, r)
			all = append(all, r)
		}
		if err := s.DeletePolicyRequests(ctx, all[:2400]); err != nil {
			t.Fatalf("DeletePolicyRequests: %v", err)
		}
		wantRequests(t, mustPending(t, s, "t1", remediation.PolicyMFA, 5000), all[2400:]...)
		// Unknown and already deleted requests are ignored; nothing is a no-op.
		if err := s.DeletePolicyRequests(ctx, append(all[:3], policyRequest("t1", remediation.PolicyMFA, "nope", 1, base))); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePolicyRequests(ctx, nil); err != nil {
			t.Fatal(err)
		}
		// A deleted request can be requested again.
		mustAddRequest(t, s, all[0])
		wantRequests(t, mustPending(t, s, "t1", remediation.PolicyMFA, 1), all[0])
	},
	"Tenants": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		now := time.Now()
		got, err := s.PolicyRequestTenants(ctx, now)
		if err != nil || len(got) != 0 {
			t.Fatalf("empty PolicyRequestTenants = %+v, %v", got, err)
		}
		old, fresh := now.Add(-10*time.Minute), now.Add(-time.Second)
		for i, r := range []remediation.PolicyRequest{
			policyRequest("t2", remediation.PolicyMFA, "a", 0, old),
			policyRequest("t2", remediation.PolicyMFA, "a", 1, old),
			policyRequest("t2", remediation.PolicyMFA, "a", 2, fresh),
			policyRequest("t1", remediation.PolicyPhishingResistantMFA, "b", 0, old),
			policyRequest("t1", remediation.PolicyMFA, "c", 0, fresh),
			policyRequest("t3", remediation.PolicyMFA, "d", 0, fresh),
		} {
			r.Seq += i * 10
			mustAddRequest(t, s, r)
		}
		got, err = s.PolicyRequestTenants(ctx, now.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"t1/phishing_resistant_mfa", "t2/mfa"}
		if len(got) != len(want) {
			t.Fatalf("PolicyRequestTenants = %+v, want %v", got, want)
		}
		for i, r := range got {
			if r.TenantID+"/"+string(r.Kind) != want[i] {
				t.Fatalf("PolicyRequestTenants = %+v, want %v", got, want)
			}
		}
		got, err = s.PolicyRequestTenants(ctx, now)
		if err != nil || len(got) != 4 {
			t.Fatalf("PolicyRequestTenants(now) = %+v, %v; want 4 pairs", got, err)
		}
	},
}
