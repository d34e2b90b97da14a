package actions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DisableUser disables a user's account (PATCH accountEnabled=false).
//
// Protected identities are refused, and so are users holding a privileged
// role unless the job confirmed admin targets; both are checked before the
// write. The prior value is saved before the write, so undo knows to
// enable the account again. A user already disabled is "already disabled",
// unless an earlier attempt of the same item saved {"account_enabled":true}:
// then the earlier attempt's own write went through (a crash between the
// PATCH and the store update) and the result is "disabled" with that prior
// state.
//
// Undo enables the account again if the original item disabled it and it
// is still disabled. On-premises synced users are not refused up front:
// the PATCH is sent, Graph answers 400, and the error is tagged with
// remediation.ErrManagedOnPremises for the worker to report.
type DisableUser struct{}

// Action implements remediation.Executor.
func (DisableUser) Action() remediation.Action { return remediation.ActionDisableUser }

// disablePrior is the prior state recorded by DisableUser (and by its
// undo, with AccountEnabled false).
type disablePrior struct {
	AccountEnabled    bool   `json:"account_enabled"`
	UserPrincipalName string `json:"user_principal_name,omitempty"`
}

// Execute implements remediation.Executor.
func (DisableUser) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	if x.Undo() {
		return enableAgain(ctx, x)
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	if res, ok := guardProtected(x, u.ID, x.Item.Identity); ok {
		return res, nil
	}
	dry := x.DryRun()
	if !u.AccountEnabled {
		if savedEnabled(x.Item.PriorState) && !dry {
			return remediation.Result{Status: remediation.ItemSucceeded, Detail: "disabled",
				ObjectID: u.ID, PriorState: x.Item.PriorState}, nil
		}
		res := remediation.Result{Status: remediation.ItemSucceeded, Detail: "already disabled", ObjectID: u.ID}
		if dry {
			res.Detail = "no change: already disabled"
		}
		return withPreview(res, dry, previewNoChange), nil
	}
	if res, refused, err := guardAdmin(ctx, x, target(u, x.Item.Identity), nil); err != nil || refused {
		return res, err
	}
	if dry {
		return withPreview(remediation.Result{Status: remediation.ItemSucceeded, Detail: "would disable the account",
			ObjectID: u.ID}, true, previewWouldChange), nil
	}
	prior, err := json.Marshal(disablePrior{AccountEnabled: true, UserPrincipalName: u.UserPrincipalName})
	if err != nil {
		return remediation.Result{}, fmt.Errorf("disable_user: encode prior state: %w", err)
	}
	if err := x.SavePriorState(ctx, prior); err != nil {
		return remediation.Result{}, fmt.Errorf("disable_user: save prior state: %w", err)
	}
	if err := x.Dir.SetAccountEnabled(ctx, target(u, x.Item.Identity), false); err != nil {
		return remediation.Result{}, onPremises(u, err)
	}
	return remediation.Result{Status: remediation.ItemSucceeded, Detail: "disabled", ObjectID: u.ID, PriorState: prior}, nil
}

// enableAgain is the undo of DisableUser: it enables the account if the
// original item disabled it (its prior state says it was enabled).
func enableAgain(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	dry := x.DryRun()
	if !savedEnabled(x.Item.UndoState) {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped,
			Detail: "nothing to undo: the original run did not disable the account", ObjectID: x.Item.ObjectID},
			dry, previewNothingToUndo), nil
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	if res, ok := guardProtected(x, u.ID, x.Item.Identity); ok {
		return res, nil
	}
	if u.AccountEnabled {
		if savedDisabled(x.Item.PriorState) && !dry {
			return remediation.Result{Status: remediation.ItemSucceeded, Detail: "enabled",
				ObjectID: u.ID, PriorState: x.Item.PriorState}, nil
		}
		return withPreview(remediation.Result{Status: remediation.ItemSucceeded, Detail: "no change: already enabled",
			ObjectID: u.ID}, dry, previewNoChange), nil
	}
	if dry {
		return withPreview(remediation.Result{Status: remediation.ItemSucceeded, Detail: "would enable the account",
			ObjectID: u.ID}, true, previewWouldChange), nil
	}
	prior, err := json.Marshal(disablePrior{AccountEnabled: false, UserPrincipalName: u.UserPrincipalName})
	if err != nil {
		return remediation.Result{}, fmt.Errorf("disable_user undo: encode prior state: %w", err)
	}
	if err := x.SavePriorState(ctx, prior); err != nil {
		return remediation.Result{}, fmt.Errorf("disable_user undo: save prior state: %w", err)
	}
	if err := x.Dir.SetAccountEnabled(ctx, target(u, x.Item.Identity), true); err != nil {
		return remediation.Result{}, onPremises(u, err)
	}
	return remediation.Result{Status: remediation.ItemSucceeded, Detail: "enabled", ObjectID: u.ID, PriorState: prior}, nil
}

// savedEnabled reports whether a prior state saved by DisableUser says the
// account was enabled before the item changed it.
func savedEnabled(raw json.RawMessage) bool {
	p, ok := decodeDisablePrior(raw)
	return ok && p.AccountEnabled
}

// savedDisabled reports whether a prior state saved by the undo says the
// account was disabled before the undo enabled it.
func savedDisabled(raw json.RawMessage) bool {
	p, ok := decodeDisablePrior(raw)
	return ok && !p.AccountEnabled
}

func decodeDisablePrior(raw json.RawMessage) (disablePrior, bool) {
	var p disablePrior
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil {
		return p, false
	}
	return p, true
}
