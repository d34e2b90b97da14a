package graphsim

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestSeedDemoDirectory(t *testing.T) {
	b := setup(t, noCALimit)
	demo := b.srv.AddTenant(DemoTenantSpec())
	demo.SeedDemo(DemoUsers)
	tok, err := b.srv.IssueToken(demo.ID(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id := DemoTenantID()
	groups := demo.Groups()
	if len(groups) != 9 {
		t.Fatalf("%d groups", len(groups))
	}
	g := func(i int) GroupState {
		s, ok := demo.Group(DemoGroupID(id, i))
		if !ok {
			t.Fatalf("group %d missing", i)
		}
		return s
	}
	if s := g(DemoGroupM365); !slices.Equal(s.GroupTypes, []string{"Unified"}) || !s.MailEnabled || s.SecurityEnabled {
		t.Errorf("M365 %+v", s)
	}
	if s := g(DemoGroupDynamic); s.MembershipRule == "" || len(s.Members) == 0 {
		t.Errorf("dynamic %+v", s)
	}
	if s := g(DemoGroupMailSecurity); !s.MailEnabled || !s.SecurityEnabled {
		t.Errorf("mail-enabled security %+v", s)
	}
	if s := g(DemoGroupDistribution); !s.MailEnabled || s.SecurityEnabled {
		t.Errorf("distribution list %+v", s)
	}
	if s := g(DemoGroupSynced); !s.OnPremisesSyncEnabled {
		t.Errorf("synced %+v", s)
	}
	if s := g(DemoGroupAllStaff); !slices.Contains(s.Members, DemoGroupID(id, DemoGroupEngineering)) {
		t.Errorf("All Staff does not nest Engineering")
	}
	if s := g(DemoGroupTier0); !s.IsAssignableToRole || !slices.Equal(s.Members, []string{DemoMemberID(id, DemoMemberGroupGA)}) {
		t.Errorf("tier 0 %+v", s)
	}

	// Through Graph: the group-held GA, the PIM activation, the CA exclusion.
	roles := b.do(t, http.MethodGet, userPath(DemoMemberID(id, DemoMemberGroupGA))+"/transitiveMemberOf/microsoft.graph.directoryRole", tok, nil).values(t)
	if len(roles) != 1 || roles[0]["roleTemplateId"] != RoleGlobalAdministrator {
		t.Errorf("group-held GA: %v", roles)
	}
	in := b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+DemoMemberID(id, DemoMemberPIMActivated)+"'"), tok, nil).values(t)
	if len(in) != 1 || in[0]["assignmentType"] != "Activated" || in[0]["roleDefinitionId"] != RolePrivilegedRoleAdministrator {
		t.Errorf("PIM instance: %v", in)
	}
	in = b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+DemoMemberID(id, DemoMemberGroupHelpdesk)+"'"), tok, nil).values(t)
	if len(in) != 1 || in[0]["memberType"] != "Group" || in[0]["roleDefinitionId"] != RoleHelpdeskAdministrator {
		t.Errorf("group-held helpdesk instance: %v", in)
	}
	ps := demo.CAPolicies()
	if len(ps) != 1 || !slices.Equal(ps[0].ExcludeUsers, []string{DemoMemberID(id, DemoMemberBreakGlass)}) {
		t.Errorf("CA policies %+v", ps)
	}
	if bg, _ := demo.User(DemoMemberID(id, DemoMemberBreakGlass)); bg.UserPrincipalName != "breakglass01@"+DemoDomain {
		t.Errorf("break-glass %+v", bg)
	}

	// Deterministic across servers.
	s2, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := s2.AddTenant(DemoTenantSpec())
	other.SeedDemo(DemoUsers)
	for _, gs := range groups {
		if o, ok := other.Group(gs.ID); !ok || !slices.Equal(o.Members, gs.Members) || o.DisplayName != gs.DisplayName {
			t.Errorf("group %s differs", gs.DisplayName)
		}
	}
	// Tiny directories seed without failing.
	tiny := s2.AddTenant(TenantSpec{})
	tiny.SeedDemo(2)
	if len(tiny.Groups()) != 9 || len(tiny.CAPolicies()) != 1 {
		t.Errorf("tiny: %d groups %d policies", len(tiny.Groups()), len(tiny.CAPolicies()))
	}
}
