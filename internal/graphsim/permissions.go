package graphsim

import (
	"net/http"
	"slices"
	"strings"
)

// Microsoft Graph application permissions (app roles) the simulator knows.
const (
	PermUserReadAll               = "User.Read.All"
	PermUserReadWriteAll          = "User.ReadWrite.All"
	PermUserEnableDisableAccount  = "User.EnableDisableAccount.All"
	PermUserRevokeSessions        = "User.RevokeSessions.All"
	PermPolicyReadAll             = "Policy.Read.All"
	PermPolicyReadWriteCA         = "Policy.ReadWrite.ConditionalAccess"
	PermRoleManagementRead        = "RoleManagement.Read.Directory"
	PermRoleManagementReadWrite   = "RoleManagement.ReadWrite.Directory"
	PermGroupMemberReadAll        = "GroupMember.Read.All"
	PermGroupMemberReadWriteAll   = "GroupMember.ReadWrite.All"
	PermGroupReadAll              = "Group.Read.All"
	PermGroupReadWriteAll         = "Group.ReadWrite.All"
	PermDirectoryReadAll          = "Directory.Read.All"
	PermDirectoryReadWriteAll     = "Directory.ReadWrite.All"
	PermOrganizationReadAll       = "Organization.Read.All"
	PermRoleManagementReadAll     = "RoleManagement.Read.All"
	PermRoleScheduleReadWrite     = "RoleAssignmentSchedule.ReadWrite.Directory"
	PermRoleScheduleRead          = "RoleAssignmentSchedule.Read.Directory"
	PermGroupCreate               = "Group.Create"
	PermPolicyReadWriteAuthMethod = "Policy.ReadWrite.AuthenticationMethod"
	PermPolicyReadWriteSecDefault = "Policy.ReadWrite.SecurityDefaults"
	PermOrganizationReadWriteAll  = "Organization.ReadWrite.All"
)

// ProductPermissions are the application permissions Entra Remediator
// needs; a TenantSpec without Permissions grants them all. Group.Create is
// for the managed MFA targeting group (enforce_mfa with
// mfa_targeting=group creates it when missing).
var ProductPermissions = []string{
	PermUserReadAll, PermUserEnableDisableAccount, PermUserRevokeSessions, PermPolicyReadAll,
	PermPolicyReadWriteCA, PermRoleManagementReadWrite, PermGroupMemberReadWriteAll, PermGroupCreate,
}

// Any-of permission sets of the Graph routes (the least privileged first,
// then the higher privileged ones Graph also accepts).
var (
	permsUserRead      = []string{PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsUserWrite     = []string{PermUserReadWriteAll, PermDirectoryReadWriteAll}
	permsEnableDisable = []string{PermUserEnableDisableAccount, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	permsRevoke        = []string{PermUserRevokeSessions, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	// permsUserPatch may reach PATCH /users/{id}; patchUser narrows it.
	permsUserPatch    = []string{PermUserEnableDisableAccount, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	permsCARead       = []string{PermPolicyReadAll, PermPolicyReadWriteCA}
	permsCAWrite      = []string{PermPolicyReadWriteCA}
	permsAuthStrength = []string{PermPolicyReadAll, PermPolicyReadWriteCA, PermPolicyReadWriteAuthMethod}
	permsSecDefaults  = []string{PermPolicyReadAll, PermPolicyReadWriteCA, PermPolicyReadWriteSecDefault}
	permsRoleRead     = []string{PermRoleManagementRead, PermRoleManagementReadAll, PermRoleManagementReadWrite,
		PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsRoleWrite        = []string{PermRoleManagementReadWrite}
	permsScheduleRead     = append([]string{PermRoleScheduleRead, PermRoleScheduleReadWrite}, permsRoleRead...)
	permsScheduleWrite    = []string{PermRoleScheduleReadWrite, PermRoleManagementReadWrite}
	permsGroupRead        = []string{PermGroupMemberReadAll, PermGroupReadAll, PermDirectoryReadAll, PermGroupMemberReadWriteAll, PermGroupReadWriteAll, PermDirectoryReadWriteAll}
	permsGroupCreate      = []string{PermGroupCreate, PermGroupReadWriteAll, PermDirectoryReadWriteAll}
	permsGroupMemberWrite = []string{PermGroupMemberReadWriteAll, PermGroupReadWriteAll, PermDirectoryReadWriteAll}
	permsOrganizationRead = []string{PermOrganizationReadAll, PermUserReadAll, PermOrganizationReadWriteAll, PermUserReadWriteAll,
		PermDirectoryReadAll, PermDirectoryReadWriteAll}
	permsUserMembershipsRd = []string{PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
)

// routePermissions maps a route ("METHOD pattern") to the application
// permissions of which the token must hold one. Every registered route has
// an entry (a test checks it). PATCH /users/{id} needs
// User.EnableDisableAccount.All to change accountEnabled alone, and
// User.ReadWrite.All for any other property (checked by patchUser once the
// body is validated).
var routePermissions = map[string][]string{
	"GET /users/{id}":                                         permsUserRead,
	"PATCH /users/{id}":                                       permsEnableDisable,
	"POST /users/{id}/revokeSignInSessions":                   permsRevoke,
	"GET " + caPoliciesPath:                                   permsCARead,
	"GET " + caPoliciesPath + "/{pid}":                        permsCARead,
	"POST " + caPoliciesPath:                                  permsCAWrite,
	"PATCH " + caPoliciesPath + "/{pid}":                      permsCAWrite,
	"DELETE " + caPoliciesPath + "/{pid}":                     permsCAWrite,
	"GET /policies/authenticationStrengthPolicies":            permsAuthStrength,
	"GET /policies/authenticationStrengthPolicies/{sid}":      permsAuthStrength,
	"GET /policies/identitySecurityDefaultsEnforcementPolicy": permsSecDefaults,
	"GET " + roleAssignmentsPath:                              permsRoleRead,
	"GET " + roleAssignmentsPath + "/{aid}":                   permsRoleRead,
	"POST " + roleAssignmentsPath:                             permsRoleWrite,
	"DELETE " + roleAssignmentsPath + "/{aid}":                permsRoleWrite,
	"GET " + scheduleInstancesPath:                            permsScheduleRead,
	"POST " + scheduleRequestsPath:                            permsScheduleWrite,
	"GET /groups":                                             permsGroupRead,
	"GET /groups/{gid}":                                       permsGroupRead,
	"POST /groups":                                            permsGroupCreate,
	"POST /groups/{gid}/members/$ref":                         permsGroupMemberWrite,
	"PATCH /groups/{gid}":                                     permsGroupMemberWrite,
	"DELETE /groups/{gid}/members/{id}/$ref":                  permsGroupMemberWrite,
	"DELETE /groups/{gid}/members/$ref":                       permsGroupMemberWrite,
	// Without /$ref Graph deletes the member object itself; the simulator
	// lets the membership permissions through so that this trap stays
	// armed for an app holding the product's permissions.
	"DELETE /groups/{gid}/members/{id}": permsGroupMemberWrite,
	"GET " + organizationPath:           permsOrganizationRead,
}

func init() {
	for _, nav := range []string{"memberOf", "transitiveMemberOf"} {
		for _, cast := range []string{"", "/microsoft.graph.group", "/microsoft.graph.directoryRole"} {
			routePermissions["GET /users/{id}/"+nav+cast] = permsUserMembershipsRd
		}
	}
}

// requiredPermissions returns the permissions of which one is needed for
// the route (op); nil means none.
func requiredPermissions(op string) []string { return routePermissions[op] }

// authorize answers 403 Authorization_RequestDenied unless the token's
// roles claim holds one of the route's permissions.
func authorize(claims *tokenClaims, op string) *apiError {
	if need := requiredPermissions(op); need != nil && !holdsAny(claims, need) {
		return forbidden()
	}
	return nil
}

// holdsAny reports whether the token's roles claim holds one of perms.
func holdsAny(claims *tokenClaims, perms []string) bool {
	for _, r := range claims.Roles {
		if slices.ContainsFunc(perms, func(p string) bool { return strings.EqualFold(p, r) }) {
			return true
		}
	}
	return false
}

func forbidden() *apiError {
	return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
}

// SetPermissions replaces the application permissions granted to the app.
// As in Entra, they reach the roles claim of tokens issued afterwards;
// tokens issued before keep their roles until they expire. Holding
// RoleManagement.ReadWrite.Directory or not also sets
// SetAppHasRoleManagement.
func (t *Tenant) SetPermissions(perms []string) {
	t.mu.Lock()
	t.perms = slices.Clone(perms)
	if t.perms == nil {
		t.perms = []string{}
	}
	t.roleMgmt = slices.Contains(t.perms, PermRoleManagementReadWrite)
	t.mu.Unlock()
}

// Permissions returns the application permissions granted to the app.
func (t *Tenant) Permissions() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.perms)
}
