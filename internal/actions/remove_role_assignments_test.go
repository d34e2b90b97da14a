package actions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// roleFixture: alice holds User Administrator directly, Security
// Administrator through PIM, Directory Readers through a group; carol is
// another Global Administrator.
type roleFixture struct {
	d                        *fakeDir
	direct, pim, groupHeldID string
}

const (
	roleSecAdmin = "194ae4cb-b126-40b2-bd5b-6091b380977d"
	roleGroupID  = "eeeeeeee-0000-0000-0000-000000000001"
)

func newRoleFixture() *roleFixture {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member", AccountEnabled: true})
	f := &roleFixture{d: d}
	f.direct = d.assign(aliceID, roleUserAdmin, false)
	f.pim = d.assign(aliceID, roleSecAdmin, true)
	d.addGroup(remediation.Group{ID: roleGroupID, IsAssignableToRole: true, SecurityEnabled: true}, aliceID)
	gid := d.assign(roleGroupID, roleReader, false)
	f.groupHeldID = "inst-" + gid + "-" + aliceID
	d.assign(carolID, roleGA, false)
	return f
}

func runRoles(t *testing.T, d *fakeDir, params string, dry bool) (remediation.Result, *remediation.Exec, *execRecorder) {
	t.Helper()
	x, rec := newExecRec(d, remediation.ActionRemoveRoleAssignments, "alice@contoso.com", nil)
	x.Job.Params, x.Job.DryRun = json.RawMessage(params), dry
	res, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return res, x, rec
}

func TestRemoveRoleAssignmentsByID(t *testing.T) {
	f := newRoleFixture()
	params := `{"role_assignment_ids":["` + f.direct + `","` + f.pim + `","` + f.groupHeldID + `","no-such-id"]}`
	res, _, rec := runRoles(t, f.d, params, false)
	_, targets := decodeTargets(t, res)
	want := []string{
		f.direct + " | succeeded | removed",
		f.pim + " | succeeded | removed (PIM adminRemove)",
		f.groupHeldID + " | skipped | held through group " + roleGroupID + ": not removable here",
		"no-such-id | succeeded | not assigned: no change",
	}
	if got := targetLines(targets, "role_assignment_id"); !slices.Equal(got, want) {
		t.Errorf("targets:\n got %q\nwant %q", got, want)
	}
	if str(targets[0]["role_definition_id"]) != roleUserAdmin {
		t.Errorf("target 0 = %v", targets[0])
	}
	if res.Status != remediation.ItemSucceeded || res.Detail != "2 removed, 1 no change, 1 not removable here" {
		t.Errorf("result = %s %q", res.Status, res.Detail)
	}
	wantPrior := `{"assignments":[{"id":"` + f.direct + `","principal_id":"` + aliceID + `","role_definition_id":"` + roleUserAdmin +
		`","directory_scope_id":"/","kind":"direct"},{"id":"` + f.pim + `","principal_id":"` + aliceID + `","role_definition_id":"` +
		roleSecAdmin + `","directory_scope_id":"/","kind":"pim","end_date_time":"` + fakePIMEnd.Format(time.RFC3339) + `"}]}`
	if len(rec.saved) != 1 || string(rec.saved[0]) != wantPrior || string(res.PriorState) != wantPrior {
		t.Errorf("saved %q, result prior %s; want %s", rec.saved, res.PriorState, wantPrior)
	}
	calls := f.d.callList()
	if i, j := slices.Index(calls, "SavePriorState"), slices.Index(calls, "DeleteRoleAssignment "+f.direct); i < 0 || j < i {
		t.Errorf("calls = %q: prior state must be saved before the first write", calls)
	}
	if f.d.countCalls("DeleteRoleAssignment "+f.pim) != 0 {
		t.Error("PIM activation deleted with a plain DELETE")
	}
	if got := f.d.roleState(); len(got) != 2 {
		t.Errorf("roles left = %q, want the group's and carol's", got)
	}
}

func TestRemoveRoleAssignmentsByRoleAndAll(t *testing.T) {
	f := newRoleFixture()
	res, _, _ := runRoles(t, f.d, `{"role_definition_ids":["`+strings.ToUpper(roleUserAdmin)+`","`+roleGA+`"]}`, false)
	_, targets := decodeTargets(t, res)
	want := []string{roleUserAdmin + " | succeeded | removed", roleGA + " | succeeded | not assigned: no change"}
	if got := targetLines(targets, "role_definition_id"); !slices.Equal(got, want) {
		t.Errorf("targets = %q, want %q", got, want)
	}

	f = newRoleFixture()
	res, _, _ = runRoles(t, f.d, `{"all":true}`, false)
	if res.Status != remediation.ItemSucceeded || res.Detail != "2 removed, 1 not removable here" {
		t.Errorf("all = %s %q (%s)", res.Status, res.Detail, res.Results)
	}
}

func TestRemoveRoleAssignmentsInvalidParameters(t *testing.T) {
	for _, params := range []string{``, `{}`, `{"all":false}`, `{"all":true,"role_assignment_ids":["x"]}`,
		`{"role_assignment_ids":["a"],"role_definition_ids":["b"]}`, `{"role_assignment_ids":[""]}`, `[1]`} {
		f := newRoleFixture()
		x, rec := newExecRec(f.d, remediation.ActionRemoveRoleAssignments, aliceID, nil)
		x.Job.Params = json.RawMessage(params)
		res, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
		if err != nil {
			t.Fatalf("%s: %v", params, err)
		}
		assertRefused(t, res, remediation.ItemFailed, "invalid_parameters", "")
		assertNoWrites(t, f.d, rec)
	}
}

func TestRemoveRoleAssignmentsLastGlobalAdmin(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com"})
	ga := d.assign(aliceID, roleGA, false)
	res, _, rec := runRoles(t, d, `{"role_assignment_ids":["`+ga+`"]}`, false)
	assertRefused(t, res, remediation.ItemFailed, "last_global_admin", "")
	assertNoWrites(t, d, rec)

	// With another Global Administrator it goes.
	d.assign(carolID, roleGA, false)
	res, _, _ = runRoles(t, d, `{"role_assignment_ids":["`+ga+`"]}`, false)
	if res.Status != remediation.ItemSucceeded || d.countCalls("DeleteRoleAssignment "+ga) != 1 {
		t.Errorf("result = %+v", res)
	}
}

func TestRemoveRoleAssignmentsGraphAnswers(t *testing.T) {
	t.Run("404 is already removed", func(t *testing.T) {
		f := newRoleFixture()
		f.d.before["DeleteRoleAssignment"] = func() { f.d.assignments = f.d.assignments[1:] } // gone meanwhile
		res, _, _ := runRoles(t, f.d, `{"role_assignment_ids":["`+f.direct+`"]}`, false)
		_, targets := decodeTargets(t, res)
		if got := targetLines(targets, "role_assignment_id"); got[0] != f.direct+" | succeeded | already removed: no change" {
			t.Errorf("targets = %q", got)
		}
	})
	t.Run("DELETE 4xx falls back to adminRemove", func(t *testing.T) {
		f := newRoleFixture()
		f.d.errs["DeleteRoleAssignment"] = gerr("DeleteRoleAssignment", http.StatusBadRequest, "Request_BadRequest")
		res, _, _ := runRoles(t, f.d, `{"role_assignment_ids":["`+f.direct+`"]}`, false)
		if res.Status != remediation.ItemSucceeded || f.d.countCalls("AdminRemoveRoleAssignment") != 1 || len(f.d.roleState()) != 3 {
			t.Errorf("result = %+v, roles %q", res, f.d.roleState())
		}
	})
	t.Run("refusal fails the target and the item", func(t *testing.T) {
		f := newRoleFixture()
		f.d.errs["DeleteRoleAssignment"] = gerr("DeleteRoleAssignment", http.StatusForbidden, "Authorization_RequestDenied")
		f.d.errs["AdminRemoveRoleAssignment"] = gerr("AdminRemoveRoleAssignment", http.StatusForbidden, "Authorization_RequestDenied")
		res, _, _ := runRoles(t, f.d, `{"role_assignment_ids":["`+f.direct+`","`+f.pim+`"]}`, false)
		assertRefused(t, res, remediation.ItemFailed, "Authorization_RequestDenied", "")
		if res.Detail != "2 failed" {
			t.Errorf("detail = %q", res.Detail)
		}
	})
	t.Run("throttling is returned", func(t *testing.T) {
		f := newRoleFixture()
		throttled := gerr("DeleteRoleAssignment", http.StatusTooManyRequests, "TooManyRequests")
		f.d.errs["DeleteRoleAssignment"] = throttled
		x, _ := newExecRec(f.d, remediation.ActionRemoveRoleAssignments, aliceID, nil)
		x.Job.Params = json.RawMessage(`{"all":true}`)
		if _, err := (RemoveRoleAssignments{}).Execute(context.Background(), x); !errors.Is(err, throttled) {
			t.Errorf("err = %v", err)
		}
		// The retry reports what the first attempt already removed.
		delete(f.d.errs, "DeleteRoleAssignment")
		res, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
		if err != nil || res.Status != remediation.ItemSucceeded {
			t.Fatalf("retry = %+v, %v", res, err)
		}
		if p := decodeRolePrior(res.PriorState); len(p.Assignments) != 2 {
			t.Errorf("prior after retry = %s, want both assignments", res.PriorState)
		}
	})
}

func TestRemoveRoleAssignmentsRerunAfterCrash(t *testing.T) {
	f := newRoleFixture()
	res, x, _ := runRoles(t, f.d, `{"role_assignment_ids":["`+f.direct+`","`+f.pim+`"]}`, false)
	// The worker died before recording res: the item runs again with the
	// saved prior state.
	again, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	_, targets := decodeTargets(t, again)
	want := []string{f.direct + " | succeeded | removed", f.pim + " | succeeded | removed"}
	if got := targetLines(targets, "role_assignment_id"); !slices.Equal(got, want) || string(again.PriorState) != string(res.PriorState) {
		t.Errorf("rerun targets %q prior %s; want %q with %s", got, again.PriorState, want, res.PriorState)
	}
}

func TestRemoveRoleAssignmentsDryRun(t *testing.T) {
	f := newRoleFixture()
	ga := f.d.assign(aliceID, roleGA, false)
	f.d.assignments = slices.DeleteFunc(f.d.assignments, func(a *fakeAssignment) bool { return a.PrincipalID == carolID })
	res, _, rec := runRoles(t, f.d, `{"all":true}`, true)
	assertNoWrites(t, f.d, rec)
	pv, targets := decodeTargets(t, res)
	want := []string{f.direct + " | succeeded | would remove", f.pim + " | succeeded | would remove (PIM adminRemove)",
		f.groupHeldID + " | skipped | held through group " + roleGroupID + ": not removable here",
		ga + " | failed | refused: the user is the tenant's last active Global Administrator | last_global_admin"}
	slices.Sort(want)
	got := targetLines(targets, "role_assignment_id")
	slices.Sort(got)
	if !slices.Equal(got, want) || pv != "would_change" || res.Status != remediation.ItemFailed {
		t.Errorf("dry run %s %q:\n got %q\nwant %q", res.Status, pv, got, want)
	}
}

func TestRemoveRoleAssignmentsUndoRestoresTheRoles(t *testing.T) {
	f := newRoleFixture()
	before := f.d.roleState()
	res, x, _ := runRoles(t, f.d, `{"all":true}`, false)
	if slices.Equal(f.d.roleState(), before) {
		t.Fatal("nothing removed")
	}
	undoExec(x, res)
	x.Job.DryRun = true
	writes := len(f.d.writeList())
	pre, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil || len(f.d.writeList()) != writes {
		t.Fatalf("undo dry run = %+v, %v, writes %q", pre, err, f.d.writeList())
	}
	assertPreview(t, pre, "would_change")

	x.Job.DryRun = false
	undo, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil || undo.Status != remediation.ItemSucceeded || undo.Detail != "2 restored" {
		t.Fatalf("undo = %+v, %v", undo, err)
	}
	if got := f.d.roleState(); !slices.Equal(got, before) {
		t.Errorf("roles after undo:\n got %q\nwant %q", got, before)
	}
	again, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil || again.Detail != "2 no change" {
		t.Errorf("second undo = %+v, %v", again, err)
	}
}

// TestRemoveRoleAssignmentsUndoKeepsTheEnd: a PIM activation comes back
// until it would have ended, and not at all once that end has passed.
func TestRemoveRoleAssignmentsUndoKeepsTheEnd(t *testing.T) {
	f := newRoleFixture()
	res, x, _ := runRoles(t, f.d, `{"role_assignment_ids":["`+f.pim+`"]}`, false)
	prior := decodeRolePrior(res.PriorState)
	if len(prior.Assignments) != 1 || prior.Assignments[0].EndDateTime == nil || !prior.Assignments[0].EndDateTime.Equal(fakePIMEnd) {
		t.Fatalf("recorded prior %s; want the activation with its end %v", res.PriorState, fakePIMEnd)
	}

	// Ended meanwhile: nothing is re-created.
	ended := time.Now().Add(-time.Hour).UTC()
	prior.Assignments[0].EndDateTime = &ended
	res.PriorState, _ = json.Marshal(prior)
	undoExec(x, res)
	writes := len(f.d.writeList())
	undo, err := RemoveRoleAssignments{}.Execute(context.Background(), x)
	if err != nil || undo.Status != remediation.ItemSucceeded || len(f.d.writeList()) != writes {
		t.Fatalf("undo of an ended activation = %+v, %v, writes %q", undo, err, f.d.writeList()[writes:])
	}
	_, targets := decodeTargets(t, undo)
	if len(targets) != 1 || !strings.HasPrefix(str(targets[0]["detail"]), "not re-created: the assignment would have ended at ") {
		t.Errorf("undo targets = %v", targets)
	}
	if slices.ContainsFunc(f.d.roleState(), func(s string) bool { return strings.Contains(s, roleSecAdmin) }) {
		t.Errorf("an ended activation was re-created: %q", f.d.roleState())
	}
}
