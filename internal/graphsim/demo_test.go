package graphsim

import (
	"strings"
	"testing"
)

func TestSeedDemo(t *testing.T) {
	s1, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t1 := s1.AddTenant(DemoTenantSpec())
	t2 := s2.AddTenant(DemoTenantSpec())
	t1.SeedDemo(50)
	t2.SeedDemo(50)

	users := t1.Users()
	if len(users) != 55 {
		t.Fatalf("%d users, want 50 members + 5 guests", len(users))
	}
	var guests, disabled, synced, admins int
	upns := map[string]bool{}
	for _, u := range users {
		if upns[strings.ToLower(u.UserPrincipalName)] {
			t.Errorf("duplicate UPN %s", u.UserPrincipalName)
		}
		upns[strings.ToLower(u.UserPrincipalName)] = true
		if u.IsGuest() {
			guests++
			if !strings.Contains(u.UserPrincipalName, "#EXT#@") {
				t.Errorf("guest UPN %s lacks #EXT#", u.UserPrincipalName)
			}
		}
		if !u.AccountEnabled {
			disabled++
		}
		if u.OnPremisesSyncEnabled {
			synced++
		}
		for _, r := range u.Roles {
			if r == RoleGlobalAdministrator {
				admins++
			}
		}
		if v, ok := t2.User(u.ID); !ok || v.UserPrincipalName != u.UserPrincipalName {
			t.Errorf("user %s not deterministic", u.ID)
		}
	}
	if guests != 5 || disabled != 7 || synced != 10 || admins != 2 {
		t.Errorf("guests %d disabled %d synced %d global admins %d", guests, disabled, synced, admins)
	}
	if bg, ok := t1.User("breakglass01@" + DemoDomain); !ok || bg.Roles[0] != RoleGlobalAdministrator {
		t.Errorf("break-glass account: %+v", bg)
	}
	if DemoTenantID() != t1.ID() || t1.ClientID() != DemoClientID {
		t.Errorf("demo ids: %s %s", t1.ID(), t1.ClientID())
	}
}
