package actions

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// protectedFixture is a directory where the break-glass account holds
// Global Administrator, a role through a group and a group membership:
// every action has something it could change.
func protectedFixture() *fakeDir {
	d := newFakeDir(remediation.User{ID: breakGlassID, UserPrincipalName: "bg@contoso.com", UserType: "Member", AccountEnabled: true})
	d.assign(breakGlassID, roleGA, false)
	d.assign(carolID, roleGA, false)
	d.addGroup(remediation.Group{ID: "g-1", SecurityEnabled: true}, breakGlassID)
	return d
}

func TestProtectedIdentityIsRefusedByEveryAction(t *testing.T) {
	params := map[remediation.Action]string{
		remediation.ActionRemoveRoleAssignments:  `{"all":true}`,
		remediation.ActionRemoveGroupMemberships: `{"all":true}`,
	}
	for _, e := range All() {
		for _, mode := range []string{"real", "dry run", "confirmed admin"} {
			t.Run(string(e.Action())+"/"+mode, func(t *testing.T) {
				d := protectedFixture()
				before := d.roleState()
				// Submitted by UPN: the guard must resolve the object id.
				x, rec := newExecRec(d, e.Action(), "bg@contoso.com", nil)
				x.Tenant.Settings.ProtectedIdentities = []string{"99999999-9999-9999-9999-999999999999"}
				x.Job.Params = json.RawMessage(params[e.Action()])
				x.Job.DryRun = mode == "dry run"
				x.Job.ConfirmAdminTargets = mode == "confirmed admin"
				res, err := e.Execute(context.Background(), x)
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				assertRefused(t, res, remediation.ItemSkipped, "protected_identity",
					"protected identity (break-glass / emergency access): refused")
				if x.Job.DryRun {
					assertPreview(t, res, "rejected_protected")
				}
				assertNoWrites(t, d, rec)
				if got := d.roleState(); len(got) != len(before) {
					t.Errorf("roles changed: %q", got)
				}
			})
		}
	}
}

func TestAdminTargetGuard(t *testing.T) {
	const groupID = "aaaaaaaa-0000-0000-0000-000000000001"
	tests := []struct {
		name    string
		setup   func(d *fakeDir)
		wantMsg string
	}{
		{name: "direct Global Administrator", setup: func(d *fakeDir) { d.assign(aliceID, roleGA, false) },
			wantMsg: "holds Global Administrator; resubmit with confirm_admin_targets"},
		{name: "through a role-assignable group", setup: func(d *fakeDir) {
			d.addGroup(remediation.Group{ID: groupID, IsAssignableToRole: true, SecurityEnabled: true}, aliceID)
			d.assign(groupID, roleUserAdmin, false)
		}, wantMsg: "holds User Administrator; resubmit with confirm_admin_targets"},
		{name: "active PIM instance only", setup: func(d *fakeDir) {
			d.instances = append(d.instances, remediation.RoleAssignment{ID: "inst-1", PrincipalID: aliceID,
				RoleDefinitionID: roleGA, DirectoryScopeID: "/", AssignmentType: "Activated", MemberType: "Direct"})
		}, wantMsg: "holds Global Administrator; resubmit with confirm_admin_targets"},
		{name: "several roles, sorted", setup: func(d *fakeDir) {
			d.assign(aliceID, roleUserAdmin, false)
			d.assign(aliceID, roleGA, true)
			d.assign(aliceID, roleReader, false)
		}, wantMsg: "holds Global Administrator, User Administrator; resubmit with confirm_admin_targets"},
	}
	guarded := []remediation.Executor{DisableUser{}, EnforceMFA{}, EnforcePhishingResistantMFA{}}
	for _, tc := range tests {
		for _, e := range guarded {
			t.Run(tc.name+"/"+string(e.Action()), func(t *testing.T) {
				d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
				tc.setup(d)
				x, rec := newExecRec(d, e.Action(), aliceID, nil)
				res, err := e.Execute(context.Background(), x)
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				if e.Action() == remediation.ActionEnforcePhishingResistantMFA && res.Error != nil && res.Error.Code == "not_global_admin" {
					return // checked in the phishing-resistant tests
				}
				assertRefused(t, res, remediation.ItemSkipped, "admin_target_not_confirmed", tc.wantMsg)
				assertNoWrites(t, d, rec)

				// Confirmed: the action goes ahead.
				x, rec = newExecRec(d, e.Action(), aliceID, nil)
				x.Job.ConfirmAdminTargets = true
				res, err = e.Execute(context.Background(), x)
				if err != nil || res.Error != nil {
					t.Fatalf("confirmed: %+v, %v", res, err)
				}
				if len(d.writeList())+len(rec.requests) == 0 {
					t.Errorf("confirmed admin target: nothing written or requested (%+v)", res)
				}
			})
		}
	}
}

func TestAdminGuardDoesNotApplyToRevoke(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
	d.assign(aliceID, roleGA, false)
	x, _ := newExec(d, remediation.ActionRevokeSessions, aliceID, nil)
	res, err := RevokeSessions{}.Execute(context.Background(), x)
	if err != nil || res.Status != remediation.ItemSucceeded {
		t.Fatalf("revoke of an admin = %+v, %v; want succeeded", res, err)
	}
}

func TestNonPrivilegedRoleIsNoAdminTarget(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
	d.assign(aliceID, roleReader, false)
	x, _ := newExec(d, remediation.ActionDisableUser, aliceID, nil)
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil || res.Detail != "disabled" {
		t.Fatalf("disable of a Directory Reader = %+v, %v; want disabled", res, err)
	}
}

func TestDirectoryWithoutRoleSurfaceIsAnError(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member", AccountEnabled: true})
	x, _ := newExec(plainDir{d}, remediation.ActionDisableUser, aliceID, nil)
	_, err := DisableUser{}.Execute(context.Background(), x)
	if remediation.ErrorCode(err) != remediation.ENOTIMPLEMENTED {
		t.Fatalf("err = %v, want %s", err, remediation.ENOTIMPLEMENTED)
	}
	if w := d.writeList(); len(w) > 0 {
		t.Errorf("wrote %q without the admin check", w)
	}
}
