package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// End-to-end tests of remove_group_memberships: only members/{id}/$ref
// deletes, dynamic groups refused, groups Graph cannot change reported,
// undo re-adding.

// memberships snapshots every group's direct members.
func memberships(tn *graphsim.Tenant) map[string][]string {
	out := map[string][]string{}
	for _, g := range tn.Groups() {
		out[g.ID] = g.Members
	}
	return out
}

func sameMemberships(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for id, m := range a {
		if !sameIDs(m, b[id]) {
			return false
		}
	}
	return true
}

// targetOf returns the target of one group.
func targetOf(t *testing.T, ts []target, groupID string) target {
	t.Helper()
	for _, x := range ts {
		if strings.EqualFold(x.GroupID, groupID) {
			return x
		}
	}
	t.Fatalf("no target for group %s in %+v", groupID, ts)
	return target{}
}

// assertOnlyRefDeletes fails on a request that deletes a group member
// without /$ref (which deletes the user itself) and on deleted objects.
func assertOnlyRefDeletes(t *testing.T, sim *graphsim.Server, tn *graphsim.Tenant) {
	t.Helper()
	for _, r := range sim.Requests() {
		if r.Method == http.MethodDelete && strings.Contains(r.Path, "/members/") && !strings.HasSuffix(r.Path, "/$ref") {
			t.Errorf("member DELETE without $ref: %s (%s)", r.Path, r.Operation)
		}
	}
	if d := tn.DeletedObjects(); len(d) != 0 {
		t.Errorf("directory objects deleted: %v", d)
	}
}

// TestActionsRemoveGroupMemberships: an assigned security group and a
// Microsoft 365 group are left through $ref, a group the user is not in is
// no change, a dynamic group is refused, mail-enabled security groups,
// distribution lists and synced groups are reported and never written;
// undo re-adds exactly what was removed.
func TestActionsRemoveGroupMemberships(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	d := tn.Domain()
	u := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "leaver@" + d, AccountEnabled: true})
	other := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "stayer@" + d, AccountEnabled: true})
	both := []string{u.ID, other.ID}
	finance := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Finance", SecurityEnabled: true, Members: both})
	project := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Project X", GroupTypes: []string{"Unified"}, MailEnabled: true, Members: both})
	sales := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Sales", SecurityEnabled: true, Members: []string{other.ID}})
	dynamic := tn.AddGroup(graphsim.GroupSpec{DisplayName: "All employees", GroupTypes: []string{"DynamicMembership"},
		MembershipRule: `(user.accountEnabled -eq true)`, SecurityEnabled: true, Members: both})
	mailSec := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Finance alerts", MailEnabled: true, SecurityEnabled: true, Members: both})
	dl := tn.AddGroup(graphsim.GroupSpec{DisplayName: "finance-dl", MailEnabled: true, Members: both})
	synced := tn.AddGroup(graphsim.GroupSpec{DisplayName: "HQ staff", SecurityEnabled: true, OnPremisesSyncEnabled: true, Members: both})
	original := memberships(tn)
	s.sim.ResetLog()

	// Assigned security group and Microsoft 365 group removed; not a member: no change.
	job := s.remediate(tn.ID(), map[string]any{"action": "remove_group_memberships", "identities": []string{u.ID},
		"parameters": map[string]any{"group_ids": []string{finance.ID, strings.ToUpper(project.ID), sales.ID}}}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 1})
	it := wantItem(t, s.actionItems(job.ID), u.ID, "succeeded", "", "2 removed", "1 no change")
	ts := it.results(t).Targets
	for _, g := range []graphsim.GroupState{finance, project} {
		if x := targetOf(t, ts, g.ID); x.Status != "succeeded" || x.Detail != "removed" {
			t.Errorf("%s: %+v", g.DisplayName, x)
		}
		if now, _ := tn.Group(g.ID); !sameIDs(now.Members, []string{other.ID}) {
			t.Errorf("%s members %v, want only %s", g.DisplayName, now.Members, other.ID)
		}
	}
	if x := targetOf(t, ts, sales.ID); x.Status != "succeeded" || x.Detail != "not a member: no change" {
		t.Errorf("Sales (not a member): %+v", x)
	}
	writes := tenantWrites(s.sim, tn.ID())
	for _, w := range writes {
		if w.Operation != "DELETE /groups/{gid}/members/{id}/$ref" || w.Status != http.StatusNoContent {
			t.Errorf("unexpected write %s %s (%s) → %d", w.Method, w.Path, w.Operation, w.Status)
		}
	}
	if len(writes) != 2 {
		t.Errorf("%d writes, want two $ref deletes:%s", len(writes), describe(writes))
	}

	// Dynamic group: refused.
	refused := s.remediate(tn.ID(), map[string]any{"action": "remove_group_memberships", "identities": []string{u.ID},
		"parameters": map[string]any{"group_ids": []string{dynamic.ID}}}, time.Minute)
	wantCounts(t, refused, map[string]int{"failed": 1})
	it = wantItem(t, s.actionItems(refused.ID), u.ID, "failed", "dynamic_group")
	if x := targetOf(t, it.results(t).Targets, dynamic.ID); x.Error == nil || x.Error.Code != "dynamic_group" {
		t.Errorf("dynamic group target: %+v", x)
	}

	// Mail-enabled security group, distribution list, synced group: reported.
	report := s.remediate(tn.ID(), map[string]any{"action": "remove_group_memberships", "identities": []string{u.ID},
		"parameters": map[string]any{"group_ids": []string{mailSec.ID, dl.ID, synced.ID}}}, time.Minute)
	it = s.actionItems(report.ID)[u.ID]
	if it.Status == "succeeded" || report.Counts["succeeded"] != 0 {
		t.Errorf("item %s %q, want it not to succeed", it.Status, it.Detail)
	}
	ts = it.results(t).Targets
	for g, code := range map[string]string{mailSec.ID: "mail_enabled_group", dl.ID: "mail_enabled_group", synced.ID: "on_premises_group"} {
		if x := targetOf(t, ts, g); x.Status == "succeeded" || x.Error == nil || x.Error.Code != code {
			t.Errorf("group %s: %+v, want not removable (%s)", g, x, code)
		}
	}
	if w := tenantWrites(s.sim, tn.ID()); len(w) != len(writes) {
		t.Errorf("writes for refused groups:%s", describe(w[len(writes):]))
	}
	for _, g := range []graphsim.GroupState{dynamic, mailSec, dl, synced} {
		if now, _ := tn.Group(g.ID); !sameIDs(now.Members, both) {
			t.Errorf("%s members changed: %v", g.DisplayName, now.Members)
		}
	}

	// Undo re-adds the two memberships: the groups are as before.
	code, undo, _ := s.undo(job.ID)
	if code != http.StatusAccepted {
		t.Fatalf("undo: %d", code)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 1})
	wantItem(t, s.actionItems(undo.ID), u.ID, "succeeded", "", "2 re-added")
	if got := memberships(tn); !sameMemberships(got, original) {
		t.Errorf("memberships after the undo:\n%v\nwant:\n%v", got, original)
	}
	adds := 0
	for _, w := range tenantWrites(s.sim, tn.ID()) {
		if w.Operation == "POST /groups/{gid}/members/$ref" && w.Status == http.StatusNoContent {
			adds++
		}
	}
	if adds != 2 {
		t.Errorf("%d member $ref POSTs, want 2", adds)
	}
	assertOnlyRefDeletes(t, s.sim, tn)
}

// TestActionsRemoveGroupMembershipsUndoPartial: with all=true, a user in a
// dynamic group and an assigned group loses the assigned membership while
// the dynamic group is refused; the undo must still re-add what was
// removed.
func TestActionsRemoveGroupMembershipsUndoPartial(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	u := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "leaver@" + tn.Domain(), AccountEnabled: true})
	finance := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Finance", SecurityEnabled: true, Members: []string{u.ID}})
	tn.AddGroup(graphsim.GroupSpec{DisplayName: "All employees", GroupTypes: []string{"DynamicMembership"},
		MembershipRule: `(user.accountEnabled -eq true)`, SecurityEnabled: true, Members: []string{u.ID}})
	original := memberships(tn)

	job := s.remediate(tn.ID(), map[string]any{"action": "remove_group_memberships", "identities": []string{u.ID},
		"parameters": map[string]any{"all": true}}, time.Minute)
	it := s.actionItems(job.ID)[u.ID]
	if x := targetOf(t, it.results(t).Targets, finance.ID); x.Status != "succeeded" || x.Detail != "removed" {
		t.Fatalf("Finance target %+v", x)
	}
	if g, _ := tn.Group(finance.ID); len(g.Members) != 0 {
		t.Fatalf("Finance members %v", g.Members)
	}
	code, undo, e := s.undo(job.ID)
	if code != http.StatusAccepted {
		t.Fatalf("the job removed the user from Finance (item %s %q), but its undo is refused: %d %s",
			it.Status, it.Detail, code, e.Error.Message)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 1})
	if got := memberships(tn); !sameMemberships(got, original) {
		t.Errorf("memberships after the undo: %v, want %v", got, original)
	}
	assertOnlyRefDeletes(t, s.sim, tn)
}
