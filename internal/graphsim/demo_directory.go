package graphsim

// Demo group indexes (DemoGroupID).
const (
	DemoGroupAllStaff     = iota // assigned cloud security group (nests Engineering)
	DemoGroupEngineering         // assigned cloud security group
	DemoGroupM365                // Microsoft 365 group (Unified)
	DemoGroupDynamic             // dynamic security group (department Sales)
	DemoGroupMailSecurity        // mail-enabled security group
	DemoGroupDistribution        // distribution list
	DemoGroupSynced              // security group synced from on-premises AD
	DemoGroupTier0               // role-assignable, holds Global Administrator
	DemoGroupHelpdesk            // role-assignable, holds Helpdesk Administrator
	demoGroupCount
)

// Demo members with notable roles (indexes into the seeded members).
const (
	DemoMemberBreakGlass    = 1  // breakglass01@, Global Administrator (excluded from CA)
	DemoMemberGroupGA       = 9  // Global Administrator through DemoGroupTier0
	DemoMemberPIMActivated  = 10 // Privileged Role Administrator, PIM-activated
	DemoMemberGroupHelpdesk = 12 // Helpdesk Administrator through DemoGroupHelpdesk
)

// DemoGroupID returns the object id SeedDemo gives group index i of a tenant.
func DemoGroupID(tenantID string, i int) string { return demoID(tenantID, "group", i) }

// DemoMemberID returns the object id SeedDemo gives member index i.
func DemoMemberID(tenantID string, i int) string { return demoID(tenantID, "member", i) }

// seedDemoDirectory adds the demo groups, role assignments and a
// Conditional Access policy for a tenant seeded with n members.
func (t *Tenant) seedDemoDirectory(n int) {
	members := func(ok func(i int) bool) []string {
		var out []string
		for i := range n {
			if ok(i) {
				out = append(out, DemoMemberID(t.id, i))
			}
		}
		return out
	}
	dept := func(d int) func(int) bool { return func(i int) bool { return i%len(demoDepartments) == d } }
	one := func(i int) func(int) bool { return func(j int) bool { return j == i } }
	specs := [demoGroupCount]GroupSpec{
		DemoGroupAllStaff: {DisplayName: "All Staff", SecurityEnabled: true,
			Members: append(members(func(i int) bool { return i%5 != 4 }), DemoGroupID(t.id, DemoGroupEngineering))},
		DemoGroupEngineering: {DisplayName: "Engineering", SecurityEnabled: true, Members: members(dept(2))},
		DemoGroupM365: {DisplayName: "Contoso Team", MailNickname: "contosoteam", GroupTypes: []string{"Unified"},
			MailEnabled: true, Members: members(func(i int) bool { return i < 10 })},
		DemoGroupDynamic: {DisplayName: "Sales (dynamic)", GroupTypes: []string{"DynamicMembership"}, SecurityEnabled: true,
			MembershipRule: `(user.department -eq "Sales")`, Members: members(dept(0))},
		DemoGroupMailSecurity: {DisplayName: "Finance Approvers", MailNickname: "financeapprovers", MailEnabled: true,
			SecurityEnabled: true, Members: members(dept(1))},
		DemoGroupDistribution: {DisplayName: "Contoso Announcements", MailNickname: "announcements", MailEnabled: true,
			Members: members(func(i int) bool { return i%3 == 0 })},
		DemoGroupSynced: {DisplayName: "HR (synced)", SecurityEnabled: true, OnPremisesSyncEnabled: true, Members: members(dept(6))},
		DemoGroupTier0: {DisplayName: "Tier 0 Administrators", SecurityEnabled: true, IsAssignableToRole: true,
			Members: members(one(DemoMemberGroupGA))},
		DemoGroupHelpdesk: {DisplayName: "Helpdesk Operators", SecurityEnabled: true, IsAssignableToRole: true,
			Members: members(one(DemoMemberGroupHelpdesk))},
	}
	for i, spec := range specs {
		spec.ID = DemoGroupID(t.id, i)
		t.AddGroup(spec)
	}
	t.AssignRole(DemoGroupID(t.id, DemoGroupTier0), RoleGlobalAdministrator, AssignDirect)
	t.AssignRole(DemoGroupID(t.id, DemoGroupHelpdesk), RoleHelpdeskAdministrator, AssignDirect)
	if DemoMemberPIMActivated < n {
		t.AssignRole(DemoMemberID(t.id, DemoMemberPIMActivated), RolePrivilegedRoleAdministrator, AssignPIMActivated)
	}
	var exclude []string
	if DemoMemberBreakGlass < n {
		exclude = []string{DemoMemberID(t.id, DemoMemberBreakGlass)}
	}
	_, _ = t.AddCAPolicy(CAPolicySpec{DisplayName: "Require MFA for administrators", IncludeRoles: []string{
		RoleGlobalAdministrator, RolePrivilegedRoleAdministrator, RoleSecurityAdministrator, RoleUserAdministrator},
		ExcludeUsers: exclude})
}
