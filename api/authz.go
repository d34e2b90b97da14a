package api

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// need is what a route requires of the caller's key.
//
// Authorization is decided in this order, so that no answer tells a
// scoped key whether something of another tenant exists:
//  1. no valid key: 401 unauthorized;
//  2. a role below the route's, or a key limited to tenants on a route for
//     keys of all tenants: 403 forbidden (this depends on the route only);
//  3. anything of a tenant outside the key's tenants (a tenant, a job, an
//     item, a webhook): 404 not_found, with the same message as for
//     something that does not exist;
//  4. lists are limited to the key's tenants; a tenant_id filter naming
//     another tenant gives an empty list (as for a tenant without entries).
type need struct {
	role remediation.Role
	// allTenants: only keys not limited to tenants.
	allTenants bool
	// audited: the route writes an audit entry; X-Actor is validated
	// before anything is done.
	audited bool
}

var (
	needViewer   = need{role: remediation.RoleViewer}
	needOperator = need{role: remediation.RoleOperator}
	// needOperatorAudited: an operator action recorded in the audit log.
	needOperatorAudited = need{role: remediation.RoleOperator, audited: true}
	needAdmin           = need{role: remediation.RoleAdmin}
	needAdminAudited    = need{role: remediation.RoleAdmin, audited: true}
	needRoot            = need{role: remediation.RoleAdmin, allTenants: true}
	needRootAudited     = need{role: remediation.RoleAdmin, allTenants: true, audited: true}
)

// ctxKeyActor is the echo.Context key of the validated X-Actor.
const ctxKeyActor = "api.actor"

// require is the route middleware enforcing n (steps 1 and 2 above).
func (s *Server) require(n need) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalFrom(c.Request().Context())
			if !ok {
				return unauthorized(c)
			}
			if !p.Role.Includes(n.role) {
				return &remediation.Error{
					Code:    remediation.EFORBIDDEN,
					Message: "This API key (role " + string(p.Role) + ") may not do this; it needs role " + string(n.role) + ".",
					Details: map[string]any{"role": p.Role, "required_role": n.role},
				}
			}
			if n.allTenants && !p.AllTenants() {
				return &remediation.Error{
					Code:    remediation.EFORBIDDEN,
					Message: "Only an admin API key for all tenants may do this; this key is limited to some tenants.",
					Details: map[string]any{"role": p.Role, "required_role": n.role, "all_tenants_required": true},
				}
			}
			if n.audited {
				actor, err := actorHeader(c.Request().Header.Get(headerActor))
				if err != nil {
					return err
				}
				c.Set(ctxKeyActor, actor)
			}
			return next(c)
		}
	}
}

// tenantNotFound is the answer for a tenant that is not registered or
// that the caller may not see: the two are indistinguishable.
func tenantNotFound(id string) error {
	return remediation.Errorf(remediation.ENOTFOUND, "Tenant %s is not registered.", id)
}

// canSee reports whether the caller of c may see tenantID.
func canSee(c echo.Context, tenantID string) bool {
	return principalOf(c).CanSee(tenantID)
}

// scopeTenants returns the tenants list filters are limited to: nil for a
// key of all tenants, the key's tenants (lower-cased) otherwise.
func scopeTenants(p remediation.Principal) []string {
	if p.AllTenants() {
		return nil
	}
	out := make([]string, len(p.Tenants))
	for i, t := range p.Tenants {
		out[i] = strings.ToLower(t)
	}
	return out
}
