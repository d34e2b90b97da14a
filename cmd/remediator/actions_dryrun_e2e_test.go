package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// dirState is everything the six actions could change in a tenant.
type dirState struct {
	Users       []graphsim.UserState
	Assignments map[string]int
	Members     map[string][]string
	Policies    []graphsim.CAPolicyState
}

func dirStateOf(tn *graphsim.Tenant) dirState {
	return dirState{Users: tn.Users(), Assignments: assignmentSet(tn), Members: memberships(tn), Policies: tn.CAPolicies()}
}

// preview is what a dry run's item must say: status, error code, the
// results' preview and a piece of the detail.
type preview struct {
	status, code, preview, detail string
}

// TestActionsDryRun: a dry run of each action answers at once with a
// preview per identity, and sends no write to Graph.
func TestActionsDryRun(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	d := tn.Domain()
	add := func(upn string, enabled bool, roles ...string) string {
		return tn.AddUser(graphsim.UserSpec{UserPrincipalName: upn + "@" + d, AccountEnabled: enabled, Roles: roles}).ID
	}
	m1, m2 := add("m1", true), add("m2", true)
	off := add("off", false)
	guest := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "g_x.com#EXT#@" + d, UserType: "Guest", AccountEnabled: true}).ID
	ga := add("ga", true, graphsim.RoleGlobalAdministrator)
	add("ga2", true, graphsim.RoleGlobalAdministrator)
	bg := add("breakglass", true, graphsim.RoleGlobalAdministrator)
	admin := add("secadmin", true, graphsim.RoleSecurityAdministrator)
	tn.AssignRole(admin, graphsim.RoleUserAdministrator, graphsim.AssignPIMActivated)
	finance := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Finance", SecurityEnabled: true, Members: []string{admin}})
	sales := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Sales", SecurityEnabled: true, Members: []string{m1}})
	s.settings(tn.ID(), map[string]any{"protected_identities": []string{bg}})

	rejectedAdmin := preview{"skipped", "admin_target_not_confirmed", "rejected_admin_target", "Global Administrator"}
	rejectedBG := preview{"skipped", "protected_identity", "rejected_protected", "protected identity"}
	cases := []struct {
		name string
		body map[string]any
		want map[string]preview
	}{
		{"disable_user", map[string]any{"action": "disable_user", "identities": []string{m1, off, ga, bg}},
			map[string]preview{m1: {"succeeded", "", "would_change", "would disable"},
				off: {"succeeded", "", "no_change", "already disabled"}, ga: rejectedAdmin, bg: rejectedBG}},
		{"revoke_sessions", map[string]any{"action": "revoke_sessions", "identities": []string{m1, guest, bg}},
			map[string]preview{m1: {"succeeded", "", "would_change", "would revoke"},
				guest: {"skipped", "", "skipped_guest", "guest"}, bg: rejectedBG}},
		{"enforce_mfa", map[string]any{"action": "enforce_mfa", "identities": []string{m1, m2, ga, bg}},
			map[string]preview{m1: {"succeeded", "", "would_change", "would create the MFA policy"},
				m2: {"succeeded", "", "would_change", "would create the MFA policy"}, ga: rejectedAdmin, bg: rejectedBG}},
		{"enforce_phishing_resistant_mfa", map[string]any{"action": "enforce_phishing_resistant_mfa",
			"identities": []string{m1, ga, bg}, "confirm_admin_targets": true},
			map[string]preview{m1: {"skipped", "not_global_admin", "rejected_not_global_admin", "Global Administrator"},
				ga: {"succeeded", "", "would_change", "would create the phishing-resistant MFA policy"}, bg: rejectedBG}},
		{"remove_role_assignments", map[string]any{"action": "remove_role_assignments", "identities": []string{admin},
			"parameters": map[string]any{"all": true}},
			map[string]preview{admin: {"succeeded", "", "would_change", "2 would be removed"}}},
		{"remove_group_memberships", map[string]any{"action": "remove_group_memberships", "identities": []string{admin},
			"parameters": map[string]any{"group_ids": []string{finance.ID, sales.ID}}},
			map[string]preview{admin: {"succeeded", "", "would_change", "1 would be removed, 1 no change"}}},
	}
	before := dirStateOf(tn)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.sim.ResetLog()
			ans := s.dryRun(tn.ID(), c.body)
			if len(ans.Items) != len(c.want) {
				t.Fatalf("%d items in the answer, want %d", len(ans.Items), len(c.want))
			}
			for _, it := range ans.Items {
				w, ok := c.want[it.Identity]
				if !ok {
					t.Errorf("unexpected item %s", it.Identity)
					continue
				}
				if it.Status != w.status || it.errCode() != w.code || it.results(t).Preview != w.preview ||
					!strings.Contains(it.Detail, w.detail) {
					t.Errorf("item %s: %s %q preview %q %q, want %s %q preview %q detail containing %q",
						it.Identity, it.Status, it.errCode(), it.results(t).Preview, it.Detail, w.status, w.code, w.preview, w.detail)
				}
			}
			if reads := len(s.sim.Requests()); reads == 0 {
				t.Errorf("the preview made no Graph request at all")
			}
			if w := s.sim.Writes(); len(w) != 0 {
				t.Errorf("a dry run wrote to Graph:%s", describe(w))
			}
		})
	}
	roleItem := s.actionItems(mustLastJob(t, s, tn.ID(), "remove_role_assignments"))[admin]
	if ts := roleItem.results(t).Targets; len(ts) != 2 || !strings.Contains(ts[0].Detail+ts[1].Detail, "would remove (PIM adminRemove)") {
		t.Errorf("role targets of the preview: %+v", ts)
	}
	if after := dirStateOf(tn); !reflect.DeepEqual(after, before) {
		t.Errorf("dry runs changed the directory:\nbefore %+v\nafter  %+v", before, after)
	}
}

// mustLastJob returns the id of the tenant's newest job of action.
func mustLastJob(t *testing.T, s *stack, tenantID, action string) string {
	t.Helper()
	var list struct {
		Remediations []jobView `json:"remediations"`
	}
	if code := s.do("GET", "/v1/remediations?limit=1&tenant_id="+tenantID+"&action="+action, nil, nil, &list); code != 200 || len(list.Remediations) != 1 {
		t.Fatalf("jobs of %s: %d %d", action, code, len(list.Remediations))
	}
	return list.Remediations[0].ID
}
