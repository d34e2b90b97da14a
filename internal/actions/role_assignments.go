package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Kinds of role assignments in prior states.
const (
	roleKindDirect = "direct" // roleAssignments: DELETE / POST
	roleKindPIM    = "pim"    // PIM activation: adminRemove / adminAssign
)

// priorAssignment is one removed role assignment, as recorded for undo.
type priorAssignment struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principal_id"`
	RoleDefinitionID string `json:"role_definition_id"`
	DirectoryScopeID string `json:"directory_scope_id"`
	Kind             string `json:"kind"`
	// EndDateTime is when the assignment would have ended (a PIM
	// activation, or an active assignment with an expiration): undo
	// restores it until then, never for longer.
	EndDateTime *time.Time `json:"end_date_time,omitempty"`
}

// rolePrior is the prior state of remove_role_assignments.
type rolePrior struct {
	Assignments []priorAssignment `json:"assignments"`
}

func decodeRolePrior(raw json.RawMessage) rolePrior {
	var p rolePrior
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p) // unreadable: nothing recorded
	}
	return p
}

func (p priorAssignment) assignment() remediation.RoleAssignment {
	return remediation.RoleAssignment{ID: p.ID, PrincipalID: p.PrincipalID, RoleDefinitionID: p.RoleDefinitionID,
		DirectoryScopeID: p.DirectoryScopeID, EndDateTime: p.EndDateTime}
}

// roleTarget is one entry of the action's Results.
type roleTarget struct {
	RoleAssignmentID string `json:"role_assignment_id"`
	RoleDefinitionID string `json:"role_definition_id"`
	outcome
}

// activeRoles lists the principal's active role assignments: direct ones
// (roleAssignments) merged with the PIM schedule instances, which tell
// Assigned from Activated and Direct from Group-held. A Direct instance
// is merged with the assignment of the same id, or else of the same role
// and scope.
func activeRoles(ctx context.Context, rd remediation.RoleDirectory, principalID string) ([]remediation.RoleAssignment, error) {
	direct, err := rd.ListRoleAssignments(ctx, principalID)
	if err != nil {
		return nil, err
	}
	inst, err := rd.ListActiveRoleInstances(ctx, principalID)
	if err != nil {
		return nil, err
	}
	out := make([]remediation.RoleAssignment, 0, len(direct)+len(inst))
	for _, a := range direct {
		a.AssignmentType, a.MemberType = "Assigned", "Direct"
		out = append(out, a)
	}
	for _, in := range inst {
		merged := false
		for i := range out {
			a := &out[i]
			if a.ID == in.ID || (in.MemberType == "Direct" && a.MemberType == "Direct" &&
				sameID(a.RoleDefinitionID, in.RoleDefinitionID) && scopeOf(a.DirectoryScopeID) == scopeOf(in.DirectoryScopeID)) {
				a.AssignmentType, a.MemberType, a.EndDateTime = in.AssignmentType, in.MemberType, in.EndDateTime
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, in)
		}
	}
	return out, nil
}

func scopeOf(s string) string {
	if s == "" {
		return "/"
	}
	return s
}

// isPIM reports whether a is a PIM activation (removed with adminRemove).
func isPIM(a remediation.RoleAssignment) bool { return a.AssignmentType == "Activated" }

// holdsRole reports whether active holds role at scope directly.
func holdsRole(active []remediation.RoleAssignment, role, scope string) bool {
	for _, a := range active {
		if a.MemberType == "Direct" && sameID(a.RoleDefinitionID, role) && scopeOf(a.DirectoryScopeID) == scopeOf(scope) {
			return true
		}
	}
	return false
}

// otherGlobalAdmin reports whether a principal other than principalID
// holds an active Global Administrator assignment.
func otherGlobalAdmin(ctx context.Context, rd remediation.RoleDirectory, principalID string) (bool, error) {
	all, err := rd.ListRoleAssignmentsOfRole(ctx, remediation.RoleGlobalAdministrator)
	if err != nil {
		return false, err
	}
	for _, a := range all {
		if a.PrincipalID != "" && !sameID(a.PrincipalID, principalID) {
			return true, nil
		}
	}
	return false, nil
}

// heldThrough describes the group a user holds role through: the
// role-assignable group (those cannot be nested) that has the role and
// lists the user as a direct member.
func heldThrough(ctx context.Context, x *remediation.Exec, rd remediation.RoleDirectory, userID, role string) (string, error) {
	const unknown = "held through a group: not removable here"
	gd, err := dirAs[remediation.GroupDirectory](x, "groups")
	if err != nil {
		return unknown, nil
	}
	holders, err := rd.ListRoleAssignmentsOfRole(ctx, role)
	if err == nil {
		var groups []remediation.Group
		if groups, err = gd.ListMemberOfGroups(ctx, userID); err == nil {
			for _, h := range holders {
				for _, g := range groups {
					if sameID(g.ID, h.PrincipalID) {
						return fmt.Sprintf("held through group %s: not removable here", g.ID), nil
					}
				}
			}
		}
	}
	if retryable(err) {
		return "", err
	}
	return unknown, nil
}

// removeRole removes one active assignment: adminRemove for a PIM
// activation, else DELETE (404: already removed), falling back to
// adminRemove when DELETE answers another 4xx. A refusal is read again:
// an assignment gone meanwhile is "already removed". Retryable and
// infrastructure errors are returned.
func removeRole(ctx context.Context, rd remediation.RoleDirectory, a remediation.RoleAssignment, justification string) (outcome, error) {
	var err error
	if isPIM(a) {
		err = rd.AdminRemoveRoleAssignment(ctx, a, justification)
	} else {
		err = rd.DeleteRoleAssignment(ctx, a.ID)
		switch st := graphStatus(err); {
		case err == nil:
			return changed("removed"), nil
		case st == http.StatusNotFound:
			return noChange("already removed: no change"), nil
		case st >= 400 && st < 500 && st != http.StatusTooManyRequests:
			err = rd.AdminRemoveRoleAssignment(ctx, a, justification)
		}
	}
	if err == nil {
		return changed("removed (PIM adminRemove)"), nil
	}
	if retryable(err) {
		return outcome{}, err
	}
	e, ok := itemError(err)
	if !ok {
		return outcome{}, err
	}
	active, lerr := activeRoles(ctx, rd, a.PrincipalID)
	if lerr != nil {
		return outcome{}, lerr
	}
	if !holdsRole(active, a.RoleDefinitionID, a.DirectoryScopeID) {
		return noChange("already removed: no change"), nil
	}
	return failedWith(e), nil
}
