package actions

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// All returns every executor of this build, listed explicitly. The worker
// registers them by action name and panics on a duplicate.
func All() []remediation.Executor {
	return []remediation.Executor{
		DisableUser{},
		RevokeSessions{},
		EnforceMFA{},
		EnforcePhishingResistantMFA{},
		RemoveRoleAssignments{},
		RemoveGroupMemberships{},
	}
}

// isExternal reports whether u is an external user: a guest, or a member
// whose UPN carries the #EXT# marker of B2B accounts.
func isExternal(u *remediation.User) bool {
	return u.IsGuest() || strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

// target returns the id to address u by in writes: its object id when
// Graph returned one, else the identity as submitted.
func target(u *remediation.User, identity string) string {
	if u.ID != "" {
		return u.ID
	}
	return identity
}

// onPremises tags a write's 400 for an on-premises synced user with
// remediation.ErrManagedOnPremises; other errors pass unchanged.
func onPremises(u *remediation.User, err error) error {
	var ge *remediation.GraphError
	if u.OnPremisesSyncEnabled && errors.As(err, &ge) && ge.Status == http.StatusBadRequest {
		return fmt.Errorf("%w: %w", remediation.ErrManagedOnPremises, err)
	}
	return err
}

// dirAs returns the tenant's directory as the narrower interface T (role,
// group or policy surface), or an ENOTIMPLEMENTED error naming what is
// missing: the worker then fails the item instead of retrying it.
func dirAs[T any](x *remediation.Exec, what string) (T, error) {
	d, ok := x.Dir.(T)
	if !ok {
		var zero T
		return zero, remediation.Errorf(remediation.ENOTIMPLEMENTED, "the tenant's directory client does not support %s", what)
	}
	return d, nil
}

// graphStatus returns the HTTP status of a *GraphError in err, 0 otherwise.
func graphStatus(err error) int {
	var ge *remediation.GraphError
	if errors.As(err, &ge) {
		return ge.Status
	}
	return 0
}

// retryable reports whether err is a Graph error worth retrying later
// (throttling, 5xx, no answer).
func retryable(err error) bool {
	var ge *remediation.GraphError
	return errors.As(err, &ge) && ge.Retryable()
}

// itemError turns a non-retryable error into a per-target (or per-request)
// error. ok is false for errors that are not Graph or domain errors
// (infrastructure trouble): those are returned to the worker instead.
func itemError(err error) (*remediation.ItemError, bool) {
	var ge *remediation.GraphError
	if errors.As(err, &ge) {
		code := ge.Code
		if code == "" {
			code = fmt.Sprintf("http_%d", ge.Status)
		}
		msg := ge.Message
		switch {
		case ge.Status == http.StatusNotFound:
			msg = "not found"
		case ge.Status == http.StatusForbidden:
			msg = "insufficient privileges (the app's service principal needs a privileged role for this change)"
		case msg == "":
			msg = ge.Error()
		}
		return &remediation.ItemError{Code: code, Message: msg}, true
	}
	var re *remediation.Error
	if errors.As(err, &re) && re.Code != remediation.EINTERNAL {
		return &remediation.ItemError{Code: re.Code, Message: re.Message}, true
	}
	return nil, false
}

// sameID compares two directory object ids case-insensitively.
func sameID(a, b string) bool { return strings.EqualFold(a, b) }

// containsID reports whether ids holds id (case-insensitively).
func containsID(ids []string, id string) bool {
	for _, v := range ids {
		if sameID(v, id) {
			return true
		}
	}
	return false
}

// lower lower-cases an id for use as a map key.
func lower(id string) string { return strings.ToLower(id) }
