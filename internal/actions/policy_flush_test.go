package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// flushEnv is a flusher over a fake directory whose pacing is noted in
// the fake's call list.
type flushEnv struct {
	d      *fakeDir
	store  *fakeRefStore
	f      *PolicyFlusher
	tenant *remediation.Tenant
}

func newFlushEnv() *flushEnv {
	d := newFakeDir()
	e := &flushEnv{d: d, store: &fakeRefStore{},
		tenant: &remediation.Tenant{ID: "tenant-1",
			Settings: remediation.TenantSettings{ProtectedIdentities: []string{breakGlassID}}}}
	e.f = &PolicyFlusher{Store: e.store, Pace: func(ctx context.Context) error { d.note("Pace"); return ctx.Err() }}
	return e
}

// storePolicy adds a policy to the directory and stores its id.
func (e *flushEnv) storePolicy(kind remediation.PolicyKind, p remediation.CAPolicy) {
	e.d.addPolicy(p)
	if e.tenant.Policies == nil {
		e.tenant.Policies = map[remediation.PolicyKind]remediation.PolicyRef{}
	}
	e.tenant.Policies[kind] = remediation.PolicyRef{PolicyID: p.ID}
}

func (e *flushEnv) flush(t *testing.T, kind remediation.PolicyKind, reqs ...remediation.PolicyRequest) []string {
	t.Helper()
	outs, err := e.f.Flush(context.Background(), e.d, e.tenant, kind, reqs)
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if len(outs) != len(reqs) {
		t.Fatalf("%d outcomes for %d requests", len(outs), len(reqs))
	}
	var lines []string
	for i, o := range outs {
		if o.Request != reqs[i] {
			t.Errorf("outcome %d is for %+v, want %+v", i, o.Request, reqs[i])
		}
		line := o.Request.UserID + " " + string(o.Result.Status) + " " + o.Result.Detail
		if o.Result.Error != nil {
			line += " [" + o.Result.Error.Code + "]"
		}
		lines = append(lines, line)
	}
	assertPaced(t, e.d)
	return lines
}

// req builds requests of one op for users, with distinct seqs.
func req(kind remediation.PolicyKind, op string, users ...string) []remediation.PolicyRequest {
	var out []remediation.PolicyRequest
	for i, u := range users {
		out = append(out, remediation.PolicyRequest{TenantID: "tenant-1", Kind: kind, Op: op, UserID: u, JobID: "job-1", Seq: i})
	}
	return out
}

func adds(users ...string) []remediation.PolicyRequest {
	return req(remediation.PolicyMFA, remediation.PolicyOpAdd, users...)
}

func removes(users ...string) []remediation.PolicyRequest {
	return req(remediation.PolicyMFA, remediation.PolicyOpRemove, users...)
}

// assertPaced checks that every Conditional Access call came right after
// a Pace.
func assertPaced(t *testing.T, d *fakeDir) {
	t.Helper()
	calls := d.callList()
	for i, c := range calls {
		for _, op := range []string{"ListCAPolicies", "GetCAPolicy", "CreateCAPolicy", "UpdateCAPolicyUsers"} {
			if strings.HasPrefix(c, op+" ") && (i == 0 || calls[i-1] != "Pace") {
				t.Errorf("call %d %q was not paced (calls %q)", i, c, calls)
			}
		}
	}
}

func assertLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("outcomes:\n got %q\nwant %q", got, want)
	}
}

// userID returns a distinct user object id.
func userID(i int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", i) }

func TestFlushCreatesThePolicyOnFirstFlush(t *testing.T) {
	e := newFlushEnv()
	got := e.flush(t, remediation.PolicyMFA, adds(aliceID, bobID, carolID)...)
	assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy", bobID + " succeeded added to the MFA policy",
		carolID + " succeeded added to the MFA policy"})
	ref := e.store.refs[remediation.PolicyMFA]
	p := e.d.policy(ref.PolicyID)
	if p == nil {
		t.Fatalf("stored ref %+v names no policy", ref)
	}
	if p.DisplayName != "Entra Remediator – require MFA" || p.State != "enabled" ||
		!slices.Equal(p.IncludeUsers, []string{aliceID, bobID, carolID}) || !slices.Equal(p.ExcludeUsers, []string{breakGlassID}) ||
		!slices.Equal(p.BuiltInControls, []string{"mfa"}) || p.AuthenticationStrengthID != "" {
		t.Errorf("created policy = %+v", p)
	}
	if e.tenant.Policies[remediation.PolicyMFA] != ref {
		t.Errorf("tenant policies = %+v, want %+v", e.tenant.Policies, ref)
	}
	want := []string{"Pace", "ListCAPolicies ", "Pace", "CreateCAPolicy " + MFAPolicyName}
	if got := e.d.callList(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q (list before create)", got, want)
	}
}

func TestFlushCreatesPhishingResistantPolicyReportOnly(t *testing.T) {
	e := newFlushEnv()
	e.tenant.Settings.MFAPolicyState = remediation.MFAPolicyReportOnly
	got := e.flush(t, remediation.PolicyPhishingResistantMFA,
		req(remediation.PolicyPhishingResistantMFA, remediation.PolicyOpAdd, aliceID)...)
	assertLines(t, got, []string{aliceID + " succeeded added to the phishing-resistant MFA policy"})
	p := e.d.policy(e.store.refs[remediation.PolicyPhishingResistantMFA].PolicyID)
	if p == nil || p.DisplayName != PhishingResistantPolicyName || p.State != "enabledForReportingButNotEnforced" ||
		len(p.BuiltInControls) != 0 || p.AuthenticationStrengthID != "00000000-0000-0000-0000-000000000004" {
		t.Errorf("created policy = %+v", p)
	}
}

func TestFlushAppendsWithOnePatch(t *testing.T) {
	e := newFlushEnv()
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{strings.ToUpper(daveID)}, ExcludeUsers: []string{breakGlassID}, BuiltInControls: []string{"mfa"}})
	got := e.flush(t, remediation.PolicyMFA, adds(daveID, aliceID, bobID, aliceID)...)
	assertLines(t, got, []string{daveID + " succeeded already covered: no change", aliceID + " succeeded added to the MFA policy",
		bobID + " succeeded added to the MFA policy", aliceID + " succeeded already covered: no change"})
	if n := e.d.countCalls("UpdateCAPolicyUsers"); n != 1 {
		t.Errorf("%d PATCHes, want 1", n)
	}
	if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{strings.ToUpper(daveID), aliceID, bobID}) {
		t.Errorf("includeUsers = %q", p.IncludeUsers)
	}
	if e.d.countCalls("CreateCAPolicy") != 0 || e.d.countCalls("ListCAPolicies") != 0 || e.store.sets != 0 {
		t.Errorf("calls = %q, store sets %d: the stored policy should be used as is", e.d.callList(), e.store.sets)
	}

	// Users already covered: no write at all.
	got = e.flush(t, remediation.PolicyMFA, adds(bobID, daveID)...)
	assertLines(t, got, []string{bobID + " succeeded already covered: no change", daveID + " succeeded already covered: no change"})
	if n := e.d.countCalls("UpdateCAPolicyUsers"); n != 1 {
		t.Errorf("%d PATCHes after a flush without change, want still 1", n)
	}
}

func TestFlushFindsOrRecreatesAGonePolicy(t *testing.T) {
	t.Run("found by name", func(t *testing.T) {
		e := newFlushEnv()
		e.tenant.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-gone"}}
		e.d.addPolicy(remediation.CAPolicy{ID: "pol-other", DisplayName: "Block legacy auth", IncludeUsers: []string{"All"}})
		e.d.addPolicy(remediation.CAPolicy{ID: "pol-7", DisplayName: MFAPolicyName, IncludeUsers: []string{"None"},
			ExcludeUsers: []string{breakGlassID}})
		got := e.flush(t, remediation.PolicyMFA, adds(aliceID)...)
		assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy"})
		if ref := e.store.refs[remediation.PolicyMFA]; ref.PolicyID != "pol-7" {
			t.Errorf("stored ref = %+v, want pol-7", ref)
		}
		if p := e.d.policy("pol-7"); !slices.Equal(p.IncludeUsers, []string{aliceID}) {
			t.Errorf("includeUsers = %q (None must go)", p.IncludeUsers)
		}
		if e.d.countCalls("CreateCAPolicy") != 0 {
			t.Error("created a second policy")
		}
	})
	t.Run("recreated", func(t *testing.T) {
		e := newFlushEnv()
		e.tenant.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-gone"}}
		got := e.flush(t, remediation.PolicyMFA, adds(aliceID)...)
		assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy"})
		ref := e.store.refs[remediation.PolicyMFA]
		if ref.PolicyID == "pol-gone" || e.d.policy(ref.PolicyID) == nil {
			t.Errorf("stored ref = %+v, want the new policy", ref)
		}
		want := []string{"Pace", "GetCAPolicy pol-gone", "Pace", "ListCAPolicies ", "Pace", "CreateCAPolicy " + MFAPolicyName}
		if got := e.d.callList(); !slices.Equal(got, want) {
			t.Errorf("calls = %q, want %q", got, want)
		}
	})
}

func TestFlushRemoves(t *testing.T) {
	e := newFlushEnv()
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{aliceID, bobID}, ExcludeUsers: []string{breakGlassID}})
	got := e.flush(t, remediation.PolicyMFA, removes(aliceID, carolID)...)
	assertLines(t, got, []string{aliceID + " succeeded removed from the MFA policy", carolID + " succeeded not in the policy: no change"})
	if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{bobID}) {
		t.Errorf("includeUsers = %q", p.IncludeUsers)
	}
	got = e.flush(t, remediation.PolicyMFA, removes(bobID)...)
	assertLines(t, got, []string{bobID + " succeeded removed from the MFA policy"})
	if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{"None"}) {
		t.Errorf("includeUsers = %q, want [None]", p.IncludeUsers)
	}
	// Removals without a policy create nothing.
	e2 := newFlushEnv()
	got = e2.flush(t, remediation.PolicyMFA, removes(aliceID)...)
	assertLines(t, got, []string{aliceID + " succeeded not in the policy: no change"})
	if w := e2.d.writeList(); len(w) > 0 {
		t.Errorf("writes = %q", w)
	}
}

func TestFlushAddThenRemoveInOneBatch(t *testing.T) {
	e := newFlushEnv()
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{bobID}, ExcludeUsers: []string{breakGlassID}})
	reqs := append(adds(aliceID), removes(aliceID)...)
	got := e.flush(t, remediation.PolicyMFA, reqs...)
	assertLines(t, got, []string{aliceID + " succeeded added to the MFA policy", aliceID + " succeeded removed from the MFA policy"})
	if p := e.d.policy("pol-1"); !slices.Equal(p.IncludeUsers, []string{bobID}) || e.d.countCalls("UpdateCAPolicyUsers") != 0 {
		t.Errorf("includeUsers = %q after %d PATCHes, want [bob] untouched", p.IncludeUsers, e.d.countCalls("UpdateCAPolicyUsers"))
	}
}

func TestFlushKeepsProtectedIdentitiesExcluded(t *testing.T) {
	e := newFlushEnv()
	e.storePolicy(remediation.PolicyMFA, remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName,
		IncludeUsers: []string{aliceID}, ExcludeUsers: []string{carolID}})
	got := e.flush(t, remediation.PolicyMFA, adds(aliceID, breakGlassID)...)
	assertLines(t, got, []string{aliceID + " succeeded already covered: no change",
		breakGlassID + " skipped protected identity (break-glass / emergency access): refused [protected_identity]"})
	p := e.d.policy("pol-1")
	if !slices.Equal(p.ExcludeUsers, []string{carolID, breakGlassID}) || !slices.Equal(p.IncludeUsers, []string{aliceID}) {
		t.Errorf("policy users = include %q exclude %q; want the break-glass account excluded, not included", p.IncludeUsers, p.ExcludeUsers)
	}
}
