package actions

import (
	"context"
	"net/http"

	"github.com/entraremediator/remediator/internal/remediation"
)

// restoreGroups is the undo of RemoveGroupMemberships: it adds the user
// back to every group the original item recorded. A user who already is
// a member (Graph's 400 for an existing reference) is "no change".
func restoreGroups(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	prior := decodeGroupPrior(x.Item.UndoState)
	if len(prior.Groups) == 0 {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped, ObjectID: x.Item.ObjectID,
			Detail: "nothing to undo: the original run removed no group membership"}, x.DryRun(), previewNothingToUndo), nil
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	uid := target(u, x.Item.Identity)
	if prior.UserID != "" {
		uid = prior.UserID
	}
	if res, ok := guardProtected(x, uid, x.Item.Identity); ok {
		return res, nil
	}
	gd, err := dirAs[remediation.GroupDirectory](x, "groups")
	if err != nil {
		return remediation.Result{}, err
	}
	member, err := gd.ListMemberOfGroups(ctx, uid)
	if err != nil {
		return remediation.Result{}, err
	}
	targets := make([]groupTarget, len(prior.Groups))
	outs := make([]outcome, len(prior.Groups))
	for i, g := range prior.Groups {
		o, err := restoreMember(ctx, x, gd, member, g.ID, uid)
		if err != nil {
			return remediation.Result{}, err
		}
		targets[i] = groupTarget{GroupID: g.ID, DisplayName: g.DisplayName, outcome: o}
		outs[i] = o
	}
	return targetsResult(x, uid, "re-added", outs, targets)
}

// restoreMember adds userID back to groupID.
func restoreMember(ctx context.Context, x *remediation.Exec, gd remediation.GroupDirectory, member []remediation.Group,
	groupID, userID string) (outcome, error) {
	for _, g := range member {
		if sameID(g.ID, groupID) {
			return noChange("already a member: no change"), nil
		}
	}
	if x.DryRun() {
		return changed("would re-add"), nil
	}
	err := gd.AddGroupMember(ctx, groupID, userID)
	switch {
	case err == nil:
		return changed("re-added"), nil
	case retryable(err):
		return outcome{}, err
	case graphStatus(err) == http.StatusBadRequest:
		now, rerr := isMember(ctx, gd, userID, groupID)
		if rerr != nil {
			return outcome{}, rerr
		}
		if now {
			return noChange("already a member: no change"), nil
		}
	}
	e, ok := itemError(err)
	if !ok {
		return outcome{}, err
	}
	return failedWith(e), nil
}
