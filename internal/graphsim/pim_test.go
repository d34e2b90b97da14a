package graphsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	instancesPath = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
	requestsPath  = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
)

func schedReq(action, principal, role, justification string) []byte {
	return []byte(`{"action":"` + action + `","principalId":"` + principal + `","roleDefinitionId":"` + role +
		`","directoryScopeId":"/","justification":"` + justification + `"}`)
}

func TestScheduleInstances(t *testing.T) {
	b := setup(t)
	pim := b.ta.AssignRole(userAlice, RolePrivilegedRoleAdministrator, AssignPIMActivated)
	g := b.ta.AddGroup(GroupSpec{DisplayName: "Tier 0", SecurityEnabled: true, IsAssignableToRole: true, Members: []string{userAlice}})
	groupGA := b.ta.AssignRole(g.ID, RoleGlobalAdministrator, AssignDirect)

	v := b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+userGA+"'"), b.tokA, nil).values(t)
	if len(v) != 1 || v[0]["assignmentType"] != "Assigned" || v[0]["memberType"] != "Direct" || v[0]["startDateTime"] != nil ||
		v[0]["roleDefinitionId"] != RoleGlobalAdministrator {
		t.Errorf("GA instances %v", v)
	}
	v = b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t)
	byRole := map[string]map[string]any{}
	for _, in := range v {
		byRole[in["roleDefinitionId"].(string)] = in
	}
	if in := byRole[RolePrivilegedRoleAdministrator]; len(v) != 2 || in == nil || in["assignmentType"] != "Activated" ||
		in["memberType"] != "Direct" || in["id"] != pim || in["startDateTime"] == nil || in["endDateTime"] == nil {
		t.Errorf("alice instances %v", v)
	}
	if in := byRole[RoleGlobalAdministrator]; in == nil || in["memberType"] != "Group" || in["assignmentType"] != "Assigned" ||
		in["principalId"] != userAlice || in["roleAssignmentOriginId"] != groupGA || in["id"] == groupGA {
		t.Errorf("group-held instance %v", in)
	}
	// By role: the group's own instance and its member's.
	v = b.do(t, http.MethodGet, instancesPath+filterQuery("roleDefinitionId eq '"+RoleGlobalAdministrator+"'"), b.tokA, nil).values(t)
	if len(v) != 3 {
		t.Errorf("GA instances by role: %v", v)
	}
	b.do(t, http.MethodGet, instancesPath+filterQuery("assignmentType eq 'Activated'"), b.tokA, nil).wantError(t, 400, "BadRequest", "")
}

func TestScheduleRequestAdminRemove(t *testing.T) {
	b := setup(t)
	b.ta.AssignRole(userAlice, RolePrivilegedRoleAdministrator, AssignPIMActivated)
	r := b.do(t, http.MethodPost, requestsPath, b.tokA, gz(t, string(schedReq("adminRemove", userAlice,
		RolePrivilegedRoleAdministrator, "compromised"))), "Content-Encoding: gzip")
	if r.status != http.StatusCreated {
		t.Fatalf("adminRemove: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["status"] != "Revoked" || m["action"] != "adminRemove" || m["principalId"] != userAlice || m["id"] == nil {
		t.Errorf("answer %s", r.body)
	}
	if as := b.ta.RoleAssignments(); len(as) != 1 {
		t.Errorf("assignments after adminRemove %+v", as)
	}
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminRemove", userAlice, RolePrivilegedRoleAdministrator, "x")).
		wantError(t, 400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")

	// A role held through a group is not the user's to remove.
	g := b.ta.AddGroup(GroupSpec{DisplayName: "Tier 0", SecurityEnabled: true, IsAssignableToRole: true, Members: []string{userAlice}})
	b.ta.AssignRole(g.ID, RoleHelpdeskAdministrator, AssignDirect)
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminRemove", userAlice, RoleHelpdeskAdministrator, "x")).
		wantError(t, 400, "RoleAssignmentDoesNotExist", "")
	// The last Global Administrator stays.
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminRemove", userGA, RoleGlobalAdministrator, "x")).
		wantError(t, 400, "Request_BadRequest", "")
	// Direct (non-PIM) assignments can be removed this way too.
	b.ta.AssignRole(userAlice, RoleUserAdministrator, AssignDirect)
	if r := b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminRemove", userAlice, RoleUserAdministrator, "")); r.status != 201 {
		t.Errorf("adminRemove of a direct assignment: %d %s", r.status, r.body)
	}
}

func TestScheduleRequestAdminAssign(t *testing.T) {
	b := setup(t)
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminAssign", userAlice, RoleSecurityAdministrator, "")).
		wantError(t, 400, "RoleAssignmentRequestPolicyValidationFailed", `The following policy rules failed: ["JustificationRule"]`)
	r := b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminAssign", userAlice, RoleSecurityAdministrator, "undo"))
	if r.status != 201 || r.json(t)["status"] != "Provisioned" {
		t.Fatalf("adminAssign: %d %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userAlice); len(u.Roles) != 1 || u.Roles[0] != RoleSecurityAdministrator {
		t.Errorf("alice roles %v", u.Roles)
	}
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminAssign", userAlice, RoleSecurityAdministrator, "again")).
		wantError(t, 400, "RoleAssignmentExists", "The Role assignment already exists.")

	for _, tc := range []struct {
		body   []byte
		status int
	}{
		{schedReq("selfActivate", userAlice, RoleGlobalReader, "x"), 501},
		{schedReq("adminDelete", userAlice, RoleGlobalReader, "x"), 400},
		{[]byte(`{"action":"adminRemove","principalId":"` + userAlice + `"}`), 400},
		{[]byte(strings.Replace(string(schedReq("adminAssign", userAlice, RoleGlobalReader, "x")), `"action"`, `"shoe":1,"action"`, 1)), 400},
		{schedReq("adminAssign", userAlice, "00000000-1111-2222-3333-444444444444", "x"), 404},
	} {
		if r := b.do(t, http.MethodPost, requestsPath, b.tokA, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.body, r.status, r.body, tc.status)
		}
	}
	b.ta.SetAppHasRoleManagement(false)
	b.do(t, http.MethodPost, requestsPath, b.tokA, schedReq("adminRemove", userAlice, RoleSecurityAdministrator, "x")).
		wantError(t, 403, "Authorization_RequestDenied", "")
	if len(b.ta.RoleAssignments()) != 2 {
		t.Errorf("assignments %+v", b.ta.RoleAssignments())
	}
}

// TestScheduleRequestAdminAssignUntil: an adminAssign with an expiration
// afterDateTime makes an active assignment that lists its end, that a
// plain DELETE refuses like a PIM activation, and that is gone once its
// end has passed; an end in the past is refused.
func TestScheduleRequestAdminAssignUntil(t *testing.T) {
	b := setup(t)
	withEnd := func(role string, end time.Time) []byte {
		return []byte(strings.Replace(string(schedReq("adminAssign", userAlice, role, "undo")), `"justification"`,
			`"scheduleInfo":{"startDateTime":"`+time.Now().UTC().Format(time.RFC3339)+`","expiration":{"type":"afterDateTime","endDateTime":"`+
				end.UTC().Format(time.RFC3339Nano)+`"}},"justification"`, 1))
	}
	b.do(t, http.MethodPost, requestsPath, b.tokA, withEnd(RoleSecurityAdministrator, time.Now().Add(-time.Minute))).
		wantError(t, 400, "RoleAssignmentRequestPolicyValidationFailed", `The following policy rules failed: ["ExpirationRule"]`)
	end := time.Now().Add(8 * time.Hour).UTC().Truncate(time.Second)
	r := b.do(t, http.MethodPost, requestsPath, b.tokA, withEnd(RoleSecurityAdministrator, end))
	if r.status != 201 {
		t.Fatalf("adminAssign until %v: %d %s", end, r.status, r.body)
	}
	exp, _ := r.json(t)["scheduleInfo"].(map[string]any)["expiration"].(map[string]any)
	if exp["type"] != "afterDateTime" {
		t.Errorf("scheduleInfo of the request = %v", r.json(t)["scheduleInfo"])
	}
	v := b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t)
	if len(v) != 1 || v[0]["assignmentType"] != "Assigned" || v[0]["endDateTime"] != end.Format(time.RFC3339) {
		t.Fatalf("instances of alice = %v; want one Assigned ending %s", v, end.Format(time.RFC3339))
	}
	b.do(t, http.MethodDelete, raPath+"/"+v[0]["id"].(string), b.tokA, nil).wantError(t, 400, "BadRequest", "")

	// One that ends in a second is gone after it.
	soon := time.Now().Add(1500 * time.Millisecond)
	if r := b.do(t, http.MethodPost, requestsPath, b.tokA, withEnd(RoleGlobalReader, soon)); r.status != 201 {
		t.Fatalf("adminAssign until %v: %d %s", soon, r.status, r.body)
	}
	if n := len(b.ta.RoleAssignments()); n != 3 {
		t.Fatalf("%d assignments, want 3 (GA, and alice's two)", n)
	}
	time.Sleep(time.Until(soon.Add(time.Second)))
	v = b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil).values(t)
	if len(v) != 1 || v[0]["roleDefinitionId"] != RoleSecurityAdministrator {
		t.Errorf("instances of alice after an end passed = %v; want only the later one", v)
	}
}
