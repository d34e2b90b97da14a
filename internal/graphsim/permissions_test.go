package graphsim

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestEveryRouteHasPermissions(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.graph.routes {
		if len(requiredPermissions(r.op)) == 0 {
			t.Errorf("route %s has no permission entry", r.op)
		}
	}
}

func roles(t *testing.T, tok string) []string {
	t.Helper()
	var out []string
	raw, _ := decodeClaims(t, tok)["roles"].([]any)
	for _, r := range raw {
		out = append(out, r.(string))
	}
	return out
}

func TestDefaultPermissions(t *testing.T) {
	b := setup(t)
	all := b.srv.AddTenant(TenantSpec{})
	tok, err := b.srv.IssueToken(all.ID(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(t, tok); !slices.Equal(got, ProductPermissions) {
		t.Errorf("default roles %v, want %v", got, ProductPermissions)
	}
	noRM := b.srv.AddTenant(TenantSpec{AppLacksRoleManagement: true})
	tok, _ = b.srv.IssueToken(noRM.ID(), time.Hour)
	if got := roles(t, tok); len(got) != len(ProductPermissions)-1 || slices.Contains(got, PermRoleManagementReadWrite) {
		t.Errorf("roles without role management %v", got)
	}
	noRM.SetAppHasRoleManagement(true)
	tok, _ = b.srv.IssueToken(noRM.ID(), time.Hour)
	if got := roles(t, tok); !slices.Contains(got, PermRoleManagementReadWrite) {
		t.Errorf("roles after SetAppHasRoleManagement(true) %v", got)
	}
	none := b.srv.AddTenant(TenantSpec{Permissions: []string{}})
	tok, _ = b.srv.IssueToken(none.ID(), time.Hour)
	if _, ok := decodeClaims(t, tok)["roles"]; ok {
		t.Error("an app without permissions has a roles claim")
	}
}

func TestPermissionsEnforced(t *testing.T) {
	b := setup(t, noCALimit)
	addGroups(b)
	issue := func(perms ...string) string {
		t.Helper()
		b.ta.SetPermissions(perms)
		tok, err := b.srv.IssueToken(tenantA, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	denied := func(r resp) { t.Helper(); r.wantError(t, 403, codeAuthorizationDenied, msgInsufficientPrivileges) }
	enable := []byte(`{"accountEnabled":true}`) // of the guest: alice is a Global Administrator via groupRole
	jobTitle := []byte(`{"jobTitle":"Lead"}`)

	before := b.tokA // issued with the broad test permissions
	readOnly := issue(PermUserReadAll)
	if got := roles(t, readOnly); !slices.Equal(got, []string{PermUserReadAll}) {
		t.Fatalf("roles %v", got)
	}
	if r := b.do(t, http.MethodGet, userPath(userAlice), readOnly, nil); r.status != 200 {
		t.Fatalf("GET user with User.Read.All: %d", r.status)
	}
	denied(b.do(t, http.MethodPatch, userPath(userGuest), readOnly, enable))
	denied(b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", readOnly, nil))
	denied(b.do(t, http.MethodGet, caPath, readOnly, nil))
	denied(b.do(t, http.MethodGet, raPath, readOnly, nil))
	denied(b.do(t, http.MethodGet, "/v1.0/groups", readOnly, nil))
	if r := b.do(t, http.MethodGet, "/v1.0/organization", readOnly, nil); r.status != 200 {
		t.Errorf("GET organization with User.Read.All: %d", r.status)
	}
	// A token issued before keeps its roles until it expires.
	if r := b.do(t, http.MethodPatch, userPath(userGuest), before, enable); r.status != 204 {
		t.Errorf("PATCH with an earlier token: %d %s", r.status, r.body)
	}

	// User.EnableDisableAccount.All changes accountEnabled only;
	// User.ReadWrite.All anything.
	disableOnly := issue(PermUserEnableDisableAccount)
	if r := b.do(t, http.MethodPatch, userPath(userGuest), disableOnly, enable); r.status != 204 {
		t.Errorf("PATCH accountEnabled with EnableDisableAccount: %d %s", r.status, r.body)
	}
	denied(b.do(t, http.MethodPatch, userPath(userGuest), disableOnly, jobTitle))
	denied(b.do(t, http.MethodGet, userPath(userAlice), disableOnly, nil))
	readWrite := issue(PermUserReadWriteAll)
	for _, body := range [][]byte{enable, jobTitle} {
		if r := b.do(t, http.MethodPatch, userPath(userGuest), readWrite, body); r.status != 204 {
			t.Errorf("PATCH %s with User.ReadWrite.All: %d %s", body, r.status, r.body)
		}
	}
	if r := b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", readWrite, nil); r.status != 200 {
		t.Errorf("revoke with User.ReadWrite.All: %d", r.status)
	}

	// Conditional Access: reads with Policy.Read.All, writes with
	// Policy.ReadWrite.ConditionalAccess.
	policyRead := issue(PermPolicyReadAll)
	if r := b.do(t, http.MethodGet, caPath, policyRead, nil); r.status != 200 {
		t.Errorf("GET CA with Policy.Read.All: %d", r.status)
	}
	denied(b.do(t, http.MethodPost, caPath, policyRead, []byte(`{}`)))

	// Groups: GroupMember.Read.All reads, Group.ReadWrite.All writes members.
	memberRead := issue(PermGroupMemberReadAll)
	if r := b.do(t, http.MethodGet, "/v1.0/groups/"+groupSec, memberRead, nil); r.status != 200 {
		t.Errorf("GET group with GroupMember.Read.All: %d", r.status)
	}
	ref := []byte(`{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + userGuest + `"}`)
	denied(b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", memberRead, ref))
	groupWrite := issue(PermGroupReadWriteAll)
	if r := b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", groupWrite, ref); r.status != 204 {
		t.Errorf("add member with Group.ReadWrite.All: %d %s", r.status, r.body)
	}

	// Role management: RoleManagement.Read.Directory reads only.
	roleRead := issue(PermRoleManagementRead)
	if r := b.do(t, http.MethodGet, raPath+filterQuery("principalId eq '"+userGA+"'"), roleRead, nil); r.status != 200 {
		t.Errorf("GET role assignments with RoleManagement.Read.Directory: %d %s", r.status, r.body)
	}
	denied(b.do(t, http.MethodPost, requestsPath, roleRead, schedReq("adminRemove", userGA, RoleGlobalAdministrator, "x")))

	// No permissions: even the organization is refused.
	denied(b.do(t, http.MethodGet, "/v1.0/organization", issue(), nil))
}

func TestOrganization(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodGet, "/v1.0/organization", b.tokA, nil)
	v := r.values(t)
	if r.status != 200 || len(v) != 1 || v[0]["id"] != tenantA || v[0]["displayName"] != "contoso" {
		t.Fatalf("organization: %d %s", r.status, r.body)
	}
	named := b.srv.AddTenant(TenantSpec{DisplayName: "Fabrikam Ltd", Domain: "fabrikam.onmicrosoft.com"})
	tok, _ := b.srv.IssueToken(named.ID(), time.Hour)
	r = b.do(t, http.MethodGet, "/v1.0/organization?$select=id", tok, nil)
	v = r.values(t)
	if len(v) != 1 || v[0]["id"] != named.ID() || len(v[0]) != 1 {
		t.Fatalf("organization $select=id: %s", r.body)
	}
	if ctx := r.json(t)["@odata.context"]; ctx != graphMetadata+"#organization(id)" {
		t.Errorf("context %v", ctx)
	}
	b.do(t, http.MethodGet, "/v1.0/organization?$select=shoeSize", tok, nil).wantError(t, 400, codeRequestBadRequest, "")
}

func TestScheduleRequestStatusOverride(t *testing.T) {
	b := setup(t)
	b.ta.AssignRole(userAlice, RolePrivilegedRoleAdministrator, AssignPIMActivated)
	b.ta.SetScheduleRequestStatus("Denied")
	body := schedReq("adminRemove", userAlice, RolePrivilegedRoleAdministrator, "compromised")
	r := b.do(t, http.MethodPost, requestsPath, b.tokA, body)
	if r.status != http.StatusCreated || r.json(t)["status"] != "Denied" {
		t.Fatalf("overridden request: %d %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userAlice); len(u.Roles) != 1 {
		t.Fatalf("a denied request changed the roles: %v", u.Roles)
	}
	// Validation still comes first.
	b.do(t, http.MethodPost, requestsPath, b.tokA, []byte(`{"action":"nope"}`)).wantError(t, 400, codeBadRequest, "")

	b.ta.SetScheduleRequestStatus("")
	r = b.do(t, http.MethodPost, requestsPath, b.tokA, body)
	if r.status != http.StatusCreated || r.json(t)["status"] != "Revoked" {
		t.Fatalf("normal request: %d %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userAlice); len(u.Roles) != 0 {
		t.Fatalf("roles after the normal request: %v", u.Roles)
	}
}
