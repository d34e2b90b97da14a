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

const (
	gPlain     = "a0000000-0000-0000-0000-000000000001"
	gDynamic   = "a0000000-0000-0000-0000-000000000002"
	gMailSec   = "a0000000-0000-0000-0000-000000000003"
	gUnified   = "a0000000-0000-0000-0000-000000000004"
	gOnPrem    = "a0000000-0000-0000-0000-000000000005"
	gOtherOnly = "a0000000-0000-0000-0000-000000000006"
)

// newGroupFixture: alice is a direct member of one group of each kind;
// bob is in gOtherOnly.
func newGroupFixture() *fakeDir {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member", AccountEnabled: true})
	d.addGroup(remediation.Group{ID: gPlain, DisplayName: "Finance", SecurityEnabled: true}, aliceID, bobID)
	d.addGroup(remediation.Group{ID: gDynamic, DisplayName: "All staff", GroupTypes: []string{"DynamicMembership"},
		MembershipRule: `user.department -ne null`, SecurityEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gMailSec, DisplayName: "Finance DL", MailEnabled: true, SecurityEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gUnified, DisplayName: "Project X", GroupTypes: []string{"Unified"}, MailEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gOnPrem, DisplayName: "HQ (AD)", SecurityEnabled: true, OnPremisesSyncEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gOtherOnly, DisplayName: "Sales", SecurityEnabled: true}, bobID)
	return d
}

func runGroups(t *testing.T, d *fakeDir, params string, dry bool) (remediation.Result, *remediation.Exec, *execRecorder) {
	t.Helper()
	x, rec := newExecRec(d, remediation.ActionRemoveGroupMemberships, "alice@contoso.com", nil)
	x.Job.Params, x.Job.DryRun = json.RawMessage(params), dry
	res, err := RemoveGroupMemberships{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return res, x, rec
}

func TestRemoveGroupMemberships(t *testing.T) {
	d := newGroupFixture()
	res, _, rec := runGroups(t, d, `{"group_ids":["`+gPlain+`","`+gDynamic+`","`+gMailSec+`","`+strings.ToUpper(gUnified)+
		`","`+gOnPrem+`","`+gOtherOnly+`","`+gPlain+`"]}`, false)
	_, targets := decodeTargets(t, res)
	want := []string{
		gPlain + " | succeeded | removed",
		gDynamic + " | failed | dynamic group (rule-based membership): the product never changes dynamic groups | dynamic_group",
		gMailSec + " | failed | mail-enabled security group or distribution list: not removable through Graph (use Exchange) | mail_enabled_group",
		gUnified + " | succeeded | removed",
		gOnPrem + " | failed | managed on-premises: change the membership in on-premises AD | on_premises_group",
		gOtherOnly + " | succeeded | not a member: no change",
	}
	if got := targetLines(targets, "group_id"); !slices.Equal(got, want) {
		t.Errorf("targets:\n got %q\nwant %q", got, want)
	}
	if str(targets[0]["display_name"]) != "Finance" {
		t.Errorf("target 0 = %v", targets[0])
	}
	assertRefused(t, res, remediation.ItemFailed, "dynamic_group", "")
	if res.Detail != "2 removed, 1 no change, 3 failed" {
		t.Errorf("detail = %q", res.Detail)
	}
	wantPrior := `{"user_id":"` + aliceID + `","groups":[{"id":"` + gPlain + `","display_name":"Finance"},{"id":"` + gUnified +
		`","display_name":"Project X"}]}`
	if len(rec.saved) != 1 || string(rec.saved[0]) != wantPrior || string(res.PriorState) != wantPrior {
		t.Errorf("saved %q, prior %s; want %s", rec.saved, res.PriorState, wantPrior)
	}
	calls := d.callList()
	if i, j := slices.Index(calls, "SavePriorState"), slices.Index(calls, "RemoveGroupMember "+gPlain+"/"+aliceID); i < 0 || j < i {
		t.Errorf("calls = %q: the prior state must be saved first", calls)
	}
	for _, w := range d.writeList() {
		if strings.Contains(w, gDynamic) || strings.Contains(w, gMailSec) || strings.Contains(w, gOnPrem) {
			t.Errorf("wrote to a refused group: %q", w)
		}
	}
	if d.inGroup(gPlain, aliceID) || !d.inGroup(gPlain, bobID) || !d.inGroup(gDynamic, aliceID) {
		t.Errorf("memberships = %q", d.groupState())
	}
}

func TestRemoveGroupMembershipsAll(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com"})
	d.addGroup(remediation.Group{ID: gPlain, DisplayName: "Finance", SecurityEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gUnified, DisplayName: "Project X", GroupTypes: []string{"Unified"}, MailEnabled: true}, aliceID)
	d.addGroup(remediation.Group{ID: gOtherOnly, DisplayName: "Sales"}, bobID)
	res, _, _ := runGroups(t, d, `{"all":true}`, false)
	if res.Status != remediation.ItemSucceeded || res.Detail != "2 removed" {
		t.Errorf("result = %s %q", res.Status, res.Detail)
	}
	if got := d.groupState(); !slices.Equal(got, []string{gOtherOnly + " " + bobID}) {
		t.Errorf("memberships = %q", got)
	}
	// Nothing left: no change, no save.
	res, _, rec := runGroups(t, d, `{"all":true}`, false)
	if res.Status != remediation.ItemSucceeded || res.Detail != "nothing to do: no change" || len(rec.saved) != 0 {
		t.Errorf("second run = %+v, saved %q", res, rec.saved)
	}
}

func TestRemoveGroupMembershipsGraphAnswers(t *testing.T) {
	t.Run("not a member by the time of the write", func(t *testing.T) {
		d := newGroupFixture()
		d.before["RemoveGroupMember"] = func() { delete(d.groups[gPlain].members, aliceID) }
		res, _, _ := runGroups(t, d, `{"group_ids":["`+gPlain+`"]}`, false)
		_, targets := decodeTargets(t, res)
		if got := targetLines(targets, "group_id"); got[0] != gPlain+" | succeeded | not a member: no change" {
			t.Errorf("targets = %q", got)
		}
	})
	t.Run("a 400 for a member is a failure", func(t *testing.T) {
		d := newGroupFixture()
		d.errs["RemoveGroupMember"] = gerr("RemoveGroupMember", http.StatusBadRequest, "Request_BadRequest")
		res, _, _ := runGroups(t, d, `{"group_ids":["`+gPlain+`"]}`, false)
		assertRefused(t, res, remediation.ItemFailed, "Request_BadRequest", "")
	})
	t.Run("throttling is returned", func(t *testing.T) {
		d := newGroupFixture()
		throttled := gerr("RemoveGroupMember", http.StatusServiceUnavailable, "serviceNotAvailable")
		d.errs["RemoveGroupMember"] = throttled
		x, _ := newExecRec(d, remediation.ActionRemoveGroupMemberships, aliceID, nil)
		x.Job.Params = json.RawMessage(`{"group_ids":["` + gPlain + `"]}`)
		if _, err := (RemoveGroupMemberships{}).Execute(context.Background(), x); !errors.Is(err, throttled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("invalid parameters", func(t *testing.T) {
		d := newGroupFixture()
		res, _, rec := runGroups(t, d, `{"group_ids":[],"all":false}`, false)
		assertRefused(t, res, remediation.ItemFailed, "invalid_parameters", "")
		assertNoWrites(t, d, rec)
	})
}

func TestRemoveGroupMembershipsDryRun(t *testing.T) {
	d := newGroupFixture()
	res, _, rec := runGroups(t, d, `{"group_ids":["`+gPlain+`","`+gOtherOnly+`"]}`, true)
	assertNoWrites(t, d, rec)
	pv, targets := decodeTargets(t, res)
	want := []string{gPlain + " | succeeded | would remove", gOtherOnly + " | succeeded | not a member: no change"}
	if got := targetLines(targets, "group_id"); !slices.Equal(got, want) || pv != "would_change" ||
		res.Detail != "1 would be removed, 1 no change" {
		t.Errorf("dry run %q %q %q", pv, res.Detail, got)
	}
	res, _, _ = runGroups(t, d, `{"group_ids":["`+gDynamic+`"]}`, true)
	if pv, _ := decodeTargets(t, res); pv != "not_removable" || res.Status != remediation.ItemFailed {
		t.Errorf("dry run of a dynamic group = %s %q", res.Status, pv)
	}
}

func TestRemoveGroupMembershipsUndoRestoresTheMemberships(t *testing.T) {
	d := newGroupFixture()
	before := d.groupState()
	res, x, _ := runGroups(t, d, `{"all":true}`, false)
	if slices.Equal(d.groupState(), before) {
		t.Fatal("nothing removed")
	}
	undoExec(x, res)
	x.Job.DryRun = true
	writes := len(d.writeList())
	if pre, err := (RemoveGroupMemberships{}).Execute(context.Background(), x); err != nil || len(d.writeList()) != writes {
		t.Fatalf("undo dry run = %+v, %v", pre, err)
	}
	x.Job.DryRun = false
	undo, err := RemoveGroupMemberships{}.Execute(context.Background(), x)
	if err != nil || undo.Status != remediation.ItemSucceeded || undo.Detail != "2 re-added" {
		t.Fatalf("undo = %+v, %v", undo, err)
	}
	if got := d.groupState(); !slices.Equal(got, before) {
		t.Errorf("memberships after undo:\n got %q\nwant %q", got, before)
	}

	// Already a member (Graph's 400): no change.
	d.before["AddGroupMember"] = nil
	d.errs = map[string]error{}
	again, err := RemoveGroupMemberships{}.Execute(context.Background(), x)
	if err != nil || again.Detail != "2 no change" {
		t.Errorf("second undo = %+v, %v", again, err)
	}
	// Race: re-added by someone between the read and the write.
	delete(d.groups[gPlain].members, aliceID)
	d.before["AddGroupMember"] = func() { d.groups[gPlain].members[aliceID] = true }
	race, err := RemoveGroupMemberships{}.Execute(context.Background(), x)
	if err != nil || race.Status != remediation.ItemSucceeded || race.Detail != "2 no change" {
		t.Errorf("undo with a concurrent add = %+v, %v", race, err)
	}
}
