package main

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/graphsim"
)

// End-to-end tests of enforce_mfa and enforce_phishing_resistant_mfa: one
// Conditional Access policy per tenant and kind, written in batches.

// TestActionsEnforceMFA: a bulk job lands in one policy with few writes and
// the break-glass account excluded; a second job appends to the same
// policy; undo removes exactly what a job added; a policy deleted behind
// the product's back is recreated (report-only when so set) and its new id
// stored.
func TestActionsEnforceMFA(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	breakGlass := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "breakglass@" + tn.Domain(), AccountEnabled: true})
	s.settings(tn.ID(), map[string]any{"protected_identities": []string{breakGlass.ID}})
	first := addMembers(tn, "mfa", 200)
	more := addMembers(tn, "mfb", 30)

	// 200 users (and the break-glass account) in one bulk job.
	start := tn.CAWrites()
	job := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa",
		"identities": append(slices.Clone(first), breakGlass.ID)}, 90*time.Second)
	wantCounts(t, job, map[string]int{"succeeded": 200, "skipped": 1})
	items := s.actionItems(job.ID)
	wantItem(t, items, breakGlass.ID, "skipped", "protected_identity")
	for _, id := range first {
		wantItem(t, items, id, "succeeded", "", "added to the MFA policy")
	}
	pol := onlyPolicy(t, tn)
	if pol.DisplayName != actions.MFAPolicyName || pol.State != "enabled" || !slices.Equal(pol.BuiltInControls, []string{"mfa"}) {
		t.Errorf("policy %q state %s controls %v", pol.DisplayName, pol.State, pol.BuiltInControls)
	}
	if !sameIDs(pol.IncludeUsers, first) {
		t.Errorf("policy includes %d users, want exactly the job's 200", len(pol.IncludeUsers))
	}
	if !sameIDs(pol.ExcludeUsers, []string{breakGlass.ID}) {
		t.Errorf("excludeUsers %v, want the break-glass account %s", pol.ExcludeUsers, breakGlass.ID)
	}
	writes := tn.CAWrites() - start
	t.Logf("200 users: %d Conditional Access writes", writes)
	if writes < 1 || writes > 10 {
		t.Errorf("%d Conditional Access writes for one job of 200 users, want a handful", writes)
	}
	if info := s.tenantInfo(tn.ID()); info.MFAPolicyID == nil || *info.MFAPolicyID != pol.ID {
		t.Errorf("stored mfa_policy_id %v, simulator's policy %s", info.MFAPolicyID, pol.ID)
	}

	// 50 more users, 20 of them already covered: appended to the same policy.
	overlap := first[180:]
	second := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": concat(overlap, more)}, time.Minute)
	wantCounts(t, second, map[string]int{"succeeded": 50})
	items = s.actionItems(second.ID)
	for _, id := range overlap {
		wantItem(t, items, id, "succeeded", "", "already covered: no change")
	}
	for _, id := range more {
		wantItem(t, items, id, "succeeded", "", "added to the MFA policy")
	}
	if p := onlyPolicy(t, tn); p.ID != pol.ID || !sameIDs(p.IncludeUsers, concat(first, more)) {
		t.Errorf("after the second job: policy %s with %d users, want %s with 230", p.ID, len(p.IncludeUsers), pol.ID)
	}

	// Undo of the second job removes the 30 it added, not the 20 it found.
	code, undo, _ := s.undo(second.ID)
	if code != http.StatusAccepted {
		t.Fatalf("undo: %d", code)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 30, "skipped": 20})
	items = s.actionItems(undo.ID)
	for _, id := range more {
		wantItem(t, items, id, "succeeded", "", "removed from the MFA policy")
	}
	for _, id := range overlap {
		wantItem(t, items, id, "skipped", "", "already covered")
	}
	if p := onlyPolicy(t, tn); p.ID != pol.ID || !sameIDs(p.IncludeUsers, first) || !sameIDs(p.ExcludeUsers, []string{breakGlass.ID}) {
		t.Errorf("after the undo: policy %s with %d users, want %s with exactly the first 200", p.ID, len(p.IncludeUsers), pol.ID)
	}

	// An administrator deletes the policy; the tenant is set to report-only.
	// The next job creates a new one, report-only, and stores its id.
	if code := s.graphDelete(tn, "/identity/conditionalAccess/policies/"+pol.ID); code != http.StatusNoContent {
		t.Fatalf("DELETE policy in the simulator: %d", code)
	}
	s.settings(tn.ID(), map[string]any{"mfa_policy_state": "report_only"})
	again := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": more[:10]}, time.Minute)
	wantCounts(t, again, map[string]int{"succeeded": 10})
	p := onlyPolicy(t, tn)
	if p.ID == pol.ID || p.State != "enabledForReportingButNotEnforced" || !sameIDs(p.IncludeUsers, more[:10]) ||
		!sameIDs(p.ExcludeUsers, []string{breakGlass.ID}) {
		t.Errorf("recreated policy %s (old %s): state %s, %d users, exclude %v", p.ID, pol.ID, p.State, len(p.IncludeUsers), p.ExcludeUsers)
	}
	if info := s.tenantInfo(tn.ID()); info.MFAPolicyID == nil || *info.MFAPolicyID != p.ID {
		t.Errorf("stored mfa_policy_id %v after recreation, simulator's policy %s", info.MFAPolicyID, p.ID)
	}
}

// TestActionsEnforceMFAPolicyStateFollowsSetting: mfa_policy_state applies
// to the tenant's existing policy, not only to a policy created later: a
// tenant moved from report_only to enabled must end up enforcing MFA.
func TestActionsEnforceMFAPolicyStateFollowsSetting(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "st", 2)
	s.settings(tn.ID(), map[string]any{"mfa_policy_state": "report_only"})
	wantCounts(t, s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": ids[:1]}, time.Minute),
		map[string]int{"succeeded": 1})
	if p := onlyPolicy(t, tn); p.State != "enabledForReportingButNotEnforced" {
		t.Fatalf("policy created in report-only mode has state %s", p.State)
	}
	s.settings(tn.ID(), map[string]any{"mfa_policy_state": "enabled"})
	wantCounts(t, s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": ids[1:]}, time.Minute),
		map[string]int{"succeeded": 1})
	p := onlyPolicy(t, tn)
	if !sameIDs(p.IncludeUsers, ids) {
		t.Errorf("policy includes %v, want %v", p.IncludeUsers, ids)
	}
	if p.State != "enabled" {
		t.Errorf("mfa_policy_state is enabled and a job wrote the policy, but its state is still %s: "+
			"MFA is reported only, not enforced", p.State)
	}
}

// TestActionsEnforceMFAGroupTargeting: with mfa_targeting=group the policy
// includes one managed group and users become its members; includeUsers
// does not grow and adding users writes no Conditional Access request.
func TestActionsEnforceMFAGroupTargeting(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	breakGlass := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "breakglass@" + tn.Domain(), AccountEnabled: true})
	s.settings(tn.ID(), map[string]any{"mfa_targeting": "group", "protected_identities": []string{breakGlass.ID}})
	first := addMembers(tn, "grp", 30)
	more := addMembers(tn, "grq", 15)

	job := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": first}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 30})
	pol := onlyPolicy(t, tn)
	info := s.tenantInfo(tn.ID())
	if len(pol.IncludeGroups) != 1 || info.MFAGroupID == "" || !sameIDs(pol.IncludeGroups, []string{info.MFAGroupID}) {
		t.Fatalf("policy includeGroups %v, stored group %q: want exactly the managed group", pol.IncludeGroups, info.MFAGroupID)
	}
	if info.MFAPolicyID == nil || *info.MFAPolicyID != pol.ID {
		t.Errorf("stored mfa_policy_id %v, simulator's policy %s", info.MFAPolicyID, pol.ID)
	}
	if u := userIDsIn(pol.IncludeUsers); len(u) != 0 {
		t.Errorf("policy lists %d users in includeUsers with group targeting", len(u))
	}
	if !sameIDs(pol.ExcludeUsers, []string{breakGlass.ID}) {
		t.Errorf("excludeUsers %v, want the break-glass account", pol.ExcludeUsers)
	}
	g, ok := tn.Group(info.MFAGroupID)
	if !ok || g.DisplayName != actions.MFAGroupName || !g.SecurityEnabled || g.MailEnabled || len(g.GroupTypes) != 0 {
		t.Fatalf("managed group: %+v", g)
	}
	if !sameIDs(g.Members, first) {
		t.Errorf("managed group has %d members, want the job's 30", len(g.Members))
	}

	// 15 more users and 5 covered ones: members added, no policy write.
	caWrites, patches := tn.CAWrites(), pol.Patches
	overlap := first[25:]
	second := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": concat(overlap, more)}, time.Minute)
	wantCounts(t, second, map[string]int{"succeeded": 20})
	items := s.actionItems(second.ID)
	for _, id := range overlap {
		wantItem(t, items, id, "succeeded", "", "already covered: no change")
	}
	for _, id := range more {
		wantItem(t, items, id, "succeeded", "", "added to the MFA policy")
	}
	if g, _ := tn.Group(info.MFAGroupID); !sameIDs(g.Members, concat(first, more)) {
		t.Errorf("managed group has %d members, want 45", len(g.Members))
	}
	p := onlyPolicy(t, tn)
	if p.ID != pol.ID || p.Patches != patches || tn.CAWrites() != caWrites || len(userIDsIn(p.IncludeUsers)) != 0 {
		t.Errorf("policy changed by adding group members: id %s (was %s), patches %d (was %d), CA writes %d (was %d), %d users",
			p.ID, pol.ID, p.Patches, patches, tn.CAWrites(), caWrites, len(userIDsIn(p.IncludeUsers)))
	}

	// Undo takes out the 15 the job added, not the 5 it found.
	code, undo, _ := s.undo(second.ID)
	if code != http.StatusAccepted {
		t.Fatalf("undo: %d", code)
	}
	wantCounts(t, undo, map[string]int{"succeeded": 15, "skipped": 5})
	if g, _ := tn.Group(info.MFAGroupID); !sameIDs(g.Members, first) {
		t.Errorf("after the undo the managed group has %d members, want the first 30", len(g.Members))
	}
}

// TestActionsEnforcePhishingResistantMFA: only global-admin-level users
// (direct, through a role-assignable group, or PIM-activated) go into a
// second policy whose grant is the phishing-resistant authentication
// strength, and only with confirm_admin_targets.
func TestActionsEnforcePhishingResistantMFA(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	d := tn.Domain()
	plain := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "plain@" + d, AccountEnabled: true})
	userAdmin := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "useradmin@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleUserAdministrator}})
	gaDirect := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "ga@" + d, AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	gaGroup := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "ga.group@" + d, AccountEnabled: true})
	tier0 := tn.AddGroup(graphsim.GroupSpec{DisplayName: "Tier 0 admins", SecurityEnabled: true,
		IsAssignableToRole: true, Members: []string{gaGroup.ID}})
	tn.AssignRole(tier0.ID, graphsim.RoleGlobalAdministrator, graphsim.AssignDirect)
	gaPIM := tn.AddUser(graphsim.UserSpec{UserPrincipalName: "ga.pim@" + d, AccountEnabled: true})
	tn.AssignRole(gaPIM.ID, graphsim.RoleGlobalAdministrator, graphsim.AssignPIMActivated)
	gas := []string{gaDirect.ID, gaGroup.ID, gaPIM.ID}
	ids := concat([]string{plain.ID, userAdmin.ID}, gas)

	// The tenant's MFA policy exists first.
	wantCounts(t, s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": []string{plain.ID}}, time.Minute),
		map[string]int{"succeeded": 1})
	mfa := onlyPolicy(t, tn)

	// Without confirmation nothing is written.
	job := s.remediate(tn.ID(), map[string]any{"action": "enforce_phishing_resistant_mfa", "identities": ids}, time.Minute)
	wantCounts(t, job, map[string]int{"skipped": 5})
	items := s.actionItems(job.ID)
	wantItem(t, items, plain.ID, "skipped", "not_global_admin")
	wantItem(t, items, userAdmin.ID, "skipped", "not_global_admin")
	for _, id := range gas {
		wantItem(t, items, id, "skipped", "admin_target_not_confirmed", "Global Administrator")
	}
	if n := len(tn.CAPolicies()); n != 1 {
		t.Fatalf("%d policies after an unconfirmed job, want only the MFA policy", n)
	}

	// Confirmed: the three global admins, and only they.
	job = s.remediate(tn.ID(), map[string]any{"action": "enforce_phishing_resistant_mfa", "identities": ids,
		"confirm_admin_targets": true}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 3, "skipped": 2})
	items = s.actionItems(job.ID)
	wantItem(t, items, plain.ID, "skipped", "not_global_admin")
	wantItem(t, items, userAdmin.ID, "skipped", "not_global_admin")
	for _, id := range gas {
		wantItem(t, items, id, "succeeded", "", "added to the phishing-resistant MFA policy")
	}
	if n := len(tn.CAPolicies()); n != 2 {
		t.Fatalf("%d policies, want the MFA policy and a second one", n)
	}
	pr := policyNamed(t, tn, actions.PhishingResistantPolicyName)
	if pr.ID == mfa.ID || pr.AuthenticationStrengthID != graphsim.AuthStrengthPhishingResistant || len(pr.BuiltInControls) != 0 {
		t.Errorf("phishing-resistant policy %s: strength %q controls %v", pr.ID, pr.AuthenticationStrengthID, pr.BuiltInControls)
	}
	if !sameIDs(pr.IncludeUsers, gas) {
		t.Errorf("phishing-resistant policy includes %v, want the three global admins %v", pr.IncludeUsers, gas)
	}
	if m, _ := tn.CAPolicy(mfa.ID); !sameIDs(m.IncludeUsers, []string{plain.ID}) {
		t.Errorf("MFA policy changed: %v", m.IncludeUsers)
	}
	info := s.tenantInfo(tn.ID())
	if info.PhishingResistantMFAPolicyID == nil || *info.PhishingResistantMFAPolicyID != pr.ID ||
		info.MFAPolicyID == nil || *info.MFAPolicyID != mfa.ID {
		t.Errorf("stored policy ids %v / %v, simulator's %s / %s", info.MFAPolicyID, info.PhishingResistantMFAPolicyID, mfa.ID, pr.ID)
	}
}
