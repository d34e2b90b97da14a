package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// End-to-end tests of the six actions' rules (TestActions…): the API over
// HTTP, the api and worker commands on real Redis and PostgreSQL, the real
// SDK against the Graph simulator, whose state and request log are the
// evidence. This file: disable_user and revoke_sessions.

// TestActionsDisableUser: admin targets need confirm_admin_targets,
// protected identities are refused and never written, undo re-enables
// exactly the users the job disabled, and an undo cannot be undone.
func TestActionsDisableUser(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	d := tn.Domain()
	admin := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "admin@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	secAdmin := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "secops@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleSecurityAdministrator}})
	breakGlass := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "breakglass@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	gone := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "gone@" + d, AccountEnabled: false})
	members := addMembers(tn, "dis", 3)
	s.settings(tn.ID(), map[string]any{"protected_identities": []string{strings.ToUpper(breakGlass.ID)}})

	// Without confirmation: the admins are skipped naming their role, the
	// break-glass account is refused, the rest run.
	s.sim.ResetLog()
	job := s.remediate(tn.ID(), map[string]any{"action": "disable_user",
		"identities": concat([]string{admin.ID, secAdmin.ID, breakGlass.ID, gone.ID}, members)}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 4, "skipped": 3})
	items := s.actionItems(job.ID)
	wantItem(t, items, admin.ID, "skipped", "admin_target_not_confirmed", "Global Administrator", "confirm_admin_targets")
	wantItem(t, items, secAdmin.ID, "skipped", "admin_target_not_confirmed", "Security Administrator")
	wantItem(t, items, breakGlass.ID, "skipped", "protected_identity")
	wantItem(t, items, gone.ID, "succeeded", "", "already disabled")
	for _, id := range members {
		wantItem(t, items, id, "succeeded", "", "disabled")
	}
	for _, u := range []graphsim.UserState{admin, secAdmin, breakGlass} {
		if now, _ := tn.User(u.ID); !now.AccountEnabled || now.PatchCount != 0 {
			t.Errorf("%s was changed: enabled=%v patches=%d", u.UserPrincipalName, now.AccountEnabled, now.PatchCount)
		}
	}
	writes := tenantWrites(s.sim, tn.ID())
	for _, w := range writes {
		for _, id := range []string{admin.ID, secAdmin.ID, breakGlass.ID, gone.ID} {
			if strings.Contains(strings.ToLower(w.Path), id) {
				t.Errorf("a write reached %s: %s %s", id, w.Method, w.Path)
			}
		}
	}
	if len(writes) != len(members) {
		t.Errorf("%d writes, want one PATCH per member:%s", len(writes), describe(writes))
	}

	// Confirmed: the admin is disabled; the break-glass account still not.
	confirmed := s.remediate(tn.ID(), map[string]any{"action": "disable_user", "confirm_admin_targets": true,
		"identities": []string{admin.ID, breakGlass.ID}}, time.Minute)
	wantCounts(t, confirmed, map[string]int{"succeeded": 1, "skipped": 1})
	items = s.actionItems(confirmed.ID)
	wantItem(t, items, admin.ID, "succeeded", "", "disabled")
	wantItem(t, items, breakGlass.ID, "skipped", "protected_identity")
	if now, _ := tn.User(admin.ID); now.AccountEnabled {
		t.Errorf("confirmed admin target not disabled")
	}
	if now, _ := tn.User(breakGlass.ID); !now.AccountEnabled || now.PatchCount != 0 {
		t.Errorf("break-glass account changed with confirmation: %+v", now)
	}

	// Undo of the first job: exactly the three members it disabled are
	// enabled again; the user that was already disabled stays disabled
	// (and is not written), the admin disabled by the other job too.
	before := enabledStates(tn)
	code, undo, _ := s.undo(job.ID)
	if code != http.StatusAccepted {
		t.Fatalf("undo: %d", code)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 3, "skipped": 1})
	undoItems := s.actionItems(undo.ID)
	wantItem(t, undoItems, gone.ID, "skipped", "", "nothing to undo")
	after := enabledStates(tn)
	changed := map[string]bool{}
	for id, was := range before {
		if after[id] != was {
			changed[id] = after[id]
		}
	}
	if len(changed) != len(members) {
		t.Errorf("undo changed %d users (%v), want exactly the %d members re-enabled", len(changed), changed, len(members))
	}
	for _, id := range members {
		if !changed[id] {
			t.Errorf("member %s not re-enabled by the undo", id)
		}
		wantItem(t, undoItems, id, "succeeded", "", "enabled")
	}
	if u, _ := tn.User(gone.ID); u.AccountEnabled || u.PatchCount != 0 {
		t.Errorf("already-disabled user touched by the undo: %+v", u)
	}

	// An undo cannot be undone.
	code, _, e := s.undo(undo.ID)
	if code != http.StatusUnprocessableEntity || e.Error.Code != "unprocessable" {
		t.Errorf("undo of an undo: %d %+v, want 422 unprocessable", code, e)
	}
}

// TestActionsRevokeSessionsUndo: revoked sessions cannot be undone (422),
// and nothing is written by the attempt.
func TestActionsRevokeSessionsUndo(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "rev", 2)
	job := s.remediate(tn.ID(), map[string]any{"action": "revoke_sessions", "identities": ids}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 2})
	s.sim.ResetLog()
	code, _, e := s.undo(job.ID)
	if code != http.StatusUnprocessableEntity || e.Error.Code != "unprocessable" ||
		!strings.Contains(e.Error.Message, "cannot be undone") {
		t.Errorf("undo of revoke_sessions: %d %+v, want 422 saying it cannot be undone", code, e)
	}
	var list struct {
		Remediations []jobView `json:"remediations"`
	}
	if code := s.do("GET", "/v1/remediations?tenant_id="+tn.ID(), nil, nil, &list); code != 200 || len(list.Remediations) != 1 {
		t.Errorf("jobs after the refused undo: %d %d, want only the original", code, len(list.Remediations))
	}
	if w := tenantWrites(s.sim, tn.ID()); len(w) != 0 {
		t.Errorf("writes after the refused undo:%s", describe(w))
	}
	for _, id := range ids {
		if u, _ := tn.User(id); u.RevokedCount != 1 {
			t.Errorf("user %s revoked %d times", id, u.RevokedCount)
		}
	}
}
