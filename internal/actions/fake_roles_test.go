package actions

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// fakeAssignment is an active role assignment; pim marks a PIM activation
// (a plain DELETE answers 400, like the simulator).
type fakeAssignment struct {
	remediation.RoleAssignment
	pim bool
}

// fakePIMEnd is when the fake's PIM activations end.
var fakePIMEnd = time.Now().Add(8 * time.Hour).UTC().Truncate(time.Second)

// assign adds an active assignment at tenant scope and returns its id.
func (d *fakeDir) assign(principal, role string, pim bool) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := d.newID("ra")
	a := remediation.RoleAssignment{ID: id, PrincipalID: principal, RoleDefinitionID: role, DirectoryScopeID: "/"}
	if pim {
		end := fakePIMEnd
		a.EndDateTime = &end // a PIM activation ends
	}
	d.assignments = append(d.assignments, &fakeAssignment{a, pim})
	return id
}

// roleState lists the assignments as "principal role scope kind [until
// end]", sorted
// (ids are left out: re-created assignments get new ids).
func (d *fakeDir) roleState() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.assignments {
		kind := "direct"
		if a.pim {
			kind = "pim"
		}
		if a.EndDateTime != nil {
			kind += " until " + a.EndDateTime.UTC().Format(time.RFC3339)
		}
		out = append(out, strings.Join([]string{a.PrincipalID, a.RoleDefinitionID, a.DirectoryScopeID, kind}, " "))
	}
	slices.Sort(out)
	return out
}

func (d *fakeDir) inGroup(groupID, userID string) bool {
	g := d.groups[strings.ToLower(groupID)]
	return g != nil && g.members[strings.ToLower(userID)]
}

func (d *fakeDir) ListRoleAssignments(_ context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	if err := d.call("ListRoleAssignments", principalID, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []remediation.RoleAssignment
	for _, a := range d.assignments {
		if sameID(a.PrincipalID, principalID) {
			out = append(out, remediation.RoleAssignment{ID: a.ID, PrincipalID: a.PrincipalID,
				RoleDefinitionID: a.RoleDefinitionID, DirectoryScopeID: a.DirectoryScopeID})
		}
	}
	return out, nil
}

func (d *fakeDir) ListRoleAssignmentsOfRole(_ context.Context, role string) ([]remediation.RoleAssignment, error) {
	if err := d.call("ListRoleAssignmentsOfRole", role, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []remediation.RoleAssignment
	for _, a := range d.assignments {
		if sameID(a.RoleDefinitionID, role) {
			out = append(out, a.RoleAssignment)
		}
	}
	return out, nil
}

func (d *fakeDir) ListActiveRoleInstances(_ context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	if err := d.call("ListActiveRoleInstances", principalID, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []remediation.RoleAssignment
	for _, a := range d.assignments {
		in := a.RoleAssignment
		in.AssignmentType, in.MemberType = "Assigned", "Direct"
		if a.pim {
			in.AssignmentType = "Activated"
		}
		switch {
		case sameID(a.PrincipalID, principalID):
		case d.inGroup(a.PrincipalID, principalID):
			in.ID, in.PrincipalID, in.MemberType = "inst-"+a.ID+"-"+principalID, principalID, "Group"
		default:
			continue
		}
		out = append(out, in)
	}
	for _, in := range d.instances {
		if sameID(in.PrincipalID, principalID) {
			out = append(out, in)
		}
	}
	return out, nil
}

func (d *fakeDir) TransitiveRoleTemplateIDs(_ context.Context, userID string) ([]string, error) {
	if err := d.call("TransitiveRoleTemplateIDs", userID, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []string{}
	for _, a := range d.assignments {
		if (sameID(a.PrincipalID, userID) || d.inGroup(a.PrincipalID, userID)) && !slices.Contains(out, a.RoleDefinitionID) {
			out = append(out, a.RoleDefinitionID)
		}
	}
	return out, nil
}

func (d *fakeDir) DeleteRoleAssignment(_ context.Context, id string) error {
	if err := d.call("DeleteRoleAssignment", id, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, a := range d.assignments {
		if a.ID == id {
			if a.pim {
				return gerr("DeleteRoleAssignment", http.StatusBadRequest, "Request_BadRequest")
			}
			d.assignments = slices.Delete(d.assignments, i, i+1)
			return nil
		}
	}
	return gerr("DeleteRoleAssignment", http.StatusNotFound, "Request_ResourceNotFound")
}

func (d *fakeDir) findAssignment(a remediation.RoleAssignment) int {
	for i, o := range d.assignments {
		if sameID(o.PrincipalID, a.PrincipalID) && sameID(o.RoleDefinitionID, a.RoleDefinitionID) &&
			o.DirectoryScopeID == scopeOf(a.DirectoryScopeID) {
			return i
		}
	}
	return -1
}

func (d *fakeDir) AdminRemoveRoleAssignment(_ context.Context, a remediation.RoleAssignment, justification string) error {
	if err := d.call("AdminRemoveRoleAssignment", a.PrincipalID+"/"+a.RoleDefinitionID, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.findAssignment(a)
	if i < 0 || justification == "" {
		return gerr("AdminRemoveRoleAssignment", http.StatusBadRequest, "RoleAssignmentDoesNotExist")
	}
	d.assignments = slices.Delete(d.assignments, i, i+1)
	return nil
}

func (d *fakeDir) CreateRoleAssignment(_ context.Context, a remediation.RoleAssignment) (string, error) {
	if err := d.call("CreateRoleAssignment", a.PrincipalID+"/"+a.RoleDefinitionID, true); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.findAssignment(a) >= 0 {
		return "", gerr("CreateRoleAssignment", http.StatusBadRequest, "Request_BadRequest")
	}
	a.ID, a.DirectoryScopeID = d.newID("ra"), scopeOf(a.DirectoryScopeID)
	d.assignments = append(d.assignments, &fakeAssignment{RoleAssignment: a})
	return a.ID, nil
}

func (d *fakeDir) AdminAssignRoleAssignment(_ context.Context, a remediation.RoleAssignment, justification string) error {
	if err := d.call("AdminAssignRoleAssignment", a.PrincipalID+"/"+a.RoleDefinitionID, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.findAssignment(a) >= 0 || justification == "" {
		return gerr("AdminAssignRoleAssignment", http.StatusBadRequest, "RoleAssignmentExists")
	}
	a.ID, a.DirectoryScopeID = d.newID("ra"), scopeOf(a.DirectoryScopeID)
	d.assignments = append(d.assignments, &fakeAssignment{RoleAssignment: a, pim: true})
	return nil
}
