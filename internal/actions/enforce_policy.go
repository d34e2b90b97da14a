package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// policyPrior is the prior state of an enforce item: which policy the user
// was queued for. Undo removes the user from that policy.
type policyPrior struct {
	Kind   remediation.PolicyKind `json:"kind"`
	UserID string                 `json:"user_id"`
	// AlreadyCovered: the user was in the policy (or group) before this
	// job; undo must leave it there.
	AlreadyCovered bool `json:"already_covered,omitempty"`
}

// enforcePolicy is the executor of both enforce actions.
func enforcePolicy(ctx context.Context, x *remediation.Exec, spec policySpec) (remediation.Result, error) {
	if x.Undo() {
		return unenforcePolicy(ctx, x, spec)
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	uid := target(u, x.Item.Identity)
	if res, ok := guardProtected(x, uid, x.Item.Identity); ok {
		return res, nil
	}
	var held heldRoles
	if spec.kind == remediation.PolicyPhishingResistantMFA {
		if held, err = readRoles(ctx, x, uid); err != nil {
			return remediation.Result{}, err
		}
		if !held.globalAdmin() {
			return refusal(x, remediation.ItemSkipped, uid, CodeNotGlobalAdmin, msgNotGlobalAdmin, previewRejectedNotGA), nil
		}
	}
	if res, refused, err := guardAdmin(ctx, x, uid, held); err != nil || refused {
		return res, err
	}
	if x.DryRun() {
		return previewPolicy(ctx, x, spec, uid, remediation.PolicyOpAdd)
	}
	prior, err := json.Marshal(policyPrior{Kind: spec.kind, UserID: uid})
	if err != nil {
		return remediation.Result{}, fmt.Errorf("%s: encode prior state: %w", x.Job.Action, err)
	}
	if err := x.SavePriorState(ctx, prior); err != nil {
		return remediation.Result{}, fmt.Errorf("%s: save prior state: %w", x.Job.Action, err)
	}
	if err := requestPolicy(ctx, x, spec.kind, remediation.PolicyOpAdd, uid); err != nil {
		return remediation.Result{}, err
	}
	return remediation.Result{Status: remediation.ItemRunning, Deferred: true, ObjectID: uid, PriorState: prior,
		Detail: "queued for the " + spec.label + " update"}, nil
}

// unenforcePolicy is the undo of an enforce item: it queues the removal of
// the user the original item added.
func unenforcePolicy(ctx context.Context, x *remediation.Exec, spec policySpec) (remediation.Result, error) {
	var p policyPrior
	if len(x.Item.UndoState) == 0 || json.Unmarshal(x.Item.UndoState, &p) != nil || p.UserID == "" {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped, ObjectID: x.Item.ObjectID,
			Detail: "nothing to undo: the original run did not queue the user for the " + spec.label},
			x.DryRun(), previewNothingToUndo), nil
	}
	if p.AlreadyCovered {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped, ObjectID: x.Item.ObjectID,
			Detail: "nothing to undo: the user was already covered by the " + spec.label + " before"},
			x.DryRun(), previewNothingToUndo), nil
	}
	if p.Kind != "" && p.Kind != spec.kind {
		if s, ok := policySpecs[p.Kind]; ok {
			spec = s
		}
	}
	if res, ok := guardProtected(x, p.UserID, x.Item.Identity); ok {
		return res, nil
	}
	if x.DryRun() {
		return previewPolicy(ctx, x, spec, p.UserID, remediation.PolicyOpRemove)
	}
	if err := requestPolicy(ctx, x, spec.kind, remediation.PolicyOpRemove, p.UserID); err != nil {
		return remediation.Result{}, err
	}
	return remediation.Result{Status: remediation.ItemRunning, Deferred: true, ObjectID: p.UserID,
		Detail: "queued for removal from the " + spec.label}, nil
}

// requestPolicy queues a policy change for the item.
func requestPolicy(ctx context.Context, x *remediation.Exec, kind remediation.PolicyKind, op, userID string) error {
	if x.RequestPolicy == nil {
		return remediation.Errorf(remediation.ENOTIMPLEMENTED, "%s: this worker cannot queue policy changes", x.Job.Action)
	}
	err := x.RequestPolicy(ctx, remediation.PolicyRequest{TenantID: x.Tenant.ID, Kind: kind, Op: op, UserID: userID,
		JobID: x.Job.ID, Seq: x.Item.Seq, CreatedAt: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("%s: queue policy request: %w", x.Job.Action, err)
	}
	return nil
}

// previewPolicy is the dry run of an enforce item (op add) or of its undo
// (op remove): reads only.
func previewPolicy(ctx context.Context, x *remediation.Exec, spec policySpec, uid, op string) (remediation.Result, error) {
	covered, exists, err := policyCovers(ctx, x, spec, uid, op)
	if err != nil {
		return remediation.Result{}, err
	}
	res := remediation.Result{Status: remediation.ItemSucceeded, ObjectID: uid}
	pv := previewWouldChange
	switch {
	case op == remediation.PolicyOpRemove && covered:
		res.Detail = "would remove from the " + spec.label
	case op == remediation.PolicyOpRemove:
		res.Detail, pv = "not in the policy: no change", previewNoChange
	case covered:
		res.Detail, pv = "already covered: no change", previewNoChange
	case !exists:
		res.Detail = "would create the " + spec.label + " and add the user"
	default:
		res.Detail = "would add to the " + spec.label
	}
	return withPreview(res, true, pv), nil
}

// policyCovers reads whether the tenant's managed policy of spec covers
// uid: listed in includeUsers or, with mfa_targeting=group, a member of
// the managed group (for op add, includeUsers "All" covers everyone too).
// exists is false when there is nothing to add to yet
// (no stored policy or group, or the stored policy is gone).
func policyCovers(ctx context.Context, x *remediation.Exec, spec policySpec, uid, op string) (covered, exists bool, err error) {
	ref := x.Tenant.Policies[spec.kind]
	if groupTargeting(x.Tenant.Settings) {
		if ref.GroupID == "" {
			return false, false, nil
		}
		gd, err := dirAs[remediation.GroupDirectory](x, "groups")
		if err != nil {
			return false, false, err
		}
		groups, err := gd.ListMemberOfGroups(ctx, uid)
		if err != nil {
			return false, false, err
		}
		for _, g := range groups {
			if sameID(g.ID, ref.GroupID) {
				return true, true, nil
			}
		}
		return false, true, nil
	}
	if ref.PolicyID == "" {
		return false, false, nil
	}
	pd, err := dirAs[remediation.PolicyDirectory](x, "Conditional Access policies")
	if err != nil {
		return false, false, err
	}
	// Every item of a dry run reads the same policy, under Graph's 1
	// request/s on Conditional Access: the items share one read (a
	// preview may be a few seconds stale).
	p, err := shared(ctx, x, "ca-policy:"+ref.PolicyID, func(ctx context.Context) (*remediation.CAPolicy, error) {
		return pd.GetCAPolicy(ctx, ref.PolicyID)
	})
	if graphStatus(err) == http.StatusNotFound {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return containsID(p.IncludeUsers, uid) || (op == remediation.PolicyOpAdd && containsID(p.IncludeUsers, "All")), true, nil
}

// shared runs read through x.Shared (see remediation.Exec.Shared), or
// directly without it.
func shared[T any](ctx context.Context, x *remediation.Exec, key string, read func(context.Context) (T, error)) (T, error) {
	if x.Shared == nil {
		return read(ctx)
	}
	v, err := x.Shared(ctx, key, func(ctx context.Context) (any, error) { return read(ctx) })
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}
