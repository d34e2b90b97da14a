package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// End-to-end test of remove_role_assignments: one identity per job, direct
// assignments deleted, PIM activations removed with adminRemove, group-held
// roles reported, the last Global Administrator kept, undo re-creating.

// assignmentSet is the tenant's active role assignments as
// "principal role scope" keys (re-created assignments may get new ids).
func assignmentSet(tn *graphsim.Tenant) map[string]int {
	out := map[string]int{}
	for _, a := range tn.RoleAssignments() {
		out[strings.ToLower(a.PrincipalID+" "+a.RoleDefinitionID+" "+a.DirectoryScopeID)]++
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// targetBy returns the target whose role definition is role.
func targetBy(t *testing.T, ts []target, role string) target {
	t.Helper()
	for _, x := range ts {
		if strings.EqualFold(x.RoleDefinitionID, role) {
			return x
		}
	}
	t.Fatalf("no target for role %s in %+v", role, ts)
	return target{}
}

// TestActionsRemoveRoleAssignments drives remove_role_assignments and its
// undo, and the API's refusals of malformed jobs.
func TestActionsRemoveRoleAssignments(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	d := tn.Domain()
	soleGA := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "ga@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	u := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "risky.admin@" + d, AccountEnabled: true})
	direct := tn.AssignRole(u.ID, graphsim.RoleSecurityAdministrator, graphsim.AssignDirect)
	pim := tn.AssignRole(u.ID, graphsim.RoleUserAdministrator, graphsim.AssignPIMActivated)
	exchangeAdmins := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Exchange admins", SecurityEnabled: true,
		IsAssignableToRole: true, Members: []string{u.ID}})
	viaGroup := tn.AssignRole(exchangeAdmins.ID, graphsim.RoleExchangeAdministrator, graphsim.AssignDirect)
	original := assignmentSet(tn)
	var pimEnds time.Time
	for _, a := range tn.RoleAssignments() {
		if a.ID == pim {
			pimEnds = a.EndsAt
		}
	}
	if pimEnds.IsZero() {
		t.Fatal("the PIM activation has no end")
	}
	path := "/v1/tenants/" + tn.ID() + "/remediations"

	// Malformed parameters: 400; two identities: 422; nothing is stored.
	for _, params := range []any{nil, map[string]any{}, map[string]any{"all": false},
		map[string]any{"all": true, "role_definition_ids": []string{graphsim.RoleUserAdministrator}},
		map[string]any{"role_definition_ids": []string{"not-a-guid"}}, map[string]any{"role_definition_ids": []string{}},
		map[string]any{"role_assignment_ids": []string{"a/b"}}, map[string]any{"group_ids": []string{exchangeAdmins.ID}},
		[]string{"all"}} {
		code, raw := s.call("POST", path, map[string]any{"action": "remove_role_assignments", "identities": []string{u.ID},
			"reason": "bad parameters", "parameters": params})
		if e := decodeAs[apiError](t, raw); code != http.StatusBadRequest || e.Error.Code != "invalid" {
			t.Errorf("parameters %v: %d %s, want 400 invalid", params, code, raw)
		}
	}
	code, raw := s.call("POST", path, map[string]any{"action": "remove_role_assignments", "identities": []string{u.ID, soleGA.ID},
		"reason": "two at once", "parameters": map[string]any{"all": true}})
	if e := decodeAs[apiError](t, raw); code != http.StatusUnprocessableEntity || e.Error.Code != "unprocessable" {
		t.Errorf("two identities: %d %s, want 422", code, raw)
	}
	var list struct {
		Remediations []jobView `json:"remediations"`
	}
	if code := s.do("GET", "/v1/remediations?tenant_id="+tn.ID(), nil, nil, &list); code != 200 || len(list.Remediations) != 0 {
		t.Errorf("refused requests stored jobs: %d %d", code, len(list.Remediations))
	}

	// all: the direct one deleted, the PIM one adminRemoved, the group-held
	// one reported.
	s.sim.ResetLog()
	job := s.remediate(tn.ID(), map[string]any{"action": "remove_role_assignments", "identities": []string{u.ID},
		"parameters": map[string]any{"all": true}}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 1})
	it := wantItem(t, s.actionItems(job.ID), u.ID, "succeeded", "", "2 removed", "1 not removable")
	ts := it.results(t).Targets
	if len(ts) != 3 {
		t.Fatalf("targets %+v, want 3", ts)
	}
	if x := targetBy(t, ts, graphsim.RoleSecurityAdministrator); x.RoleAssignmentID != direct || x.Status != "succeeded" || x.Detail != "removed" {
		t.Errorf("direct assignment target: %+v", x)
	}
	if x := targetBy(t, ts, graphsim.RoleUserAdministrator); x.RoleAssignmentID != pim || x.Status != "succeeded" || !strings.Contains(x.Detail, "adminRemove") {
		t.Errorf("PIM assignment target: %+v", x)
	}
	if x := targetBy(t, ts, graphsim.RoleExchangeAdministrator); x.Status != "skipped" || !strings.Contains(x.Detail, exchangeAdmins.ID) ||
		!strings.Contains(x.Detail, "not removable") {
		t.Errorf("group-held target: %+v", x)
	}
	if now, _ := tn.User(u.ID); len(now.Roles) != 0 {
		t.Errorf("user still holds %v", now.Roles)
	}
	left := map[string]bool{}
	for _, a := range tn.RoleAssignments() {
		left[a.ID] = true
	}
	if !left[viaGroup] || len(left) != 2 {
		t.Errorf("assignments left %v, want the group's and the Global Administrator's", left)
	}
	adminRemove := false
	for _, w := range tenantWrites(s.sim, tn.ID()) {
		switch {
		case w.Operation == "POST /roleManagement/directory/roleAssignmentScheduleRequests":
			body := string(w.Body)
			adminRemove = adminRemove || (w.Status == http.StatusCreated && strings.Contains(body, `"adminRemove"`) &&
				strings.Contains(body, graphsim.RoleUserAdministrator) && strings.Contains(body, u.ID))
		case w.Operation == "DELETE /roleManagement/directory/roleAssignments/{aid}" && w.Status == http.StatusNoContent:
			if !strings.HasSuffix(w.Path, "/"+direct) {
				t.Errorf("deleted %s", w.Path)
			}
		default:
			t.Errorf("unexpected write %s %s", w.Method, w.Path)
		}
		if strings.Contains(w.Path, viaGroup) || strings.Contains(w.Path, exchangeAdmins.ID) {
			t.Errorf("write to the group-held role: %s %s", w.Method, w.Path)
		}
	}
	if !adminRemove {
		t.Errorf("no adminRemove roleAssignmentScheduleRequest for the PIM activation:%s", describe(tenantWrites(s.sim, tn.ID())))
	}

	// The tenant's last Global Administrator is never removed.
	s.sim.ResetLog()
	last := s.remediate(tn.ID(), map[string]any{"action": "remove_role_assignments", "identities": []string{soleGA.ID},
		"parameters": map[string]any{"role_definition_ids": []string{strings.ToUpper(graphsim.RoleGlobalAdministrator)}}}, time.Minute)
	wantCounts(t, last, map[string]int{"failed": 1})
	it = wantItem(t, s.actionItems(last.ID), soleGA.ID, "failed", "last_global_admin")
	if ts := it.results(t).Targets; len(ts) != 1 || ts[0].Status != "failed" || ts[0].Error == nil || ts[0].Error.Code != "last_global_admin" {
		t.Errorf("last Global Administrator target: %+v", ts)
	}
	if now, _ := tn.User(soleGA.ID); len(now.Roles) != 1 || now.Roles[0] != graphsim.RoleGlobalAdministrator {
		t.Errorf("last Global Administrator lost the role: %v", now.Roles)
	}
	if w := tenantWrites(s.sim, tn.ID()); len(w) != 0 {
		t.Errorf("writes for the last Global Administrator:%s", describe(w))
	}
	// A failed per-target item is undone too (some of its targets may have
	// been removed); this one removed nothing, so its undo skips it and
	// writes nothing.
	if code, u, e := s.undo(last.ID); code != http.StatusAccepted {
		t.Errorf("undo of a job whose item failed: %d %+v", code, e)
	} else if fin := s.waitJob(u.ID, 60*time.Second); fin.Counts["skipped"] != 1 {
		t.Errorf("undo of a job that removed nothing: %+v, want its item skipped", fin)
	}
	if w := tenantWrites(s.sim, tn.ID()); len(w) != 0 {
		t.Errorf("the undo of nothing wrote:%s", describe(w))
	}

	// Undo re-creates both: the simulator's assignments are the original ones.
	code, undo, _ := s.undo(job.ID)
	if code != http.StatusAccepted {
		t.Fatalf("undo: %d", code)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 1})
	it = wantItem(t, s.actionItems(undo.ID), u.ID, "succeeded", "", "2 restored")
	for _, x := range it.results(t).Targets {
		if x.Status != "succeeded" {
			t.Errorf("undo target %+v", x)
		}
	}
	if got := assignmentSet(tn); !equalCounts(got, original) {
		t.Errorf("assignments after the undo:\n%v\nwant the original:\n%v", got, original)
	}
	for _, a := range tn.RoleAssignments() {
		if a.PrincipalID == u.ID {
			t.Logf("re-created %s as %s (%s, ends %v)", a.RoleDefinitionID, a.ID, fmt.Sprint(a.Kind), a.EndsAt)
		}
		// The activation comes back until it would have ended, not for
		// good; the direct assignment stays without an end.
		switch {
		case a.PrincipalID == u.ID && a.RoleDefinitionID == graphsim.RoleUserAdministrator && !a.EndsAt.Equal(pimEnds):
			t.Errorf("re-created PIM activation ends %v, want %v (the original end)", a.EndsAt, pimEnds)
		case a.PrincipalID == u.ID && a.RoleDefinitionID == graphsim.RoleSecurityAdministrator && !a.EndsAt.IsZero():
			t.Errorf("re-created direct assignment ends %v, want no end", a.EndsAt)
		}
	}
}
