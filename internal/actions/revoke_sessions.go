package actions

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// RevokeSessions revokes a user's sign-in sessions and refresh tokens
// (POST revokeSignInSessions). It is safe to repeat and cannot be undone.
// External (guest) users are skipped: they sign in through their home
// tenant, so revoking here does not end their sessions.
type RevokeSessions struct{}

// Action implements remediation.Executor.
func (RevokeSessions) Action() remediation.Action { return remediation.ActionRevokeSessions }

// Execute implements remediation.Executor.
func (RevokeSessions) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	if isExternal(u) {
		return remediation.Result{Status: remediation.ItemSkipped,
			Detail: "guest user: sessions are not revoked", ObjectID: u.ID}, nil
	}
	if err := x.Dir.RevokeSignInSessions(ctx, target(u, x.Item.Identity)); err != nil {
		return remediation.Result{}, err
	}
	return remediation.Result{Status: remediation.ItemSucceeded, Detail: "sessions revoked", ObjectID: u.ID}, nil
}
