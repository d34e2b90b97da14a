package graphsim

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
)

const raPath = "/v1.0/roleManagement/directory/roleAssignments"

var assignmentIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}-[0-9]+$`)

func TestRoleAssignmentsOfUserSpecRoles(t *testing.T) {
	b := setup(t)
	all := b.ta.RoleAssignments()
	if len(all) != 1 || all[0].PrincipalID != userGA || all[0].RoleDefinitionID != RoleGlobalAdministrator ||
		all[0].DirectoryScopeID != "/" || all[0].Kind != AssignDirect {
		t.Fatalf("assignments %+v", all)
	}
	id := all[0].ID
	// Graph's format: base64url of the role and principal GUIDs (Microsoft byte order) + "-1".
	if !assignmentIDPattern.MatchString(id) || id[:21] != "lAPpYvVpN0KRkAEhdxReE" {
		t.Errorf("id %q", id)
	}
	if u, _ := b.ta.User(userGA); !slices.Equal(u.Roles, []string{RoleGlobalAdministrator}) {
		t.Errorf("user roles %v", u.Roles)
	}

	for _, f := range []string{"principalId eq '" + userGA + "'", "roleDefinitionId eq '" + RoleGlobalAdministrator + "'",
		"principalId eq '" + userGA + "' and roleDefinitionId eq '" + RoleGlobalAdministrator + "'"} {
		v := b.do(t, http.MethodGet, raPath+filterQuery(f), b.tokA, nil).values(t)
		if len(v) != 1 || v[0]["id"] != id || v[0]["principalId"] != userGA || v[0]["directoryScopeId"] != "/" ||
			v[0]["roleDefinitionId"] != RoleGlobalAdministrator {
			t.Errorf("filter %q: %v", f, v)
		}
	}
	if v := b.do(t, http.MethodGet, raPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t); len(v) != 0 {
		t.Errorf("alice has assignments %v", v)
	}
	// The directory provider refuses a list without $filter.
	b.do(t, http.MethodGet, raPath, b.tokA, nil).wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodGet, raPath+filterQuery("directoryScopeId eq '/'"), b.tokA, nil).wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodGet, raPath+filterQuery("principalId eq "+userGA), b.tokA, nil).wantError(t, 400, "BadRequest", "")

	r := b.do(t, http.MethodGet, raPath+"/"+url.PathEscape(id), b.tokA, nil)
	if r.status != 200 || r.json(t)["id"] != id {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodGet, raPath+"/nope-1", b.tokA, nil).wantError(t, 404, "Request_ResourceNotFound", "")
}

func TestRoleAssignmentCreateDelete(t *testing.T) {
	b := setup(t)
	body := `{"@odata.type":"#microsoft.graph.unifiedRoleAssignment","principalId":"` + userAlice +
		`","roleDefinitionId":"` + RoleUserAdministrator + `","directoryScopeId":"/"}`
	r := b.do(t, http.MethodPost, raPath, b.tokA, gz(t, body), "Content-Encoding: gzip")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	if !assignmentIDPattern.MatchString(id) {
		t.Errorf("id %q", id)
	}
	if u, _ := b.ta.User(userAlice); !slices.Equal(u.Roles, []string{RoleUserAdministrator}) {
		t.Errorf("alice roles %v", u.Roles)
	}
	b.do(t, http.MethodPost, raPath, b.tokA, []byte(body)).wantError(t, 400, "Request_BadRequest", msgConflictingObject)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"principalId":"` + userAlice + `","roleDefinitionId":"00000000-1111-2222-3333-444444444444","directoryScopeId":"/"}`, 404},
		{`{"principalId":"0badc0de-0000-4000-8000-000000000000","roleDefinitionId":"` + RoleUserAdministrator + `","directoryScopeId":"/"}`, 404},
		{`{"principalId":"` + userAlice + `","roleDefinitionId":"` + RoleGlobalReader + `"}`, 400},
		{`{"principalId":"` + userAlice + `","roleDefinitionId":"` + RoleGlobalReader + `","directoryScopeId":"/","shoe":1}`, 400},
	} {
		if r := b.do(t, http.MethodPost, raPath, b.tokA, []byte(tc.body)); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.body, r.status, r.body, tc.status)
		}
	}

	b.ta.SetAppHasRoleManagement(false)
	b.do(t, http.MethodDelete, raPath+"/"+id, b.tokA, nil).wantError(t, 403, "Authorization_RequestDenied", msgInsufficientPrivileges)
	b.ta.SetAppHasRoleManagement(true)
	if r := b.do(t, http.MethodDelete, raPath+"/"+id, b.tokA, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodDelete, raPath+"/"+id, b.tokA, nil).wantError(t, 404, "Request_ResourceNotFound", "")
	if u, _ := b.ta.User(userAlice); len(u.Roles) != 0 {
		t.Errorf("alice roles after delete %v", u.Roles)
	}
	// A group that is not role-assignable cannot hold a role.
	g := b.ta.AddGroup(GroupSpec{DisplayName: "plain", SecurityEnabled: true})
	r = b.do(t, http.MethodPost, raPath, b.tokA, []byte(`{"principalId":"`+g.ID+`","roleDefinitionId":"`+
		RoleHelpdeskAdministrator+`","directoryScopeId":"/"}`))
	r.wantError(t, 400, "Request_BadRequest", "")
}

func TestRoleAssignmentNoRoleManagementPermission(t *testing.T) {
	b := setup(t)
	b.ta.SetAppHasRoleManagement(false)
	r := b.do(t, http.MethodPost, raPath, b.tokA, []byte(`{"principalId":"`+userAlice+`","roleDefinitionId":"`+
		RoleUserAdministrator+`","directoryScopeId":"/"}`))
	r.wantError(t, 403, "Authorization_RequestDenied", "")
	if len(b.ta.RoleAssignments()) != 1 {
		t.Errorf("assignment created without permission")
	}
}

func TestDeleteLastGlobalAdministrator(t *testing.T) {
	b := setup(t)
	gaID := b.ta.RoleAssignments()[0].ID
	b.do(t, http.MethodDelete, raPath+"/"+gaID, b.tokA, nil).wantError(t, 400, "Request_BadRequest", "")
	second := b.ta.AssignRole(userAlice, RoleGlobalAdministrator, AssignDirect)
	if r := b.do(t, http.MethodDelete, raPath+"/"+gaID, b.tokA, nil); r.status != 204 {
		t.Fatalf("delete with a second GA: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodDelete, raPath+"/"+second, b.tokA, nil).wantError(t, 400, "Request_BadRequest", "")
	if n := len(b.ta.RoleAssignments()); n != 1 {
		t.Errorf("%d assignments left", n)
	}
}

func TestDeletePIMActivatedAssignment(t *testing.T) {
	b := setup(t)
	id := b.ta.AssignRole(userAlice, RolePrivilegedRoleAdministrator, AssignPIMActivated)
	b.do(t, http.MethodDelete, raPath+"/"+id, b.tokA, nil).wantError(t, 400, "BadRequest", "")
	if as := b.ta.RoleAssignments(); len(as) != 2 || as[1].Kind != AssignPIMActivated {
		t.Errorf("assignments %+v", as)
	}
	// The roleAssignments view does not tell them apart.
	if v := b.do(t, http.MethodGet, raPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t); len(v) != 1 || v[0]["id"] != id {
		t.Errorf("list %v", v)
	}
}

func TestGroupHeldRoles(t *testing.T) {
	b := setup(t)
	g := b.ta.AddGroup(GroupSpec{DisplayName: "Tier 0", SecurityEnabled: true, IsAssignableToRole: true, Members: []string{upnAlice}})
	b.ta.AssignRole(g.ID, RoleGlobalAdministrator, AssignDirect)

	// roleAssignments by principalId misses the group-held role...
	if v := b.do(t, http.MethodGet, raPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t); len(v) != 0 {
		t.Errorf("direct view %v", v)
	}
	// ...transitiveMemberOf/microsoft.graph.directoryRole has it.
	r := b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf/microsoft.graph.directoryRole", b.tokA, nil)
	v := r.values(t)
	if r.status != 200 || len(v) != 1 || v[0]["roleTemplateId"] != RoleGlobalAdministrator ||
		v[0]["@odata.type"] != "#microsoft.graph.directoryRole" || v[0]["displayName"] != "Global Administrator" {
		t.Errorf("transitive roles: %d %s", r.status, r.body)
	}
	if v := b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/microsoft.graph.directoryRole", b.tokA, nil).values(t); len(v) != 0 {
		t.Errorf("direct roles %v", v)
	}
	// The direct GA sees the role in both views; ids agree.
	direct := b.do(t, http.MethodGet, userPath(userGA)+"/memberOf/microsoft.graph.directoryRole", b.tokA, nil).values(t)
	trans := b.do(t, http.MethodGet, userPath(userGA)+"/transitiveMemberOf/microsoft.graph.directoryRole", b.tokA, nil).values(t)
	if len(direct) != 1 || len(trans) != 1 || direct[0]["id"] != trans[0]["id"] || direct[0]["id"] != v[0]["id"] {
		t.Errorf("direct %v transitive %v", direct, trans)
	}
	// A group-held admin role protects the user like a direct one.
	b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, []byte(`{"accountEnabled":false}`)).
		wantError(t, 403, "Authorization_RequestDenied", "")
	if u, _ := b.ta.User(userAlice); len(u.Roles) != 0 || !u.AccountEnabled {
		t.Errorf("alice %+v", u)
	}
}
