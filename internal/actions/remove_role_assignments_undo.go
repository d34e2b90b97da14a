package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// restoreRoles is the undo of RemoveRoleAssignments: it re-creates every
// assignment the original item recorded as removed (direct: POST
// roleAssignments; PIM or time-bound: adminAssign, until the recorded end)
// unless the principal holds that role at that scope again. Re-created
// direct assignments get new ids.
func restoreRoles(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	prior := decodeRolePrior(x.Item.UndoState)
	if len(prior.Assignments) == 0 {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped, ObjectID: x.Item.ObjectID,
			Detail: "nothing to undo: the original run removed no role assignment"}, x.DryRun(), previewNothingToUndo), nil
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	uid := target(u, x.Item.Identity)
	if res, ok := guardProtected(x, uid, x.Item.Identity); ok {
		return res, nil
	}
	rd, err := dirAs[remediation.RoleDirectory](x, "role management")
	if err != nil {
		return remediation.Result{}, err
	}
	active := map[string][]remediation.RoleAssignment{}
	justification := fmt.Sprintf("Entra Remediator job %s: undo of job %s", x.Job.ID, x.Job.UndoOf)
	targets := make([]roleTarget, len(prior.Assignments))
	outs := make([]outcome, len(prior.Assignments))
	for i, p := range prior.Assignments {
		if p.PrincipalID == "" {
			p.PrincipalID = uid
		}
		if _, ok := active[p.PrincipalID]; !ok {
			if active[p.PrincipalID], err = activeRoles(ctx, rd, p.PrincipalID); err != nil {
				return remediation.Result{}, err
			}
		}
		o, err := restoreRole(ctx, x, rd, p, active[p.PrincipalID], justification)
		if err != nil {
			return remediation.Result{}, err
		}
		targets[i] = roleTarget{RoleAssignmentID: p.ID, RoleDefinitionID: p.RoleDefinitionID, outcome: o}
		outs[i] = o
	}
	return targetsResult(x, uid, "restored", outs, targets)
}

// restoreMinRemaining is the least time a time-bound assignment must have
// left for undo to re-create it: PIM refuses a schedule that ends before
// it is processed.
const restoreMinRemaining = time.Minute

// restoreRole re-creates one recorded assignment.
func restoreRole(ctx context.Context, x *remediation.Exec, rd remediation.RoleDirectory, p priorAssignment,
	active []remediation.RoleAssignment, justification string) (outcome, error) {
	if holdsRole(active, p.RoleDefinitionID, p.DirectoryScopeID) {
		return noChange("already assigned: no change"), nil
	}
	// An undo never grants more than was removed: a time-bound
	// assignment comes back until its recorded end, and not at all once
	// that has (nearly) passed.
	if p.EndDateTime != nil && !p.EndDateTime.After(time.Now().Add(restoreMinRemaining)) {
		return noChange("not re-created: the assignment would have ended at " + p.EndDateTime.UTC().Format(time.RFC3339)), nil
	}
	if x.DryRun() {
		return changed("would re-create"), nil
	}
	var err error
	detail := "re-created"
	if p.Kind == roleKindPIM || p.EndDateTime != nil {
		err = rd.AdminAssignRoleAssignment(ctx, p.assignment(), justification)
		detail = "re-assigned through PIM (adminAssign)"
		if p.EndDateTime != nil {
			detail += " until " + p.EndDateTime.UTC().Format(time.RFC3339)
		}
	} else {
		var id string
		id, err = rd.CreateRoleAssignment(ctx, p.assignment())
		detail = "re-created as " + id
	}
	if err == nil {
		return changed(detail), nil
	}
	if retryable(err) {
		return outcome{}, err
	}
	e, ok := itemError(err)
	if !ok {
		return outcome{}, err
	}
	return failedWith(e), nil
}
