package graph_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

const assignmentsPath = "/v1.0/roleManagement/directory/roleAssignments"

func TestListRoleAssignments(t *testing.T) {
	b := setup(t, graph.Options{})
	admin := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "admin@contoso.example", AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator, graphsim.RoleUserAdministrator}})
	other := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "other@contoso.example", AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	plain := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "plain@contoso.example", AccountEnabled: true})
	d := b.full(t)
	ctx := context.Background()

	got, err := d.ListRoleAssignments(ctx, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := simAssignments(b.st, func(a graphsim.RoleAssignmentState) bool { return a.PrincipalID == admin.ID })
	if len(want) != 2 || !sameAssignments(got, want) {
		t.Fatalf("ListRoleAssignments = %+v, want %+v", got, want)
	}
	if q := lastQuery(t, b.sim, "GET", assignmentsPath); q.Get("$filter") != "principalId eq '"+admin.ID+"'" {
		t.Errorf("$filter = %q", q.Get("$filter"))
	}

	got, err = d.ListRoleAssignmentsOfRole(ctx, graphsim.RoleGlobalAdministrator)
	if err != nil {
		t.Fatal(err)
	}
	want = simAssignments(b.st, func(a graphsim.RoleAssignmentState) bool {
		return a.RoleDefinitionID == graphsim.RoleGlobalAdministrator
	})
	if len(want) != 2 || !sameAssignments(got, want) || got[0].PrincipalID == got[1].PrincipalID {
		t.Fatalf("ListRoleAssignmentsOfRole = %+v, want %+v (admin %s, other %s)", got, want, admin.ID, other.ID)
	}
	if q := lastQuery(t, b.sim, "GET", assignmentsPath); q.Get("$filter") != "roleDefinitionId eq '"+graphsim.RoleGlobalAdministrator+"'" {
		t.Errorf("$filter = %q", q.Get("$filter"))
	}

	if got, err := d.ListRoleAssignments(ctx, plain.ID); err != nil || len(got) != 0 {
		t.Fatalf("plain user: %+v, %v", got, err)
	}
	// Quotes are doubled inside the OData literal.
	if got, err := d.ListRoleAssignments(ctx, "o'brien"); err != nil || len(got) != 0 {
		t.Fatalf("quoted id: %+v, %v", got, err)
	}
	if q := lastQuery(t, b.sim, "GET", assignmentsPath); q.Get("$filter") != "principalId eq 'o''brien'" {
		t.Errorf("$filter = %q", q.Get("$filter"))
	}

	before := len(b.sim.Requests())
	if _, err := d.ListRoleAssignments(ctx, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("empty id: %v", err)
	}
	if n := len(b.sim.Requests()); n != before {
		t.Fatal("an empty id reached Graph")
	}
}

func TestDeleteRoleAssignment(t *testing.T) {
	b := setup(t, graph.Options{})
	b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "ga@contoso.example", AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	// Assignment ids are base64url: find one holding '_' as well as '-'.
	var id, principal string
	for i := 0; i < 60 && id == ""; i++ {
		u := b.st.AddUser(graphsim.UserSpec{AccountEnabled: true, Roles: []string{graphsim.RoleUserAdministrator}})
		for _, a := range b.st.RoleAssignments() {
			if a.PrincipalID == u.ID && strings.Contains(a.ID, "_") && strings.Contains(a.ID, "-") {
				id, principal = a.ID, u.ID
			}
		}
	}
	if id == "" {
		t.Fatal("no assignment id with '_' and '-'")
	}
	d := b.full(t)
	ctx := context.Background()

	if err := d.DeleteRoleAssignment(ctx, id); err != nil {
		t.Fatalf("DeleteRoleAssignment(%s): %v", id, err)
	}
	if got := simAssignments(b.st, func(a graphsim.RoleAssignmentState) bool { return a.PrincipalID == principal }); len(got) != 0 {
		t.Fatalf("assignment still there: %+v", got)
	}
	dels := graphRequests(b.sim, "DELETE")
	if len(dels) != 1 || dels[0].Path != assignmentsPath+"/"+id || dels[0].Status != 204 {
		t.Fatalf("DELETE requests %+v", dels)
	}

	// Already removed: 404.
	ge := asGraphError(t, d.DeleteRoleAssignment(ctx, id))
	if ge.Status != 404 || ge.Code != "Request_ResourceNotFound" || ge.Operation != graph.OpDeleteRoleAssignment {
		t.Fatalf("second delete: %+v", ge)
	}

	// Reserved characters stay inside the one path segment.
	weird := "a/b?c#d e"
	if ge := asGraphError(t, d.DeleteRoleAssignment(ctx, weird)); ge.Status != 404 {
		t.Fatalf("weird id: %+v", ge)
	}
	dels = graphRequests(b.sim, "DELETE")
	last := dels[len(dels)-1]
	if last.Path != assignmentsPath+"/"+weird || last.Query != "" ||
		last.Operation != "DELETE /roleManagement/directory/roleAssignments/{aid}" {
		t.Fatalf("weird id sent as path %q query %q operation %q", last.Path, last.Query, last.Operation)
	}
}

func TestPIMAssignmentNeedsAdminRemove(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "pim@contoso.example", AccountEnabled: true})
	id := b.st.AssignRole(u.ID, graphsim.RoleSecurityAdministrator, graphsim.AssignPIMActivated)
	d := b.full(t)
	ctx := context.Background()

	ge := asGraphError(t, d.DeleteRoleAssignment(ctx, id))
	if ge.Status != 400 || ge.Retryable() {
		t.Fatalf("DELETE of a PIM assignment: %+v", ge)
	}
	insts, err := d.ListActiveRoleInstances(ctx, u.ID)
	if err != nil || len(insts) != 1 || insts[0].AssignmentType != "Activated" {
		t.Fatalf("instances %+v, %v", insts, err)
	}
	if err := d.AdminRemoveRoleAssignment(ctx, insts[0], "risky sign-in"); err != nil {
		t.Fatalf("adminRemove: %v", err)
	}
	if got := simAssignments(b.st, func(a graphsim.RoleAssignmentState) bool { return a.PrincipalID == u.ID }); len(got) != 0 {
		t.Fatalf("assignment still there: %+v", got)
	}
	body := lastBody(t, b.sim, "POST", "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests")
	want := map[string]any{"action": "adminRemove", "principalId": u.ID, "roleDefinitionId": graphsim.RoleSecurityAdministrator,
		"directoryScopeId": "/", "justification": "risky sign-in"}
	if !sameFields(body, want, "@odata.type") {
		t.Fatalf("adminRemove body %v, want %v", body, want)
	}

	// Nothing left to remove: Graph's 400.
	ge = asGraphError(t, d.AdminRemoveRoleAssignment(ctx, insts[0], "again"))
	if ge.Status != 400 || ge.Code != "RoleAssignmentDoesNotExist" || ge.Operation != graph.OpRoleScheduleRequest {
		t.Fatalf("second adminRemove: %+v", ge)
	}
}

func TestAdminAssignRoleAssignment(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "back@contoso.example", AccountEnabled: true})
	d := b.full(t)
	ctx := context.Background()
	a := remediation.RoleAssignment{PrincipalID: u.ID, RoleDefinitionID: graphsim.RoleSecurityAdministrator}

	before := time.Now().UTC().Add(-time.Second)
	if err := d.AdminAssignRoleAssignment(ctx, a, "undo of job 42"); err != nil {
		t.Fatalf("adminAssign: %v", err)
	}
	got := simAssignments(b.st, func(s graphsim.RoleAssignmentState) bool { return s.PrincipalID == u.ID })
	if len(got) != 1 || got[0].RoleDefinitionID != graphsim.RoleSecurityAdministrator || got[0].DirectoryScopeID != "/" {
		t.Fatalf("assignments %+v", got)
	}
	body := lastBody(t, b.sim, "POST", "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests")
	info, _ := body["scheduleInfo"].(map[string]any)
	delete(body, "scheduleInfo")
	want := map[string]any{"action": "adminAssign", "principalId": u.ID, "roleDefinitionId": graphsim.RoleSecurityAdministrator,
		"directoryScopeId": "/", "justification": "undo of job 42"}
	if !sameFields(body, want, "@odata.type") {
		t.Fatalf("adminAssign body %v, want %v", body, want)
	}
	start, err := time.Parse(time.RFC3339, stringOf(info["startDateTime"]))
	if err != nil || start.Before(before) || start.After(time.Now().Add(time.Second)) {
		t.Errorf("scheduleInfo.startDateTime %v (%v)", info["startDateTime"], err)
	}
	if exp, _ := info["expiration"].(map[string]any); exp == nil || exp["type"] != "noExpiration" {
		t.Errorf("scheduleInfo.expiration %v", info["expiration"])
	}

	// Already assigned: Graph's 400, not retryable.
	if ge := asGraphError(t, d.AdminAssignRoleAssignment(ctx, a, "again")); ge.Status != 400 || ge.Retryable() {
		t.Fatalf("second adminAssign: %+v", ge)
	}

	// With an end: expiration afterDateTime, and the assignment ends then.
	end := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	timed := remediation.RoleAssignment{PrincipalID: u.ID, RoleDefinitionID: graphsim.RoleUserAdministrator, EndDateTime: &end}
	if err := d.AdminAssignRoleAssignment(ctx, timed, "undo of job 43"); err != nil {
		t.Fatalf("adminAssign until %v: %v", end, err)
	}
	info, _ = lastBody(t, b.sim, "POST", "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests")["scheduleInfo"].(map[string]any)
	if exp, _ := info["expiration"].(map[string]any); exp == nil || exp["type"] != "afterDateTime" {
		t.Errorf("scheduleInfo.expiration %v, want afterDateTime", info["expiration"])
	}
	got = simAssignments(b.st, func(s graphsim.RoleAssignmentState) bool { return s.RoleDefinitionID == graphsim.RoleUserAdministrator })
	if len(got) != 1 || !got[0].EndsAt.Equal(end) {
		t.Fatalf("time-bound assignment %+v, want it to end %v", got, end)
	}
	insts, err := d.ListActiveRoleInstances(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		switch in.RoleDefinitionID {
		case graphsim.RoleUserAdministrator:
			if in.EndDateTime == nil || !in.EndDateTime.Equal(end) || in.AssignmentType != "Assigned" {
				t.Errorf("instance of the time-bound assignment %+v, want Assigned until %v", in, end)
			}
		case graphsim.RoleSecurityAdministrator:
			if in.EndDateTime != nil {
				t.Errorf("instance of the permanent assignment ends %v", in.EndDateTime)
			}
		}
	}
	// An end in the past: PIM's policy refusal.
	past := time.Now().Add(-time.Minute)
	timed = remediation.RoleAssignment{PrincipalID: u.ID, RoleDefinitionID: graphsim.RoleGlobalReader, EndDateTime: &past}
	if ge := asGraphError(t, d.AdminAssignRoleAssignment(ctx, timed, "late")); ge.Status != 400 || ge.Code != "RoleAssignmentRequestPolicyValidationFailed" {
		t.Fatalf("adminAssign until a past time: %+v", ge)
	}
}

func TestCreateRoleAssignment(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "undo@contoso.example", AccountEnabled: true})
	d := b.full(t)
	ctx := context.Background()
	a := remediation.RoleAssignment{PrincipalID: u.ID, RoleDefinitionID: graphsim.RoleUserAdministrator}

	id, err := d.CreateRoleAssignment(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	got := simAssignments(b.st, func(s graphsim.RoleAssignmentState) bool { return s.PrincipalID == u.ID })
	if len(got) != 1 || got[0].ID != id || got[0].RoleDefinitionID != graphsim.RoleUserAdministrator || got[0].DirectoryScopeID != "/" {
		t.Fatalf("created %q, simulator holds %+v", id, got)
	}
	body := lastBody(t, b.sim, "POST", assignmentsPath)
	want := map[string]any{"principalId": u.ID, "roleDefinitionId": graphsim.RoleUserAdministrator, "directoryScopeId": "/"}
	if !sameFields(body, want, "@odata.type") {
		t.Fatalf("body %v, want %v", body, want)
	}
	if ge := asGraphError(t, func() error { _, err := d.CreateRoleAssignment(ctx, a); return err }()); ge.Status != 400 {
		t.Fatalf("duplicate: %+v", ge)
	}

	// Without RoleManagement.ReadWrite.Directory: 403.
	b.st.SetAppHasRoleManagement(false)
	if ge := asGraphError(t, d.DeleteRoleAssignment(ctx, id)); ge.Status != 403 || ge.Code != "Authorization_RequestDenied" {
		t.Fatalf("delete without permission: %+v", ge)
	}
}

func TestListActiveRoleInstances(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "multi@contoso.example", AccountEnabled: true,
		Roles: []string{graphsim.RoleGlobalAdministrator}})
	b.st.AssignRole(u.ID, graphsim.RoleSecurityAdministrator, graphsim.AssignPIMActivated)
	g := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Exchange admins", SecurityEnabled: true, IsAssignableToRole: true,
		Members: []string{u.ID}})
	b.st.AssignRole(g.ID, graphsim.RoleExchangeAdministrator, graphsim.AssignDirect)
	d := b.full(t)
	ctx := context.Background()

	got, err := d.ListActiveRoleInstances(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	type kinds struct{ assignment, member string }
	want := map[string]kinds{
		graphsim.RoleGlobalAdministrator:   {"Assigned", "Direct"},
		graphsim.RoleSecurityAdministrator: {"Activated", "Direct"},
		graphsim.RoleExchangeAdministrator: {"Assigned", "Group"},
	}
	if len(got) != len(want) {
		t.Fatalf("instances %+v", got)
	}
	for _, in := range got {
		w, ok := want[in.RoleDefinitionID]
		if !ok || in.AssignmentType != w.assignment || in.MemberType != w.member || in.PrincipalID != u.ID ||
			in.DirectoryScopeID != "/" || in.ID == "" || (in.EndDateTime != nil) != (w.assignment == "Activated") {
			t.Errorf("instance %+v, want %+v (an end for the activation only)", in, w)
		}
	}
	if q := lastQuery(t, b.sim, "GET", "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"); q.Get("$filter") != "principalId eq '"+u.ID+"'" {
		t.Errorf("$filter = %q", q.Get("$filter"))
	}

	// Roles held directly or through the group, by template id.
	ids, err := d.TransitiveRoleTemplateIDs(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	wantIDs := []string{graphsim.RoleGlobalAdministrator, graphsim.RoleSecurityAdministrator, graphsim.RoleExchangeAdministrator}
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("TransitiveRoleTemplateIDs = %v, want %v", ids, wantIDs)
	}
	if ids, err := d.TransitiveRoleTemplateIDs(ctx, b.st.AddUser(graphsim.UserSpec{AccountEnabled: true}).ID); err != nil || len(ids) != 0 {
		t.Fatalf("user without roles: %v, %v", ids, err)
	}
	if ge := asGraphError(t, func() error { _, err := d.TransitiveRoleTemplateIDs(ctx, "nobody@contoso.example"); return err }()); ge.Status != 404 ||
		ge.Operation != graph.OpListTransitiveRoles {
		t.Fatalf("unknown user: %+v", ge)
	}
}

// simAssignments returns the simulator's assignments matching keep.
func simAssignments(st *graphsim.Tenant, keep func(graphsim.RoleAssignmentState) bool) []graphsim.RoleAssignmentState {
	var out []graphsim.RoleAssignmentState
	for _, a := range st.RoleAssignments() {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// sameAssignments compares what the client read with the simulator's state.
func sameAssignments(got []remediation.RoleAssignment, want []graphsim.RoleAssignmentState) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g remediation.RoleAssignment) bool {
			return g.ID == w.ID && g.PrincipalID == w.PrincipalID && g.RoleDefinitionID == w.RoleDefinitionID &&
				g.DirectoryScopeID == w.DirectoryScopeID
		}) {
			return false
		}
	}
	return true
}

// lastQuery returns the query of the last Graph request with this method
// and path.
func lastQuery(t *testing.T, sim *graphsim.Server, method, path string) url.Values {
	t.Helper()
	r := lastRequest(t, sim, method, path)
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
