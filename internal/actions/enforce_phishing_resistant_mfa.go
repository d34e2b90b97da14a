package actions

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// EnforcePhishingResistantMFA adds a global-admin-level user to the
// tenant's Conditional Access policy that requires the phishing-resistant
// authentication strength. It works like EnforceMFA, with one more guard:
// users who hold no Global Administrator role (directly, through a
// role-assignable group, or as an active PIM instance) are skipped with
// error code not_global_admin. As every target is an administrator, the
// job must confirm admin targets.
type EnforcePhishingResistantMFA struct{}

// Action implements remediation.Executor.
func (EnforcePhishingResistantMFA) Action() remediation.Action {
	return remediation.ActionEnforcePhishingResistantMFA
}

// Execute implements remediation.Executor.
func (EnforcePhishingResistantMFA) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	return enforcePolicy(ctx, x, policySpecs[remediation.PolicyPhishingResistantMFA])
}
