package actions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/entraremediator/remediator/internal/remediation"
)

// RemoveRoleAssignments removes active directory role assignments of one
// user. Parameters (exactly one): role_assignment_ids, role_definition_ids
// or all=true. Direct assignments are deleted, PIM activations removed
// with adminRemove; roles held through a group are reported as not
// removable here. The tenant's last active Global Administrator is never
// removed (last_global_admin). Every assignment about to be removed is
// saved as prior state before the first write; undo re-creates them.
//
// Results: {"targets":[{"role_assignment_id","role_definition_id",
// "status","detail"}]}. The item fails if any target failed.
type RemoveRoleAssignments struct{}

// Action implements remediation.Executor.
func (RemoveRoleAssignments) Action() remediation.Action {
	return remediation.ActionRemoveRoleAssignments
}

// roleWork is one selected target and, for a removable one, its assignment.
type roleWork struct {
	target roleTarget
	a      *remediation.RoleAssignment
}

// Execute implements remediation.Executor.
func (RemoveRoleAssignments) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	if x.Undo() {
		return restoreRoles(ctx, x)
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	uid := target(u, x.Item.Identity)
	if res, ok := guardProtected(x, uid, x.Item.Identity); ok {
		return res, nil
	}
	params, bad := parseParams(x, uid, "role_assignment_ids", "role_definition_ids")
	if bad != nil {
		return *bad, nil
	}
	rd, err := dirAs[remediation.RoleDirectory](x, "role management")
	if err != nil {
		return remediation.Result{}, err
	}
	active, err := activeRoles(ctx, rd, uid)
	if err != nil {
		return remediation.Result{}, err
	}
	earlier := decodeRolePrior(x.Item.PriorState)
	work := selectRoles(params, active, earlier)

	// Decide every target with reads only, then save, then write.
	var remove []*roleWork
	gaChecked, gaOther := false, false
	for i := range work {
		w := &work[i]
		switch {
		case w.a == nil:
		case w.a.MemberType == "Group":
			detail, err := heldThrough(ctx, x, rd, uid, w.a.RoleDefinitionID)
			if err != nil {
				return remediation.Result{}, err
			}
			w.target.outcome = notRemovable(detail)
		case w.a.MemberType != "Direct" && w.a.MemberType != "":
			w.target.outcome = notRemovable("inherited (" + w.a.MemberType + "): not removable here")
		default:
			if sameID(w.a.RoleDefinitionID, remediation.RoleGlobalAdministrator) {
				if !gaChecked {
					gaChecked = true
					if gaOther, err = otherGlobalAdmin(ctx, rd, uid); err != nil {
						return remediation.Result{}, err
					}
				}
				if !gaOther {
					w.target.outcome = failed(CodeLastGlobalAdmin,
						"refused: the user is the tenant's last active Global Administrator")
					continue
				}
			}
			switch {
			case x.DryRun() && isPIM(*w.a):
				w.target.outcome = changed("would remove (PIM adminRemove)")
			case x.DryRun():
				w.target.outcome = changed("would remove")
			default:
				remove = append(remove, w)
			}
		}
	}

	prior := earlier
	for _, w := range remove {
		prior.Assignments = appendPrior(prior.Assignments, w.a)
	}
	var priorJSON json.RawMessage
	if len(prior.Assignments) > 0 && !x.DryRun() {
		if priorJSON, err = json.Marshal(prior); err != nil {
			return remediation.Result{}, fmt.Errorf("remove_role_assignments: encode prior state: %w", err)
		}
		if len(remove) > 0 {
			if err := x.SavePriorState(ctx, priorJSON); err != nil {
				return remediation.Result{}, fmt.Errorf("remove_role_assignments: save prior state: %w", err)
			}
		}
	}
	justification := fmt.Sprintf("Entra Remediator job %s", x.Job.ID)
	for _, w := range remove {
		if w.target.outcome, err = removeRole(ctx, rd, *w.a, justification); err != nil {
			return remediation.Result{}, err
		}
	}

	targets := make([]roleTarget, len(work))
	outs := make([]outcome, len(work))
	for i, w := range work {
		targets[i], outs[i] = w.target, w.target.outcome
	}
	res, err := targetsResult(x, uid, "removed", outs, targets)
	res.PriorState = priorJSON
	return res, err
}

// selectRoles picks the targets the parameters name. Assignments an
// earlier attempt of the item saved and removed (no longer active) are
// reported as removed.
func selectRoles(p targetParams, active []remediation.RoleAssignment, earlier rolePrior) []roleWork {
	var work []roleWork
	seen := map[string]bool{}
	add := func(a remediation.RoleAssignment) {
		if seen[a.ID] {
			return
		}
		seen[a.ID] = true
		work = append(work, roleWork{target: roleTarget{RoleAssignmentID: a.ID, RoleDefinitionID: a.RoleDefinitionID}, a: &a})
	}
	addEarlier := func(e priorAssignment) {
		if seen[e.ID] {
			return
		}
		seen[e.ID] = true
		work = append(work, roleWork{target: roleTarget{RoleAssignmentID: e.ID, RoleDefinitionID: e.RoleDefinitionID,
			outcome: changed("removed")}})
	}
	match := func(keep func(id, role string) bool) int {
		n := 0
		for _, a := range active {
			if keep(a.ID, a.RoleDefinitionID) {
				add(a)
				n++
			}
		}
		for _, e := range earlier.Assignments {
			if keep(e.ID, e.RoleDefinitionID) && !holdsRole(active, e.RoleDefinitionID, e.DirectoryScopeID) {
				addEarlier(e)
				n++
			}
		}
		return n
	}
	switch {
	case p.All:
		match(func(string, string) bool { return true })
	case len(p.RoleAssignmentIDs) > 0:
		for _, id := range p.RoleAssignmentIDs {
			if match(func(aid, _ string) bool { return aid == id }) == 0 && !seen[id] {
				seen[id] = true
				work = append(work, roleWork{target: roleTarget{RoleAssignmentID: id, outcome: noChange("not assigned: no change")}})
			}
		}
	default:
		for _, role := range p.RoleDefinitionIDs {
			if match(func(_, r string) bool { return sameID(r, role) }) == 0 {
				work = append(work, roleWork{target: roleTarget{RoleDefinitionID: role, outcome: noChange("not assigned: no change")}})
			}
		}
	}
	return work
}

// appendPrior adds a to the recorded assignments unless already there.
func appendPrior(list []priorAssignment, a *remediation.RoleAssignment) []priorAssignment {
	for _, p := range list {
		if p.ID == a.ID {
			return list
		}
	}
	kind := roleKindDirect
	if isPIM(*a) {
		kind = roleKindPIM
	}
	return append(list, priorAssignment{ID: a.ID, PrincipalID: a.PrincipalID, RoleDefinitionID: a.RoleDefinitionID,
		DirectoryScopeID: scopeOf(a.DirectoryScopeID), Kind: kind, EndDateTime: a.EndDateTime})
}
