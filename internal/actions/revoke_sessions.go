package actions

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// RevokeSessions revokes a user's sign-in sessions and refresh tokens
// (POST revokeSignInSessions). It is safe to repeat and cannot be undone.
// Protected identities are refused. External (guest) users are skipped:
// they sign in through their home tenant, so revoking here does not end
// their sessions.
type RevokeSessions struct{}

// Action implements remediation.Executor.
func (RevokeSessions) Action() remediation.Action { return remediation.ActionRevokeSessions }

// Execute implements remediation.Executor.
func (RevokeSessions) Execute(ctx context.Context, x *remediation.Exec) (remediation.Result, error) {
	dry := x.DryRun()
	if x.Undo() {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped,
			Detail: "revoked sessions cannot be undone", ObjectID: x.Item.ObjectID}, dry, previewNotUndoable), nil
	}
	u, err := x.Dir.GetUser(ctx, x.Item.Identity)
	if err != nil {
		return remediation.Result{}, err
	}
	if res, ok := guardProtected(x, u.ID, x.Item.Identity); ok {
		return res, nil
	}
	if isExternal(u) {
		return withPreview(remediation.Result{Status: remediation.ItemSkipped,
			Detail: "guest user: sessions are not revoked", ObjectID: u.ID}, dry, previewSkippedGuest), nil
	}
	if dry {
		return withPreview(remediation.Result{Status: remediation.ItemSucceeded,
			Detail: "would revoke sessions", ObjectID: u.ID}, true, previewWouldChange), nil
	}
	if err := x.Dir.RevokeSignInSessions(ctx, target(u, x.Item.Identity)); err != nil {
		return remediation.Result{}, err
	}
	return remediation.Result{Status: remediation.ItemSucceeded, Detail: "sessions revoked", ObjectID: u.ID}, nil
}
