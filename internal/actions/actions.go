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
