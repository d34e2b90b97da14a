package remediation

// Action names a remediation action. The names are a contract with the
// portal and are stored in Redis payloads and history rows: append-only.
type Action string

const (
	ActionDisableUser                 Action = "disable_user"
	ActionRevokeSessions              Action = "revoke_sessions"
	ActionEnforceMFA                  Action = "enforce_mfa"
	ActionEnforcePhishingResistantMFA Action = "enforce_phishing_resistant_mfa"
	ActionRemoveRoleAssignments       Action = "remove_role_assignments"
	ActionRemoveGroupMemberships      Action = "remove_group_memberships"
)

// ParamSpec describes one parameter of an action for the catalog.
type ParamSpec struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Description string `json:"description"`
}

// ActionSpec is one entry of the action catalog (GET /v1/actions).
type ActionSpec struct {
	Name        Action      `json:"name"`
	Description string      `json:"description"`
	Bulk        bool        `json:"bulk"`
	Available   bool        `json:"available"`
	Undoable    bool        `json:"undoable"`
	Params      []ParamSpec `json:"parameters"`
}

// Catalog lists all six actions of the product spec. Available reports
// whether this build can execute the action; the caller fills it from the
// registered executors.
func Catalog() []ActionSpec {
	return []ActionSpec{
		{Name: ActionDisableUser, Bulk: true, Undoable: true,
			Description: "Disables the user's account (accountEnabled=false). Users already disabled are reported as 'already disabled'."},
		{Name: ActionRevokeSessions, Bulk: true,
			Description: "Revokes the user's sign-in sessions and refresh tokens. Guest users are skipped: they sign in through their home tenant. Cannot be undone."},
		{Name: ActionEnforceMFA, Bulk: true, Undoable: true,
			Description: "Adds the user to the tenant's Conditional Access policy requiring MFA for all cloud apps (created on first use)."},
		{Name: ActionEnforcePhishingResistantMFA, Bulk: true, Undoable: true,
			Description: "Adds a global-admin-level user to the tenant's Conditional Access policy requiring the phishing-resistant authentication strength."},
		{Name: ActionRemoveRoleAssignments, Bulk: false, Undoable: true,
			Description: "Removes active directory role assignments of one user.",
			Params: []ParamSpec{
				{Name: "role_assignment_ids", Type: "array of string", Description: "Role assignment ids to remove."},
				{Name: "role_definition_ids", Type: "array of string", Description: "Remove the user's active assignments of these roles."},
				{Name: "all", Type: "boolean", Description: "Remove all active assignments."},
			}},
		{Name: ActionRemoveGroupMemberships, Bulk: false, Undoable: true,
			Description: "Removes direct group memberships of one user. Dynamic groups are never changed.",
			Params: []ParamSpec{
				{Name: "group_ids", Type: "array of string", Description: "Groups to remove the user from."},
				{Name: "all", Type: "boolean", Description: "Remove all direct memberships."},
			}},
	}
}

// LookupAction returns the catalog entry for name.
func LookupAction(name string) (ActionSpec, bool) {
	for _, s := range Catalog() {
		if string(s.Name) == name {
			return s, true
		}
	}
	return ActionSpec{}, false
}
