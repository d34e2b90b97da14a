package actions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DisableUser disables a user's account (PATCH accountEnabled=false).
//
// The prior value is saved before the write, so undo knows to enable the
// account again. A user already disabled is "already disabled", unless an
// earlier attempt of the same item saved {"account_enabled":true}: then
// the earlier attempt's own write went through (a crash between the PATCH
// and the store update) and the result is "disabled" with that prior state.
//
// On-premises synced users are not refused up front: the PATCH is sent,
// Graph answers 400, and the error is tagged with
// remediation.ErrManagedOnPremises for the worker to report.
type DisableUser struct{}

// Action implements remediation.Executor.
func (DisableUser) Action() remediation.Action { return remediation.ActionDisableUser }

// disablePrior is the prior state recorded by DisableUser.
type disablePrior struct {
	AccountEnabled    bool   `json:"account_enabled"`
	UserPrincipalName string `json:"user_principal_name,omitempty"`
}

// Execute implements remediation.Executor.
func (DisableUser) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	if !u.AccountEnabled {
		if savedEnabled(x.Item.PriorState) {
			return remediation.Result{Status: remediation.ItemSucceeded, Detail: "disabled",
				ObjectID: u.ID, PriorState: x.Item.PriorState}, nil
		}
		return remediation.Result{Status: remediation.ItemSucceeded, Detail: "already disabled", ObjectID: u.ID}, nil
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

// savedEnabled reports whether a prior state saved by an earlier attempt
// says the account was enabled before this item changed it.
func savedEnabled(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var p disablePrior
	return json.Unmarshal(raw, &p) == nil && p.AccountEnabled
}
