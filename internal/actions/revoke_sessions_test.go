package actions

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestRevokeSessions(t *testing.T) {
	const guestID = "33333333-3333-3333-3333-333333333333"
	const extID = "44444444-4444-4444-4444-444444444444"
	tests := []struct {
		name       string
		user       remediation.User
		wantStatus remediation.ItemStatus
		wantDetail string
		wantRevoke bool
	}{
		{name: "member", user: remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member", AccountEnabled: true},
			wantStatus: remediation.ItemSucceeded, wantDetail: "sessions revoked", wantRevoke: true},
		{name: "disabled member is still revoked", user: remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member"},
			wantStatus: remediation.ItemSucceeded, wantDetail: "sessions revoked", wantRevoke: true},
		{name: "guest", user: remediation.User{ID: guestID, UserPrincipalName: "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com", UserType: "Guest"},
			wantStatus: remediation.ItemSkipped, wantDetail: "guest user: sessions are not revoked"},
		{name: "external member (#EXT# in UPN)", user: remediation.User{ID: extID, UserPrincipalName: "mallory_fabrikam.com#ext#@contoso.onmicrosoft.com", UserType: "Member"},
			wantStatus: remediation.ItemSkipped, wantDetail: "guest user: sessions are not revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDir(tc.user)
			x, saved := newExec(d, remediation.ActionRevokeSessions, tc.user.UserPrincipalName, nil)
			res, err := RevokeSessions{}.Execute(context.Background(), x)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if res.Status != tc.wantStatus || res.Detail != tc.wantDetail || res.ObjectID != tc.user.ID {
				t.Errorf("result = %+v, want %s/%q/%s", res, tc.wantStatus, tc.wantDetail, tc.user.ID)
			}
			if len(*saved) != 0 {
				t.Errorf("revoke saved a prior state: %q", *saved)
			}
			revoked := slices.Contains(d.callList(), "RevokeSignInSessions "+tc.user.ID)
			if revoked != tc.wantRevoke {
				t.Errorf("revoked = %v, want %v (calls %q)", revoked, tc.wantRevoke, d.callList())
			}
		})
	}
}

func TestRevokeSessionsErrors(t *testing.T) {
	d := newFakeDir()
	x, _ := newExec(d, remediation.ActionRevokeSessions, "ghost@contoso.com", nil)
	_, err := RevokeSessions{}.Execute(context.Background(), x)
	var ge *remediation.GraphError
	if !errors.As(err, &ge) || ge.Status != 404 {
		t.Fatalf("err = %v, want the 404 *GraphError", err)
	}

	unavailable := &remediation.GraphError{Operation: "RevokeSignInSessions", Status: 503, Code: "serviceNotAvailable"}
	d = newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member"})
	d.errs["RevokeSignInSessions"] = unavailable
	x, _ = newExec(d, remediation.ActionRevokeSessions, aliceID, nil)
	if _, err := (RevokeSessions{}).Execute(context.Background(), x); !errors.Is(err, unavailable) {
		t.Fatalf("err = %v, want the 503 returned unchanged", err)
	}
}

func TestRevokeSessionsDryRunAndUndo(t *testing.T) {
	const guestID = "33333333-3333-3333-3333-333333333333"
	d := newFakeDir(remediation.User{ID: aliceID, UserType: "Member"}, remediation.User{ID: guestID, UserType: "Guest"})
	for _, tc := range []struct{ id, status, detail, preview string }{
		{aliceID, "succeeded", "would revoke sessions", "would_change"},
		{guestID, "skipped", "guest user: sessions are not revoked", "skipped_guest"},
	} {
		x, rec := newExecRec(d, remediation.ActionRevokeSessions, tc.id, nil)
		x.Job.DryRun = true
		res, err := RevokeSessions{}.Execute(context.Background(), x)
		if err != nil || string(res.Status) != tc.status || res.Detail != tc.detail {
			t.Errorf("dry run %s = %+v, %v; want %s/%q", tc.id, res, err, tc.status, tc.detail)
		}
		assertPreview(t, res, tc.preview)
		assertNoWrites(t, d, rec)
	}

	x, _ := newExec(d, remediation.ActionRevokeSessions, aliceID, nil)
	undoExec(x, remediation.Result{ObjectID: aliceID})
	res, err := RevokeSessions{}.Execute(context.Background(), x)
	if err != nil || res.Status != remediation.ItemSkipped || res.Detail != "revoked sessions cannot be undone" {
		t.Errorf("undo = %+v, %v; want skipped", res, err)
	}
	if len(d.callList()) != 2 || len(d.writeList()) != 0 {
		t.Errorf("undo made calls: %q", d.callList())
	}
}
