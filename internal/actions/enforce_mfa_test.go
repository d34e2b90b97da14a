package actions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestEnforceMFAQueuesAPolicyRequest(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member", AccountEnabled: true})
	x, rec := newExecRec(d, remediation.ActionEnforceMFA, "alice@contoso.com", nil)
	res, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	wantPrior := `{"kind":"mfa","user_id":"` + aliceID + `"}`
	if !res.Deferred || res.Status != remediation.ItemRunning || res.ObjectID != aliceID || string(res.PriorState) != wantPrior {
		t.Errorf("result = %+v, want a deferred result with prior state %s", res, wantPrior)
	}
	if len(rec.saved) != 1 || string(rec.saved[0]) != wantPrior {
		t.Errorf("saved = %q, want %s", rec.saved, wantPrior)
	}
	if len(rec.requests) != 1 {
		t.Fatalf("requests = %+v, want one", rec.requests)
	}
	r := rec.requests[0]
	if r.TenantID != "tenant-1" || r.Kind != remediation.PolicyMFA || r.Op != remediation.PolicyOpAdd ||
		r.UserID != aliceID || r.JobID != "job-1" || r.Seq != 3 || r.DryRun || r.CreatedAt.IsZero() {
		t.Errorf("request = %+v", r)
	}
	calls := d.callList()
	if i, j := slices.Index(calls, "SavePriorState"), slices.Index(calls, "RequestPolicy"); i < 0 || j < i {
		t.Errorf("calls = %q: the prior state must be saved before the request", calls)
	}
	if w := d.writeList(); len(w) > 0 {
		t.Errorf("the executor wrote to Graph itself: %q", w)
	}
}

func TestEnforceMFAErrors(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member"})
	x, _ := newExec(d, remediation.ActionEnforceMFA, aliceID, nil)
	queueDown := errors.New("redis down")
	x.RequestPolicy = func(context.Context, remediation.PolicyRequest) error { return queueDown }
	if _, err := (EnforceMFA{}).Execute(context.Background(), x); !errors.Is(err, queueDown) {
		t.Errorf("err = %v, want the queue error", err)
	}
	x.RequestPolicy = nil
	if _, err := (EnforceMFA{}).Execute(context.Background(), x); remediation.ErrorCode(err) != remediation.ENOTIMPLEMENTED {
		t.Errorf("without RequestPolicy: err = %v", err)
	}
	throttled := gerr("TransitiveRoleTemplateIDs", http.StatusTooManyRequests, "TooManyRequests")
	d.errs["TransitiveRoleTemplateIDs"] = throttled
	x, _ = newExec(d, remediation.ActionEnforceMFA, aliceID, nil)
	if _, err := (EnforceMFA{}).Execute(context.Background(), x); !errors.Is(err, throttled) {
		t.Errorf("err = %v, want the 429 returned for a retry", err)
	}
}

func TestEnforceMFADryRun(t *testing.T) {
	const groupID = "bbbbbbbb-0000-0000-0000-000000000001"
	tests := []struct {
		name        string
		setup       func(d *fakeDir, tn *remediation.Tenant)
		wantDetail  string
		wantPreview string
	}{
		{name: "no policy yet", setup: func(*fakeDir, *remediation.Tenant) {},
			wantDetail: "would create the MFA policy and add the user", wantPreview: "would_change"},
		{name: "stored policy without the user", setup: func(d *fakeDir, tn *remediation.Tenant) {
			d.addPolicy(remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName, IncludeUsers: []string{bobID}})
			tn.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-1"}}
		}, wantDetail: "would add to the MFA policy", wantPreview: "would_change"},
		{name: "already in includeUsers (other case)", setup: func(d *fakeDir, tn *remediation.Tenant) {
			d.addPolicy(remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName, IncludeUsers: []string{strings.ToUpper(daveID)}})
			tn.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-1"}}
		}, wantDetail: "already covered: no change", wantPreview: "no_change"},
		{name: "stored policy deleted", setup: func(_ *fakeDir, tn *remediation.Tenant) {
			tn.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-gone"}}
		}, wantDetail: "would create the MFA policy and add the user", wantPreview: "would_change"},
		{name: "group targeting, member", setup: func(d *fakeDir, tn *remediation.Tenant) {
			tn.Settings.MFATargeting = remediation.MFATargetGroup
			d.addGroup(remediation.Group{ID: groupID, DisplayName: MFAGroupName}, daveID)
			tn.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-1", GroupID: groupID}}
		}, wantDetail: "already covered: no change", wantPreview: "no_change"},
		{name: "group targeting, not a member", setup: func(d *fakeDir, tn *remediation.Tenant) {
			tn.Settings.MFATargeting = remediation.MFATargetGroup
			d.addGroup(remediation.Group{ID: groupID, DisplayName: MFAGroupName}, bobID)
			tn.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-1", GroupID: groupID}}
		}, wantDetail: "would add to the MFA policy", wantPreview: "would_change"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDir(remediation.User{ID: daveID, UserType: "Member", AccountEnabled: true})
			x, rec := newExecRec(d, remediation.ActionEnforceMFA, daveID, nil)
			x.Job.DryRun = true
			tc.setup(d, x.Tenant)
			res, err := EnforceMFA{}.Execute(context.Background(), x)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if res.Status != remediation.ItemSucceeded || res.Deferred || res.Detail != tc.wantDetail {
				t.Errorf("result = %+v, want succeeded %q", res, tc.wantDetail)
			}
			assertPreview(t, res, tc.wantPreview)
			assertNoWrites(t, d, rec)
		})
	}
}

func TestEnforceMFAUndo(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
	x, rec := newExecRec(d, remediation.ActionEnforceMFA, aliceID, nil)
	res, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	undoExec(x, res)
	rec.requests, rec.saved = nil, nil

	// Dry run of the undo against a policy that lists the user.
	d.addPolicy(remediation.CAPolicy{ID: "pol-1", DisplayName: MFAPolicyName, IncludeUsers: []string{aliceID}})
	x.Tenant.Policies = map[remediation.PolicyKind]remediation.PolicyRef{remediation.PolicyMFA: {PolicyID: "pol-1"}}
	x.Job.DryRun = true
	pre, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil || pre.Detail != "would remove from the MFA policy" {
		t.Fatalf("undo dry run = %+v, %v", pre, err)
	}
	assertNoWrites(t, d, rec)

	x.Job.DryRun = false
	undo, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil || !undo.Deferred || undo.ObjectID != aliceID {
		t.Fatalf("undo = %+v, %v; want deferred", undo, err)
	}
	if len(rec.requests) != 1 || rec.requests[0].Op != remediation.PolicyOpRemove || rec.requests[0].UserID != aliceID ||
		rec.requests[0].Kind != remediation.PolicyMFA || rec.requests[0].JobID != "job-2" {
		t.Errorf("requests = %+v, want one remove of %s", rec.requests, aliceID)
	}

	// An item that queued nothing has nothing to undo.
	x.Item.UndoState = nil
	rec.requests = nil
	skip, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil || skip.Status != remediation.ItemSkipped || len(rec.requests) != 0 {
		t.Errorf("undo without state = %+v, %v, requests %+v", skip, err, rec.requests)
	}
}

func TestEnforceMFAUndoStateNamesTheUser(t *testing.T) {
	// Undo works from the recorded object id even if the user is gone.
	d := newFakeDir()
	x, rec := newExecRec(d, remediation.ActionEnforceMFA, "gone@contoso.com", nil)
	undoExec(x, remediation.Result{PriorState: json.RawMessage(`{"kind":"mfa","user_id":"` + bobID + `"}`)})
	res, err := EnforceMFA{}.Execute(context.Background(), x)
	if err != nil || !res.Deferred || len(rec.requests) != 1 || rec.requests[0].UserID != bobID {
		t.Fatalf("undo = %+v, %v, requests %+v", res, err, rec.requests)
	}
}
