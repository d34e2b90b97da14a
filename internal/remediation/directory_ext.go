package remediation

import (
	"context"
	"time"
)

// Well-known ids.
const (
	// RoleGlobalAdministrator is the Global Administrator role template id
	// (for built-in roles the role definition id equals the template id).
	RoleGlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10"
	// AuthStrengthPhishingResistant is the built-in phishing-resistant MFA
	// authentication strength.
	AuthStrengthPhishingResistant = "00000000-0000-0000-0000-000000000004"
)

// PrivilegedRoles are the role template ids the product treats as
// administrative targets (holding any of them can lock a tenant out).
var PrivilegedRoles = map[string]string{
	"62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
	"e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
	"7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
	"194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
	"29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
	"f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
	"fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
	"b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
	"158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
	"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
	"3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
	"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
	"729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
	"966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
	"7698a772-787b-4ac8-901f-60d6b08affd2": "Cloud Device Administrator",
	"17315797-102d-40b4-93e0-432062caca18": "Compliance Administrator",
	"e6d1a23a-da11-4be4-9570-befc86d067a7": "Compliance Data Administrator",
	"892c5842-a9a6-463a-8041-72aa08ca3cf6": "Cloud App Security Administrator",
	"8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
	"be2f45a1-457d-42af-a067-6ec1fa63bc45": "External Identity Provider Administrator",
}

// CAPolicy is the part of a Conditional Access policy the product manages.
type CAPolicy struct {
	ID            string
	DisplayName   string
	State         string // enabled | disabled | enabledForReportingButNotEnforced
	IncludeUsers  []string
	ExcludeUsers  []string
	IncludeGroups []string
	ExcludeGroups []string
	// BuiltInControls (e.g. ["mfa"]) or AuthenticationStrengthID, not both.
	BuiltInControls          []string
	AuthenticationStrengthID string
}

// RoleAssignment is an active directory role assignment (or, from PIM, an
// active schedule instance).
type RoleAssignment struct {
	ID               string
	PrincipalID      string
	RoleDefinitionID string
	DirectoryScopeID string
	// AssignmentType is "Assigned" or "Activated" (PIM); MemberType is
	// "Direct", "Group" or "Inherited".
	AssignmentType string
	MemberType     string
	// EndDateTime is when a time-bound assignment ends (a PIM activation,
	// or an active assignment made through PIM with an expiration); nil
	// for one without an end. Read from the schedule instances.
	EndDateTime *time.Time
}

// Group is the part of a group the product reads.
type Group struct {
	ID                    string
	DisplayName           string
	GroupTypes            []string
	MailEnabled           bool
	SecurityEnabled       bool
	MembershipRule        string
	OnPremisesSyncEnabled bool
	IsAssignableToRole    bool
}

// Dynamic reports whether the group's membership is rule-based.
func (g *Group) Dynamic() bool {
	for _, t := range g.GroupTypes {
		if t == "DynamicMembership" {
			return true
		}
	}
	return false
}

// Unified reports whether g is a Microsoft 365 group.
func (g *Group) Unified() bool {
	for _, t := range g.GroupTypes {
		if t == "Unified" {
			return true
		}
	}
	return false
}

// PolicyDirectory is the Conditional Access surface (1 request/s/tenant).
type PolicyDirectory interface {
	ListCAPolicies(ctx context.Context) ([]CAPolicy, error)
	// GetCAPolicy: ENOTFOUND-like *GraphError (404) when it is gone.
	GetCAPolicy(ctx context.Context, id string) (*CAPolicy, error)
	CreateCAPolicy(ctx context.Context, p CAPolicy) (*CAPolicy, error)
	// UpdateCAPolicyUsers PATCHes conditions.users with the whole include
	// and exclude arrays (users and groups: arrays are replaced), and the
	// policy's state too when p.State is not empty.
	UpdateCAPolicyUsers(ctx context.Context, id string, p CAPolicy) error
}

// RoleDirectory reads and changes directory role assignments.
type RoleDirectory interface {
	// ListRoleAssignments lists active assignments whose principalId is id
	// (direct; roles held through a group carry the group's id).
	ListRoleAssignments(ctx context.Context, principalID string) ([]RoleAssignment, error)
	// ListRoleAssignmentsOfRole lists active assignments of one role.
	ListRoleAssignmentsOfRole(ctx context.Context, roleDefinitionID string) ([]RoleAssignment, error)
	// ListActiveRoleInstances lists roleAssignmentScheduleInstances of a
	// principal (with AssignmentType and MemberType).
	ListActiveRoleInstances(ctx context.Context, principalID string) ([]RoleAssignment, error)
	// TransitiveRoleTemplateIDs returns the role template ids of the
	// directory roles the user holds, directly or through groups.
	TransitiveRoleTemplateIDs(ctx context.Context, userID string) ([]string, error)
	DeleteRoleAssignment(ctx context.Context, id string) error
	// AdminRemoveRoleAssignment posts a roleAssignmentScheduleRequest with
	// action adminRemove.
	AdminRemoveRoleAssignment(ctx context.Context, a RoleAssignment, justification string) error
	// CreateRoleAssignment re-creates a direct assignment; returns its id.
	CreateRoleAssignment(ctx context.Context, a RoleAssignment) (string, error)
	// AdminAssignRoleAssignment re-creates a PIM assignment (adminAssign):
	// active from now until a.EndDateTime, or without an end when nil.
	AdminAssignRoleAssignment(ctx context.Context, a RoleAssignment, justification string) error
}

// GroupDirectory reads groups and changes memberships (always members/$ref).
type GroupDirectory interface {
	GetGroup(ctx context.Context, id string) (*Group, error)
	// ListMemberOfGroups lists the groups the user is a direct member of.
	ListMemberOfGroups(ctx context.Context, userID string) ([]Group, error)
	RemoveGroupMember(ctx context.Context, groupID, userID string) error
	AddGroupMember(ctx context.Context, groupID, userID string) error
	// AddGroupMembers adds 1 to MaxMembersPerRequest users in one request
	// (PATCH /groups/{id} with members@odata.bind). Graph applies all or
	// none: one user who already is a member, or does not exist, fails
	// the whole request (400 or 404).
	AddGroupMembers(ctx context.Context, groupID string, userIDs []string) error
	// CreateSecurityGroup creates a cloud security group (managed targeting group).
	CreateSecurityGroup(ctx context.Context, displayName, mailNickname string) (*Group, error)
	// FindGroupByDisplayName returns the group with that exact name, or nil.
	FindGroupByDisplayName(ctx context.Context, displayName string) (*Group, error)
}

// MaxMembersPerRequest is the most members Graph adds in one request.
const MaxMembersPerRequest = 20

// FullDirectory is everything the six actions use.
type FullDirectory interface {
	Directory
	PolicyDirectory
	RoleDirectory
	GroupDirectory
}
