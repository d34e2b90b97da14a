package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/entraremediator/remediator/internal/remediation"
)

// RemoveGroupMemberships removes direct group memberships of one user
// (DELETE /groups/{g}/members/{u}/$ref). Parameters (exactly one):
// group_ids or all=true (every direct membership). Groups are read from
// the user's direct memberships ($select'ed properties): dynamic groups
// are refused (the product never changes them), and so are mail-enabled
// security groups and distribution lists (Graph cannot change them) and
// groups synced from on-premises AD. Groups the user is not a direct
// member of are "not a member: no change". The groups about to be removed
// are saved as prior state before the first write; undo re-adds the user.
//
// Results: {"targets":[{"group_id","display_name","status","detail"}]}.
// The item fails if any target failed.
type RemoveGroupMemberships struct{}

// Action implements remediation.Executor.
func (RemoveGroupMemberships) Action() remediation.Action {
	return remediation.ActionRemoveGroupMemberships
}

// groupPrior is the prior state of remove_group_memberships.
type groupPrior struct {
	UserID string       `json:"user_id"`
	Groups []priorGroup `json:"groups"`
}

type priorGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name,omitempty"`
}

func decodeGroupPrior(raw json.RawMessage) groupPrior {
	var p groupPrior
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &p) // unreadable: nothing recorded
	}
	return p
}

// groupTarget is one entry of the action's Results.
type groupTarget struct {
	GroupID     string `json:"group_id"`
	DisplayName string `json:"display_name,omitempty"`
	outcome
}

// Execute implements remediation.Executor.
func (RemoveGroupMemberships) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	if x.Undo() {
		return restoreGroups(ctx, x)
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	uid := target(u, x.Item.Identity)
	if res, ok := guardProtected(x, uid, x.Item.Identity); ok {
		return res, nil
	}
	params, bad := parseParams(x, uid, "group_ids")
	if bad != nil {
		return *bad, nil
	}
	gd, err := dirAs[remediation.GroupDirectory](x, "groups")
	if err != nil {
		return remediation.Result{}, err
	}
	member, err := gd.ListMemberOfGroups(ctx, uid)
	if err != nil {
		return remediation.Result{}, err
	}
	earlier := decodeGroupPrior(x.Item.PriorState)
	targets, groups := selectGroups(params, member, earlier)

	prior := groupPrior{UserID: uid, Groups: earlier.Groups}
	var remove []int
	for i, g := range groups {
		switch {
		case g == nil:
		case g.Dynamic():
			targets[i].outcome = failed(CodeDynamicGroup,
				"dynamic group (rule-based membership): the product never changes dynamic groups")
		case g.MailEnabled && !g.Unified():
			targets[i].outcome = failed(CodeMailEnabledGroup,
				"mail-enabled security group or distribution list: not removable through Graph (use Exchange)")
		case g.OnPremisesSyncEnabled:
			targets[i].outcome = failed(CodeOnPremisesGroup, "managed on-premises: change the membership in on-premises AD")
		case x.DryRun():
			targets[i].outcome = changed("would remove")
		default:
			remove = append(remove, i)
			if !containsGroup(prior.Groups, g.ID) {
				prior.Groups = append(prior.Groups, priorGroup{ID: g.ID, DisplayName: g.DisplayName})
			}
		}
	}
	var priorJSON json.RawMessage
	if len(prior.Groups) > 0 && !x.DryRun() {
		if priorJSON, err = json.Marshal(prior); err != nil {
			return remediation.Result{}, fmt.Errorf("remove_group_memberships: encode prior state: %w", err)
		}
		if len(remove) > 0 {
			if err := x.SavePriorState(ctx, priorJSON); err != nil {
				return remediation.Result{}, fmt.Errorf("remove_group_memberships: save prior state: %w", err)
			}
		}
	}
	for _, i := range remove {
		if targets[i].outcome, err = removeMember(ctx, gd, groups[i].ID, uid); err != nil {
			return remediation.Result{}, err
		}
	}
	outs := make([]outcome, len(targets))
	for i, t := range targets {
		outs[i] = t.outcome
	}
	res, err := targetsResult(x, uid, "removed", outs, targets)
	res.PriorState = priorJSON
	return res, err
}

// selectGroups picks the targets the parameters name; groups[i] is the
// membership to act on (nil when the target is already decided). Groups
// an earlier attempt of the item saved and removed are reported as removed.
func selectGroups(p targetParams, member []remediation.Group, earlier groupPrior) ([]groupTarget, []*remediation.Group) {
	var targets []groupTarget
	var groups []*remediation.Group
	seen := map[string]bool{}
	pick := func(id string) bool {
		for i := range member {
			if sameID(member[i].ID, id) {
				targets = append(targets, groupTarget{GroupID: member[i].ID, DisplayName: member[i].DisplayName})
				groups = append(groups, &member[i])
				return true
			}
		}
		for _, e := range earlier.Groups {
			if sameID(e.ID, id) {
				targets = append(targets, groupTarget{GroupID: e.ID, DisplayName: e.DisplayName, outcome: changed("removed")})
				groups = append(groups, nil)
				return true
			}
		}
		return false
	}
	ids := p.GroupIDs
	if p.All {
		ids = nil
		for _, g := range member {
			ids = append(ids, g.ID)
		}
		for _, e := range earlier.Groups {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		key := lower(id)
		if seen[key] {
			continue
		}
		seen[key] = true
		if !pick(id) {
			targets = append(targets, groupTarget{GroupID: id, outcome: noChange("not a member: no change")})
			groups = append(groups, nil)
		}
	}
	return targets, groups
}

// removeMember removes the user from one group. Graph's 400 for a user
// who is not a member (and its 404 for a group that is gone) are "not a
// member: no change", confirmed by reading the memberships again.
func removeMember(ctx context.Context, gd remediation.GroupDirectory, groupID, userID string) (outcome, error) {
	err := gd.RemoveGroupMember(ctx, groupID, userID)
	switch {
	case err == nil:
		return changed("removed"), nil
	case retryable(err):
		return outcome{}, err
	case graphStatus(err) == http.StatusBadRequest || graphStatus(err) == http.StatusNotFound:
		still, rerr := isMember(ctx, gd, userID, groupID)
		if rerr != nil {
			return outcome{}, rerr
		}
		if !still {
			return noChange("not a member: no change"), nil
		}
	}
	e, ok := itemError(err)
	if !ok {
		return outcome{}, err
	}
	return failedWith(e), nil
}

func containsGroup(list []priorGroup, id string) bool {
	for _, g := range list {
		if sameID(g.ID, id) {
			return true
		}
	}
	return false
}
