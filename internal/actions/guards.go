package actions

import (
	"context"
	"fmt"
	"golang.org/x/sync/errgroup"
	"slices"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Error codes of the refusals executors report in Result.Error (and in
// per-target results). Append-only: portals branch on them.
const (
	CodeProtectedIdentity       = "protected_identity"
	CodeAdminTargetNotConfirmed = "admin_target_not_confirmed"
	CodeNotGlobalAdmin          = "not_global_admin"
	CodeInvalidParameters       = "invalid_parameters"
	CodeLastGlobalAdmin         = "last_global_admin"
	CodeDynamicGroup            = "dynamic_group"
	CodeMailEnabledGroup        = "mail_enabled_group"
	CodeOnPremisesGroup         = "on_premises_group"
	CodePolicyFull              = "policy_full"
)

const (
	msgProtected      = "protected identity (break-glass / emergency access): refused"
	msgNotGlobalAdmin = "phishing-resistant MFA is enforced only for global-admin-level users; this user holds no Global Administrator role"
)

// refusal is a skipped or failed Result with an error, carrying the dry
// run's preview when the job is one.
func refusal(x *remediation.Exec, status remediation.ItemStatus, objectID, code, message, pv string) remediation.Result {
	res := remediation.Result{Status: status, Detail: message, ObjectID: objectID,
		Error: &remediation.ItemError{Code: code, Message: message}}
	if x.DryRun() {
		res.Results = preview(pv)
	}
	return res
}

// guardProtected refuses every action on a protected identity (any of
// ids: the object id and the identity as submitted). ok is true when the
// returned Result must be used.
func guardProtected(x *remediation.Exec, objectID string, ids ...string) (remediation.Result, bool) {
	for _, id := range append([]string{objectID}, ids...) {
		if id != "" && x.Tenant.Settings.IsProtected(id) {
			return refusal(x, remediation.ItemSkipped, objectID, CodeProtectedIdentity, msgProtected, previewRejectedProtected), true
		}
	}
	return remediation.Result{}, false
}

// heldRoles are the role template ids a user holds, lower-cased: through
// transitive directory role membership (which covers role-assignable
// groups) and active PIM instances.
type heldRoles map[string]bool

// readRoles reads the roles userID holds.
func readRoles(ctx context.Context, x *remediation.Exec, userID string) (heldRoles, error) {
	rd, err := dirAs[remediation.RoleDirectory](x, "role management")
	if err != nil {
		return nil, err
	}
	// The two reads are independent: run them side by side, so that the
	// guard costs one Graph latency, not two (an urgent disable waits for
	// it).
	var (
		ids  []string
		inst []remediation.RoleAssignment
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		ids, err = rd.TransitiveRoleTemplateIDs(gctx, userID)
		return err
	})
	g.Go(func() (err error) {
		inst, err = rd.ListActiveRoleInstances(gctx, userID)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	held := heldRoles{}
	for _, id := range ids {
		held[strings.ToLower(id)] = true
	}
	for _, a := range inst {
		// For built-in roles the role definition id is the template id.
		held[strings.ToLower(a.RoleDefinitionID)] = true
	}
	return held, nil
}

// globalAdmin reports whether the roles include Global Administrator.
func (h heldRoles) globalAdmin() bool { return h[remediation.RoleGlobalAdministrator] }

// privileged returns the names of the privileged roles held, sorted.
func (h heldRoles) privileged() []string {
	var names []string
	for id, name := range remediation.PrivilegedRoles {
		if h[strings.ToLower(id)] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// guardAdmin refuses an administrative target (a user holding a
// privileged role) unless the job confirmed admin targets. held may be nil:
// the roles are then read (only when the job did not confirm).
func guardAdmin(ctx context.Context, x *remediation.Exec, userID string, held heldRoles) (remediation.Result, bool, error) {
	if x.Job.ConfirmAdminTargets {
		return remediation.Result{}, false, nil
	}
	if held == nil {
		var err error
		if held, err = readRoles(ctx, x, userID); err != nil {
			return remediation.Result{}, false, err
		}
	}
	names := held.privileged()
	if len(names) == 0 {
		return remediation.Result{}, false, nil
	}
	msg := fmt.Sprintf("holds %s; resubmit with confirm_admin_targets", strings.Join(names, ", "))
	return refusal(x, remediation.ItemSkipped, userID, CodeAdminTargetNotConfirmed, msg, previewRejectedAdminTarget), true, nil
}
