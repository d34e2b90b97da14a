package budget

import (
	"context"

	"github.com/entraremediator/remediator/internal/remediation"
)

// dir meters remediation.Directory.
type dir struct {
	m     *meter
	inner remediation.Directory
}

// GetUser implements remediation.Directory.
func (d dir) GetUser(ctx context.Context, id string) (*remediation.User, error) {
	return call(ctx, d.m, "GetUser", func() (*remediation.User, error) { return d.inner.GetUser(ctx, id) })
}

// SetAccountEnabled implements remediation.Directory.
func (d dir) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	return call0(ctx, d.m, "SetAccountEnabled", func() error { return d.inner.SetAccountEnabled(ctx, id, enabled) })
}

// RevokeSignInSessions implements remediation.Directory.
func (d dir) RevokeSignInSessions(ctx context.Context, id string) error {
	return call0(ctx, d.m, "RevokeSignInSessions", func() error { return d.inner.RevokeSignInSessions(ctx, id) })
}

// policyDir meters remediation.PolicyDirectory.
type policyDir struct {
	m     *meter
	inner remediation.PolicyDirectory
}

// ListCAPolicies implements remediation.PolicyDirectory.
func (d policyDir) ListCAPolicies(ctx context.Context) ([]remediation.CAPolicy, error) {
	return call(ctx, d.m, "ListCAPolicies", func() ([]remediation.CAPolicy, error) { return d.inner.ListCAPolicies(ctx) })
}

// GetCAPolicy implements remediation.PolicyDirectory.
func (d policyDir) GetCAPolicy(ctx context.Context, id string) (*remediation.CAPolicy, error) {
	return call(ctx, d.m, "GetCAPolicy", func() (*remediation.CAPolicy, error) { return d.inner.GetCAPolicy(ctx, id) })
}

// CreateCAPolicy implements remediation.PolicyDirectory.
func (d policyDir) CreateCAPolicy(ctx context.Context, p remediation.CAPolicy) (*remediation.CAPolicy, error) {
	return call(ctx, d.m, "CreateCAPolicy", func() (*remediation.CAPolicy, error) { return d.inner.CreateCAPolicy(ctx, p) })
}

// UpdateCAPolicyUsers implements remediation.PolicyDirectory.
func (d policyDir) UpdateCAPolicyUsers(ctx context.Context, id string, p remediation.CAPolicy) error {
	return call0(ctx, d.m, "UpdateCAPolicyUsers", func() error { return d.inner.UpdateCAPolicyUsers(ctx, id, p) })
}

// roleDir meters remediation.RoleDirectory.
type roleDir struct {
	m     *meter
	inner remediation.RoleDirectory
}

// ListRoleAssignments implements remediation.RoleDirectory.
func (d roleDir) ListRoleAssignments(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	return call(ctx, d.m, "ListRoleAssignments", func() ([]remediation.RoleAssignment, error) {
		return d.inner.ListRoleAssignments(ctx, principalID)
	})
}

// ListRoleAssignmentsOfRole implements remediation.RoleDirectory.
func (d roleDir) ListRoleAssignmentsOfRole(ctx context.Context, roleDefinitionID string) ([]remediation.RoleAssignment, error) {
	return call(ctx, d.m, "ListRoleAssignmentsOfRole", func() ([]remediation.RoleAssignment, error) {
		return d.inner.ListRoleAssignmentsOfRole(ctx, roleDefinitionID)
	})
}

// ListActiveRoleInstances implements remediation.RoleDirectory.
func (d roleDir) ListActiveRoleInstances(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	return call(ctx, d.m, "ListActiveRoleInstances", func() ([]remediation.RoleAssignment, error) {
		return d.inner.ListActiveRoleInstances(ctx, principalID)
	})
}

// TransitiveRoleTemplateIDs implements remediation.RoleDirectory.
func (d roleDir) TransitiveRoleTemplateIDs(ctx context.Context, userID string) ([]string, error) {
	return call(ctx, d.m, "TransitiveRoleTemplateIDs", func() ([]string, error) {
		return d.inner.TransitiveRoleTemplateIDs(ctx, userID)
	})
}

// DeleteRoleAssignment implements remediation.RoleDirectory.
func (d roleDir) DeleteRoleAssignment(ctx context.Context, id string) error {
	return call0(ctx, d.m, "DeleteRoleAssignment", func() error { return d.inner.DeleteRoleAssignment(ctx, id) })
}

// AdminRemoveRoleAssignment implements remediation.RoleDirectory.
func (d roleDir) AdminRemoveRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	return call0(ctx, d.m, "AdminRemoveRoleAssignment", func() error {
		return d.inner.AdminRemoveRoleAssignment(ctx, a, justification)
	})
}

// CreateRoleAssignment implements remediation.RoleDirectory.
func (d roleDir) CreateRoleAssignment(ctx context.Context, a remediation.RoleAssignment) (string, error) {
	return call(ctx, d.m, "CreateRoleAssignment", func() (string, error) { return d.inner.CreateRoleAssignment(ctx, a) })
}

// AdminAssignRoleAssignment implements remediation.RoleDirectory.
func (d roleDir) AdminAssignRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	return call0(ctx, d.m, "AdminAssignRoleAssignment", func() error {
		return d.inner.AdminAssignRoleAssignment(ctx, a, justification)
	})
}

// groupDir meters remediation.GroupDirectory.
type groupDir struct {
	m     *meter
	inner remediation.GroupDirectory
}

// GetGroup implements remediation.GroupDirectory.
func (d groupDir) GetGroup(ctx context.Context, id string) (*remediation.Group, error) {
	return call(ctx, d.m, "GetGroup", func() (*remediation.Group, error) { return d.inner.GetGroup(ctx, id) })
}

// ListMemberOfGroups implements remediation.GroupDirectory.
func (d groupDir) ListMemberOfGroups(ctx context.Context, userID string) ([]remediation.Group, error) {
	return call(ctx, d.m, "ListMemberOfGroups", func() ([]remediation.Group, error) {
		return d.inner.ListMemberOfGroups(ctx, userID)
	})
}

// RemoveGroupMember implements remediation.GroupDirectory.
func (d groupDir) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return call0(ctx, d.m, "RemoveGroupMember", func() error { return d.inner.RemoveGroupMember(ctx, groupID, userID) })
}

// AddGroupMember implements remediation.GroupDirectory.
func (d groupDir) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return call0(ctx, d.m, "AddGroupMember", func() error { return d.inner.AddGroupMember(ctx, groupID, userID) })
}

// AddGroupMembers implements remediation.GroupDirectory: one request, one
// write.
func (d groupDir) AddGroupMembers(ctx context.Context, groupID string, userIDs []string) error {
	return call0(ctx, d.m, "AddGroupMembers", func() error { return d.inner.AddGroupMembers(ctx, groupID, userIDs) })
}

// CreateSecurityGroup implements remediation.GroupDirectory.
func (d groupDir) CreateSecurityGroup(ctx context.Context, displayName, mailNickname string) (*remediation.Group, error) {
	return call(ctx, d.m, "CreateSecurityGroup", func() (*remediation.Group, error) {
		return d.inner.CreateSecurityGroup(ctx, displayName, mailNickname)
	})
}

// FindGroupByDisplayName implements remediation.GroupDirectory.
func (d groupDir) FindGroupByDisplayName(ctx context.Context, displayName string) (*remediation.Group, error) {
	return call(ctx, d.m, "FindGroupByDisplayName", func() (*remediation.Group, error) {
		return d.inner.FindGroupByDisplayName(ctx, displayName)
	})
}
