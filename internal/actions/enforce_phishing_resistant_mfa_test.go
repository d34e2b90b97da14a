package actions

import (
	"context"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestEnforcePhishingResistantMFA(t *testing.T) {
	const groupID = "cccccccc-0000-0000-0000-000000000001"
	tests := []struct {
		name     string
		setup    func(d *fakeDir)
		confirm  bool
		wantCode string // "" → queued
	}{
		{name: "no role", setup: func(*fakeDir) {}, confirm: true, wantCode: "not_global_admin"},
		{name: "other privileged role only", setup: func(d *fakeDir) { d.assign(aliceID, roleUserAdmin, false) },
			confirm: true, wantCode: "not_global_admin"},
		{name: "direct Global Administrator", setup: func(d *fakeDir) { d.assign(aliceID, roleGA, false) }, confirm: true},
		{name: "Global Administrator through a role-assignable group", setup: func(d *fakeDir) {
			d.addGroup(remediation.Group{ID: groupID, IsAssignableToRole: true, SecurityEnabled: true}, aliceID)
			d.assign(groupID, roleGA, false)
		}, confirm: true},
		{name: "active PIM instance of Global Administrator", setup: func(d *fakeDir) {
			d.instances = append(d.instances, remediation.RoleAssignment{ID: "inst-9", PrincipalID: aliceID,
				RoleDefinitionID: roleGA, DirectoryScopeID: "/", AssignmentType: "Activated", MemberType: "Direct"})
		}, confirm: true},
		{name: "Global Administrator, not confirmed", setup: func(d *fakeDir) { d.assign(aliceID, roleGA, false) },
			wantCode: "admin_target_not_confirmed"},
	}
	for _, tc := range tests {
		for _, dry := range []bool{false, true} {
			name := tc.name
			if dry {
				name += "/dry run"
			}
			t.Run(name, func(t *testing.T) {
				d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
				tc.setup(d)
				x, rec := newExecRec(d, remediation.ActionEnforcePhishingResistantMFA, aliceID, nil)
				x.Job.ConfirmAdminTargets, x.Job.DryRun = tc.confirm, dry
				res, err := EnforcePhishingResistantMFA{}.Execute(context.Background(), x)
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				switch {
				case tc.wantCode != "":
					assertRefused(t, res, remediation.ItemSkipped, tc.wantCode, "")
					assertNoWrites(t, d, rec)
					if dry {
						want := map[string]string{"not_global_admin": "rejected_not_global_admin",
							"admin_target_not_confirmed": "rejected_admin_target"}[tc.wantCode]
						assertPreview(t, res, want)
					}
				case dry:
					if res.Status != remediation.ItemSucceeded || res.Detail != "would create the phishing-resistant MFA policy and add the user" {
						t.Errorf("dry run = %+v", res)
					}
					assertPreview(t, res, "would_change")
					assertNoWrites(t, d, rec)
				default:
					if !res.Deferred || len(rec.requests) != 1 || rec.requests[0].Kind != remediation.PolicyPhishingResistantMFA {
						t.Errorf("result = %+v, requests %+v; want one phishing-resistant request", res, rec.requests)
					}
					if len(rec.saved) != 1 || string(rec.saved[0]) != `{"kind":"phishing_resistant_mfa","user_id":"`+aliceID+`"}` {
						t.Errorf("saved = %q", rec.saved)
					}
				}
			})
		}
	}
}

func TestEnforcePhishingResistantMFAUndoSkipsTheRoleCheck(t *testing.T) {
	// The user lost Global Administrator since: the undo still removes it.
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member"})
	x, rec := newExecRec(d, remediation.ActionEnforcePhishingResistantMFA, aliceID, nil)
	undoExec(x, remediation.Result{ObjectID: aliceID,
		PriorState: []byte(`{"kind":"phishing_resistant_mfa","user_id":"` + aliceID + `"}`)})
	res, err := EnforcePhishingResistantMFA{}.Execute(context.Background(), x)
	if err != nil || !res.Deferred {
		t.Fatalf("undo = %+v, %v", res, err)
	}
	if len(rec.requests) != 1 || rec.requests[0].Op != remediation.PolicyOpRemove ||
		rec.requests[0].Kind != remediation.PolicyPhishingResistantMFA {
		t.Errorf("requests = %+v", rec.requests)
	}
}
