package actions

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// EnforceMFA adds a user to the tenant's Conditional Access policy that
// requires MFA for all cloud apps. The policy (one per tenant, created on
// first use) is written in batches by PolicyFlusher: the executor checks
// the guards (protected identity, unconfirmed admin target), saves
// {"kind","user_id"} as prior state and queues a PolicyRequest; the item
// stays running (Result.Deferred) until the flush finishes it.
//
// Undo queues the removal of the user. A dry run reads the stored policy
// (or the managed group with mfa_targeting=group) and says what a real run
// would do.
type EnforceMFA struct{}

// Action implements remediation.Executor.
func (EnforceMFA) Action() remediation.Action { return remediation.ActionEnforceMFA }

// Execute implements remediation.Executor.
func (EnforceMFA) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	return enforcePolicy(ctx, x, policySpecs[remediation.PolicyMFA])
}
