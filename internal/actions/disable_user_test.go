package actions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

const (
	aliceID = "11111111-1111-1111-1111-111111111111"
	bobID   = "22222222-2222-2222-2222-222222222222"
)

func TestDisableUserDisablesAndSavesPriorStateFirst(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", UserType: "Member", AccountEnabled: true})
	x, saved := newExec(d, remediation.ActionDisableUser, "alice@contoso.com", nil)
	// The prior state must be durable before the PATCH: check the write
	// has not happened when SavePriorState runs.
	inner := x.SavePriorState
	x.SavePriorState = func(ctx context.Context, p json.RawMessage) error {
		if calls := d.callList(); slices.Contains(calls, "SetAccountEnabled "+aliceID) {
			t.Errorf("SavePriorState called after the PATCH: %v", calls)
		}
		return inner(ctx, p)
	}

	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != remediation.ItemSucceeded || res.Detail != "disabled" || res.ObjectID != aliceID {
		t.Errorf("result = %+v, want succeeded/disabled/%s", res, aliceID)
	}
	wantPrior := `{"account_enabled":true,"user_principal_name":"alice@contoso.com"}`
	if string(res.PriorState) != wantPrior {
		t.Errorf("prior state = %s, want %s", res.PriorState, wantPrior)
	}
	if len(*saved) != 1 || string((*saved)[0]) != wantPrior {
		t.Errorf("saved prior states = %q, want one %s", *saved, wantPrior)
	}
	// The two role reads of the admin guard run side by side, in either
	// order; the prior state is saved after them and before the write.
	want := []string{"GetUser alice@contoso.com", "ListActiveRoleInstances " + aliceID,
		"TransitiveRoleTemplateIDs " + aliceID, "SavePriorState", "SetAccountEnabled " + aliceID}
	got := d.callList()
	if len(got) == len(want) {
		slices.Sort(got[1:3])
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if d.users[aliceID].AccountEnabled {
		t.Error("user still enabled")
	}
}

func TestDisableUserAlreadyDisabled(t *testing.T) {
	d := newFakeDir(remediation.User{ID: bobID, UserPrincipalName: "bob@contoso.com", AccountEnabled: false})
	x, saved := newExec(d, remediation.ActionDisableUser, bobID, nil)
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != remediation.ItemSucceeded || res.Detail != "already disabled" || res.PriorState != nil {
		t.Errorf("result = %+v, want succeeded/already disabled without prior state", res)
	}
	if len(*saved) != 0 {
		t.Errorf("prior state saved for a user already disabled: %q", *saved)
	}
	if got := d.callList(); !slices.Equal(got, []string{"GetUser " + bobID}) {
		t.Errorf("calls = %q, want only the read", got)
	}
}

func TestDisableUserRerunAfterCrashKeepsOwnWrite(t *testing.T) {
	// An earlier attempt saved the prior state and its PATCH went through,
	// then the worker died before recording the result.
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", AccountEnabled: false})
	prior := json.RawMessage(`{"account_enabled":true,"user_principal_name":"alice@contoso.com"}`)
	x, saved := newExec(d, remediation.ActionDisableUser, aliceID, prior)
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != remediation.ItemSucceeded || res.Detail != "disabled" || string(res.PriorState) != string(prior) {
		t.Errorf("result = %+v, want succeeded/disabled with the saved prior state", res)
	}
	if len(*saved) != 0 {
		t.Errorf("prior state saved again: %q", *saved)
	}
	if got := d.callList(); !slices.Equal(got, []string{"GetUser " + aliceID}) {
		t.Errorf("calls = %q, want only the read", got)
	}
}

func TestDisableUserRerunAfterCrashBeforeWrite(t *testing.T) {
	// The earlier attempt saved the prior state but died before the PATCH.
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	prior := json.RawMessage(`{"account_enabled":true,"user_principal_name":"alice@contoso.com"}`)
	x, _ := newExec(d, remediation.ActionDisableUser, aliceID, prior)
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != remediation.ItemSucceeded || res.Detail != "disabled" {
		t.Errorf("result = %+v, want succeeded/disabled", res)
	}
	if d.users[aliceID].AccountEnabled {
		t.Error("user still enabled")
	}
}

func TestDisableUserErrors(t *testing.T) {
	throttled := &remediation.GraphError{Operation: "GetUser", Status: 429, Code: "TooManyRequests"}
	onPrem := &remediation.GraphError{Operation: "SetAccountEnabled", Status: http.StatusBadRequest, Code: "Request_BadRequest",
		Message: "Unable to update the specified properties for on-premises mastered Directory Sync objects"}
	saveErr := errors.New("store down")

	tests := []struct {
		name         string
		user         remediation.User
		identity     string
		errs         map[string]error
		saveErr      error
		wantIs       error
		wantOnPrem   bool
		wantNoWrites bool
	}{
		{name: "not found", identity: "ghost@contoso.com", wantNoWrites: true},
		{name: "read throttled", user: remediation.User{ID: aliceID, AccountEnabled: true}, identity: aliceID,
			errs: map[string]error{"GetUser": throttled}, wantIs: throttled, wantNoWrites: true},
		{name: "on-premises synced", user: remediation.User{ID: aliceID, AccountEnabled: true, OnPremisesSyncEnabled: true},
			identity: aliceID, errs: map[string]error{"SetAccountEnabled": onPrem}, wantIs: onPrem, wantOnPrem: true},
		{name: "cloud user 400 is not on-premises", user: remediation.User{ID: aliceID, AccountEnabled: true},
			identity: aliceID, errs: map[string]error{"SetAccountEnabled": onPrem}, wantIs: onPrem},
		{name: "prior state not saved", user: remediation.User{ID: aliceID, AccountEnabled: true}, identity: aliceID,
			saveErr: saveErr, wantIs: saveErr, wantNoWrites: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDir()
			if tc.user.ID != "" {
				d = newFakeDir(tc.user)
			}
			for k, v := range tc.errs {
				d.errs[k] = v
			}
			x, _ := newExec(d, remediation.ActionDisableUser, tc.identity, nil)
			if tc.saveErr != nil {
				x.SavePriorState = func(context.Context, json.RawMessage) error { return tc.saveErr }
			}
			_, err := DisableUser{}.Execute(context.Background(), x)
			var ge *remediation.GraphError
			switch {
			case err == nil:
				t.Fatal("Execute succeeded, want an error")
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			case tc.wantIs == nil && !errors.As(err, &ge):
				t.Errorf("error %v is not a *GraphError", err)
			}
			if got := errors.Is(err, remediation.ErrManagedOnPremises); got != tc.wantOnPrem {
				t.Errorf("errors.Is(err, ErrManagedOnPremises) = %v, want %v", got, tc.wantOnPrem)
			}
			if w := d.writeList(); tc.wantNoWrites && len(w) > 0 {
				t.Errorf("unexpected writes %q", w)
			}
		})
	}
}

func TestDisableUserDryRun(t *testing.T) {
	tests := []struct {
		name        string
		user        remediation.User
		role        string
		confirm     bool
		wantStatus  remediation.ItemStatus
		wantDetail  string
		wantPreview string
	}{
		{name: "enabled", user: remediation.User{ID: aliceID, AccountEnabled: true},
			wantStatus: remediation.ItemSucceeded, wantDetail: "would disable the account", wantPreview: "would_change"},
		{name: "already disabled", user: remediation.User{ID: aliceID},
			wantStatus: remediation.ItemSucceeded, wantDetail: "no change: already disabled", wantPreview: "no_change"},
		{name: "admin target", user: remediation.User{ID: aliceID, AccountEnabled: true}, role: roleUserAdmin,
			wantStatus: remediation.ItemSkipped, wantDetail: "holds User Administrator; resubmit with confirm_admin_targets",
			wantPreview: "rejected_admin_target"},
		{name: "admin target confirmed", user: remediation.User{ID: aliceID, AccountEnabled: true}, role: roleUserAdmin, confirm: true,
			wantStatus: remediation.ItemSucceeded, wantDetail: "would disable the account", wantPreview: "would_change"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newFakeDir(tc.user)
			if tc.role != "" {
				d.assign(aliceID, tc.role, false)
			}
			x, rec := newExecRec(d, remediation.ActionDisableUser, aliceID, nil)
			x.Job.DryRun, x.Job.ConfirmAdminTargets = true, tc.confirm
			res, err := DisableUser{}.Execute(context.Background(), x)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if res.Status != tc.wantStatus || res.Detail != tc.wantDetail {
				t.Errorf("result = %s/%q, want %s/%q", res.Status, res.Detail, tc.wantStatus, tc.wantDetail)
			}
			assertPreview(t, res, tc.wantPreview)
			assertNoWrites(t, d, rec)
			if d.users[aliceID].AccountEnabled != tc.user.AccountEnabled {
				t.Error("dry run changed the account")
			}
		})
	}
}

func TestDisableUserUndo(t *testing.T) {
	d := newFakeDir(remediation.User{ID: aliceID, UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	x, rec := newExecRec(d, remediation.ActionDisableUser, aliceID, nil)
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil || res.Detail != "disabled" {
		t.Fatalf("disable: %+v, %v", res, err)
	}

	// Dry run of the undo: reads only.
	undoExec(x, res)
	x.Job.DryRun = true
	rec.saved = nil
	writes := len(d.writeList())
	pre, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil || pre.Detail != "would enable the account" {
		t.Fatalf("undo dry run: %+v, %v", pre, err)
	}
	assertPreview(t, pre, "would_change")
	if len(d.writeList()) != writes || len(rec.saved) != 0 {
		t.Fatalf("undo dry run wrote: %q, saved %q", d.writeList(), rec.saved)
	}

	x.Job.DryRun = false
	undo, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if undo.Status != remediation.ItemSucceeded || undo.Detail != "enabled" || !d.users[aliceID].AccountEnabled {
		t.Errorf("undo = %+v, enabled = %v; want enabled", undo, d.users[aliceID].AccountEnabled)
	}
	if len(rec.saved) != 1 || string(rec.saved[0]) != `{"account_enabled":false,"user_principal_name":"alice@contoso.com"}` {
		t.Errorf("undo saved %q before enabling", rec.saved)
	}

	// Running the undo again changes nothing.
	x.Item.PriorState = nil
	again, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil || again.Detail != "no change: already enabled" {
		t.Errorf("second undo = %+v, %v; want no change", again, err)
	}
	if got := d.countCalls("SetAccountEnabled"); got != 2 {
		t.Errorf("SetAccountEnabled called %d times, want 2", got)
	}
}

func TestDisableUserUndoOfUnchangedItem(t *testing.T) {
	// The original found the account already disabled: no prior state,
	// so the undo must not enable an account the product did not disable.
	d := newFakeDir(remediation.User{ID: bobID, AccountEnabled: false})
	x, _ := newExec(d, remediation.ActionDisableUser, bobID, nil)
	undoExec(x, remediation.Result{ObjectID: bobID})
	res, err := DisableUser{}.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != remediation.ItemSkipped || d.users[bobID].AccountEnabled || len(d.writeList()) != 0 {
		t.Errorf("undo = %+v, writes %q; want skipped without writes", res, d.writeList())
	}
}
