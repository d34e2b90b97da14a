package actions

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestFlushCapacity(t *testing.T) {
	t.Run("MaxPolicyUsers", func(t *testing.T) {
		e := newFlushEnv()
		e.f.MaxPolicyUsers = 3
		e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
			IncludeUsers: []string{daveID, carolID}, ExcludeUsers: []string{breakGlassID}})
		outs, err := e.f.Flush(context.Background(), e.d, e.tenant, remediation.PolicyMFA, adds(aliceID, bobID))
		if err != nil {
			t.Fatal(err)
		}
		if r := outs[0].Result; r.Status != remediation.ItemSucceeded || r.Detail != "added to the MFA policy" {
			t.Errorf("alice = %+v", r)
		}
		r := outs[1].Result
		if r.Status != remediation.ItemFailed || r.Error == nil || r.Error.Code != "policy_full" ||
			!strings.Contains(r.Error.Message, "mfa_targeting=group") {
			t.Errorf("bob = %+v, want failed policy_full naming mfa_targeting=group", r)
		}
		if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{daveID, carolID, aliceID}) {
			t.Errorf("includeUsers = %q", p.IncludeUsers)
		}
	})
	t.Run("Graph refuses the size", func(t *testing.T) {
		e := newFlushEnv()
		e.d.policyLimit = 4
		e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
			IncludeUsers: []string{userID(1), userID(2)}, ExcludeUsers: []string{breakGlassID}})
		got := e.flush(t, remediation.PolicyMFA, adds(userID(3), userID(4), userID(5), userID(6))...)
		if len(got) != 4 || !strings.HasSuffix(got[0], "added to the MFA policy") || !strings.HasSuffix(got[1], "added to the MFA policy") ||
			!strings.HasSuffix(got[2], "[policy_full]") || !strings.HasSuffix(got[3], "[policy_full]") {
			t.Errorf("outcomes = %q, want 2 added and 2 policy_full", got)
		}
		if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{userID(1), userID(2), userID(3), userID(4)}) {
			t.Errorf("includeUsers = %q", p.IncludeUsers)
		}
		if n := e.d.countCalls("UpdateCAPolicyUsers"); n != 2 {
			t.Errorf("%d PATCHes, want 2 (4 adds refused, then 2)", n)
		}
	})
	t.Run("full policy, nothing else to write", func(t *testing.T) {
		e := newFlushEnv()
		e.d.policyLimit = 2
		e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
			IncludeUsers: []string{userID(1), userID(2)}, ExcludeUsers: []string{breakGlassID}})
		got := e.flush(t, remediation.PolicyMFA, adds(userID(3))...)
		if len(got) != 1 || !strings.HasSuffix(got[0], "[policy_full]") {
			t.Errorf("outcomes = %q", got)
		}
	})
}

func TestFlushErrors(t *testing.T) {
	t.Run("CA throttling retries the whole flush", func(t *testing.T) {
		e := newFlushEnv()
		e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName, IncludeUsers: []string{bobID}})
		throttled := gerr("UpdateCAPolicyUsers", http.StatusTooManyRequests, "TooManyRequests")
		e.d.errs["UpdateCAPolicyUsers"] = throttled
		outs, err := e.f.Flush(context.Background(), e.d, e.tenant, remediation.PolicyMFA, adds(aliceID))
		if !errors.Is(err, throttled) || outs != nil {
			t.Errorf("Flush = %+v, %v; want the 429 and no outcomes", outs, err)
		}
	})
	t.Run("refused creation fails every request", func(t *testing.T) {
		e := newFlushEnv()
		e.d.errs["CreateCAPolicy"] = gerr("CreateCAPolicy", http.StatusForbidden, "Authorization_RequestDenied")
		got := e.flush(t, remediation.PolicyMFA, append(adds(aliceID), removes(bobID)...)...)
		if !strings.HasSuffix(got[0], "[Authorization_RequestDenied]") || !strings.Contains(got[0], "failed") ||
			!strings.HasSuffix(got[1], "not in the policy: no change") {
			t.Errorf("outcomes = %q", got)
		}
		if e.store.sets != 0 {
			t.Errorf("a ref was stored for a policy that does not exist")
		}
	})
	t.Run("store down", func(t *testing.T) {
		e := newFlushEnv()
		e.store.err = errors.New("db down")
		if _, err := e.f.Flush(context.Background(), e.d, e.tenant, remediation.PolicyMFA, adds(aliceID)); !errors.Is(err, e.store.err) {
			t.Errorf("err = %v, want the store error", err)
		}
		// The retry finds the policy created by the failed flush by name.
		e.store.err = nil
		e.flush(t, remediation.PolicyMFA, adds(aliceID)...)
		if n := e.d.countCalls("CreateCAPolicy"); n != 1 {
			t.Errorf("%d policies created, want 1", n)
		}
	})
	t.Run("pace fails", func(t *testing.T) {
		e := newFlushEnv()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.f.Flush(ctx, e.d, e.tenant, remediation.PolicyMFA, adds(aliceID)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
		if n := len(e.d.callList()); n != 1 {
			t.Errorf("calls = %q, want only the Pace", e.d.callList())
		}
	})
	t.Run("malformed and dry-run requests", func(t *testing.T) {
		e := newFlushEnv()
		bad := []remediation.PolicyRequest{
			{TenantID: "tenant-1", Kind: remediation.PolicyPhishingResistantMFA, Op: "add", UserID: aliceID},
			{TenantID: "tenant-1", Kind: remediation.PolicyMFA, Op: "add", UserID: bobID, DryRun: true},
		}
		got := e.flush(t, remediation.PolicyMFA, bad...)
		if !strings.HasSuffix(got[0], "[invalid]") || !strings.HasPrefix(got[1], bobID+" skipped") {
			t.Errorf("outcomes = %q", got)
		}
		if w := e.d.writeList(); len(w) > 0 {
			t.Errorf("writes = %q", w)
		}
	})
}

func TestFlushGroupTargeting(t *testing.T) {
	e := newFlushEnv()
	e.tenant.Settings.MFATargeting = remediation.MFATargetGroup
	got := e.flush(t, remediation.PolicyMFA, adds(aliceID, bobID)...)
	assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy", bobID + " succeeded added to the MFA policy"})
	ref := e.store.refs[remediation.PolicyMFA]
	p := e.d.policy(ref.PolicyID)
	if ref.GroupID == "" || p == nil || !slices.Equal(p.IncludeGroups, []string{ref.GroupID}) || len(p.IncludeUsers) != 0 ||
		!slices.Equal(p.ExcludeUsers, []string{breakGlassID}) {
		t.Fatalf("ref %+v, policy %+v", ref, p)
	}
	if g, _ := e.d.GetGroup(context.Background(), ref.GroupID); g.DisplayName != MFAGroupName {
		t.Errorf("group = %+v", g)
	}
	wantMembers := sortedCopy([]string{strings.ToLower(ref.GroupID) + " " + aliceID, strings.ToLower(ref.GroupID) + " " + bobID})
	if got := e.d.groupState(); !slices.Equal(got, wantMembers) {
		t.Errorf("memberships = %q, want %q", got, wantMembers)
	}

	// Next flush: no new policy or group, one no-change, one removal.
	caWrites := e.d.countCalls("CreateCAPolicy") + e.d.countCalls("UpdateCAPolicyUsers")
	reqs := append(adds(aliceID), removes(bobID, carolID)...)
	got = e.flush(t, remediation.PolicyMFA, reqs...)
	assertLines(t, got, []string{aliceID + " succeeded already covered: no change", bobID + " succeeded removed from the MFA policy",
		carolID + " succeeded not in the policy: no change"})
	if n := e.d.countCalls("CreateCAPolicy") + e.d.countCalls("UpdateCAPolicyUsers"); n != caWrites {
		t.Errorf("the second flush wrote the policy again (%q)", e.d.callList())
	}
	if e.d.countCalls("CreateSecurityGroup") != 1 {
		t.Errorf("group created %d times", e.d.countCalls("CreateSecurityGroup"))
	}
}

func TestFlushGroupTargetingAddsTheGroupToAnExistingPolicy(t *testing.T) {
	e := newFlushEnv()
	e.tenant.Settings.MFATargeting = remediation.MFATargetGroup
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{daveID}, ExcludeUsers: []string{breakGlassID}})
	e.d.addGroup(remediation.Group{ID: "grp-old", DisplayName: MFAGroupName, SecurityEnabled: true})
	got := e.flush(t, remediation.PolicyMFA, adds(aliceID)...)
	assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy"})
	p := e.d.policy("pol-1")
	if !slices.Equal(p.IncludeGroups, []string{"grp-old"}) || !slices.Equal(p.IncludeUsers, []string{daveID}) {
		t.Errorf("policy = %+v, want the existing group added and the users kept", p)
	}
	if ref := e.store.refs[remediation.PolicyMFA]; ref.GroupID != "grp-old" || ref.PolicyID != "pol-1" {
		t.Errorf("ref = %+v", ref)
	}
	if e.d.countCalls("CreateSecurityGroup") != 0 {
		t.Error("created a second group")
	}
}

func TestEnforceAndUndoThroughTheFlusherRestoreThePolicy(t *testing.T) {
	e := newFlushEnv()
	e.d.addUser(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{bobID}, ExcludeUsers: []string{breakGlassID}})
	before := e.d.policy("pol-1")

	x, rec := newExecRec(e.d, remediation.ActionEnforceMFA, aliceID, nil)
	x.Tenant = e.tenant
	res, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil || !res.Deferred {
		t.Fatalf("enforce = %+v, %v", res, err)
	}
	e.flush(t, remediation.PolicyMFA, rec.requests...)
	if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{bobID, aliceID}) {
		t.Fatalf("after enforce: %q", p.IncludeUsers)
	}

	undoExec(x, res)
	rec.requests = nil
	if _, err := (EnforceMFA{}).Execute(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	got := e.flush(t, remediation.PolicyMFA, rec.requests...)
	assertLines(t, got, []string{aliceID + " succeeded removed from the MFA policy"})
	if after := e.d.policy("pol-1"); !slices.Equal(after.IncludeUsers, before.IncludeUsers) ||
		!slices.Equal(after.ExcludeUsers, before.ExcludeUsers) {
		t.Errorf("after undo: %+v, want %+v", after, before)
	}
}
