package graphsim

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Demo tenant values used by `make run` and the `remediator simulator`
// subcommand. The secret is for the simulator only.
const (
	demoTenantID     = "7d5c2f0e-8a4b-4e1f-9c36-2b8e5a0d41f7"
	DemoClientID     = "c4a8e1d2-6f3b-4a97-8e05-3d9b7f2a6c10" // app id of the demo tenant's app
	DemoClientSecret = "graphsim-demo-secret~NotForProduction.0"
	DemoDomain       = "contoso.onmicrosoft.com"
	// DemoUsers is the number of members Run seeds.
	DemoUsers = 50
)

// DemoTenantID returns the fixed id of the demo tenant.
func DemoTenantID() string { return demoTenantID }

// DemoTenantSpec returns the demo tenant: DemoTenantID, DemoClientID,
// DemoClientSecret, DemoDomain, and an app without a privileged role (so
// disabling an admin answers 403, as in a least-privilege tenant).
func DemoTenantSpec() TenantSpec {
	return TenantSpec{ID: demoTenantID, ClientID: DemoClientID, ClientSecret: DemoClientSecret, Domain: DemoDomain}
}

var (
	demoFirst = []string{"Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia",
		"Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Amara", "Bruno", "Chen", "Dalia",
		"Emeka", "Farah", "Gustavo", "Hana", "Ivan", "Jasmin", "Kenji", "Leila", "Mateo", "Nadia"}
	demoLast = []string{"Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Langer", "Lauer", "Sherman", "Gu", "Holloway",
		"Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Okafor", "Costa", "Wei", "Haddad",
		"Nwosu", "Rahman", "Pereira", "Sato", "Petrov", "Khan", "Tanaka", "Mansour", "Rossi", "Novak"}
	demoDepartments = []string{"Sales", "Finance", "Engineering", "Marketing", "Operations", "Legal", "HR", "Support"}
	demoTitles      = []string{"Account Manager", "Analyst", "Software Engineer", "Marketing Lead", "Operations Manager",
		"Counsel", "HR Partner", "Support Engineer"}
	demoOffices     = []string{"Seattle", "London", "Berlin", "Paris", "Singapore"}
	demoGuestDomain = []string{"fabrikam.com", "northwind.example", "adatum.com"}
)

// SeedDemo fills the tenant with a realistic directory: n members and
// max(1, n/10) guests (UPN with #EXT#, userType Guest). Member 0 is a
// Global Administrator, member 1 the break-glass account
// breakglass01@<domain> (Global Administrator), member 2 a User
// Administrator, member 3 a Security Administrator; every 7th member
// (i%7 == 6) is disabled and every 5th (i%5 == 4) is synced from on-premises
// AD. Object ids are derived from the tenant id and the index, so they are
// the same on every run. SeedDemo also adds groups of every kind, PIM and
// group-held roles and a Conditional Access policy (see seedDemoDirectory).
func (t *Tenant) SeedDemo(n int) {
	used := map[string]bool{}
	for i := range n {
		first := demoFirst[i%len(demoFirst)]
		last := demoLast[(i/len(demoFirst)+i*7)%len(demoLast)]
		local := strings.ToLower(first + "." + last)
		if used[local] {
			local = fmt.Sprintf("%s%d", local, i)
		}
		used[local] = true
		spec := UserSpec{
			ID:                    demoID(t.id, "member", i),
			UserPrincipalName:     local + "@" + t.domain,
			DisplayName:           first + " " + last,
			GivenName:             first,
			Surname:               last,
			UserType:              "Member",
			AccountEnabled:        i%7 != 6,
			OnPremisesSyncEnabled: i%5 == 4,
			Department:            demoDepartments[i%len(demoDepartments)],
			JobTitle:              demoTitles[i%len(demoTitles)],
			OfficeLocation:        demoOffices[i%len(demoOffices)],
			Mail:                  local + "@" + t.domain,
			BusinessPhones:        []string{fmt.Sprintf("+1 425 555 %04d", 100+i)},
			PreferredLanguage:     "en-US",
			UsageLocation:         "US",
		}
		switch i {
		case 0:
			spec.Roles, spec.JobTitle = []string{RoleGlobalAdministrator}, "IT Director"
		case 1:
			spec.UserPrincipalName, spec.DisplayName = "breakglass01@"+t.domain, "Emergency Access 01"
			spec.GivenName, spec.Surname, spec.Mail, spec.JobTitle, spec.BusinessPhones = "", "", "", "", nil
			spec.Roles = []string{RoleGlobalAdministrator}
		case 2:
			spec.Roles, spec.JobTitle = []string{RoleUserAdministrator}, "Identity Administrator"
		case 3:
			spec.Roles, spec.JobTitle = []string{RoleSecurityAdministrator}, "Security Analyst"
		}
		t.AddUser(spec)
	}
	if n <= 0 {
		return
	}
	defer t.seedDemoDirectory(n)
	for i := range max(1, n/10) {
		first := demoFirst[(i*11+5)%len(demoFirst)]
		last := demoLast[(i*13+3)%len(demoLast)]
		dom := demoGuestDomain[i%len(demoGuestDomain)]
		ext := strings.ToLower(first + "." + last)
		t.AddUser(UserSpec{
			ID:                demoID(t.id, "guest", i),
			UserPrincipalName: ext + "_" + dom + "#EXT#@" + t.domain,
			DisplayName:       first + " " + last + " (" + dom + ")",
			GivenName:         first,
			Surname:           last,
			Mail:              ext + "@" + dom,
			UserType:          "Guest",
			AccountEnabled:    true,
		})
	}
}

// demoID derives a stable object id from the tenant id, kind and index.
func demoID(tenantID, kind string, i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "graphsim/%s/%s/%d", tenantID, kind, i)).String()
}
