package actions

import "github.com/entraremediator/remediator/internal/remediation"

// Display names of the Conditional Access policies and managed groups the
// product creates (one of each per tenant and kind). The flusher finds
// them again by these names when a stored id is gone: never rename them.
const (
	MFAPolicyName               = "Entra Remediator – require MFA"
	PhishingResistantPolicyName = "Entra Remediator – require phishing-resistant MFA"
	MFAGroupName                = "Entra Remediator – MFA users"
	PhishingResistantGroupName  = "Entra Remediator – phishing-resistant MFA users"
)

// policySpec describes one managed policy kind.
type policySpec struct {
	kind     remediation.PolicyKind
	name     string // policy display name
	group    string // managed group display name (mfa_targeting=group)
	nickname string // managed group mail nickname
	label    string // in details: "added to the <label>"
	// Grant control: built-in mfa, or an authentication strength (never both).
	controls []string
	strength string
}

var policySpecs = map[remediation.PolicyKind]policySpec{
	remediation.PolicyMFA: {kind: remediation.PolicyMFA, name: MFAPolicyName, group: MFAGroupName,
		nickname: "entra-remediator-mfa", label: "MFA policy", controls: []string{"mfa"}},
	remediation.PolicyPhishingResistantMFA: {kind: remediation.PolicyPhishingResistantMFA, name: PhishingResistantPolicyName,
		group: PhishingResistantGroupName, nickname: "entra-remediator-phishing-resistant-mfa",
		label: "phishing-resistant MFA policy", strength: remediation.AuthStrengthPhishingResistant},
}

// PolicyDisplayName returns the display name of the managed policy of kind
// ("" for an unknown kind).
func PolicyDisplayName(kind remediation.PolicyKind) string { return policySpecs[kind].name }

// caState maps the tenant setting mfa_policy_state to a policy state.
func caState(s remediation.TenantSettings) string {
	if s.WithDefaults().MFAPolicyState == remediation.MFAPolicyReportOnly {
		return "enabledForReportingButNotEnforced"
	}
	return "enabled"
}

// groupTargeting reports whether the tenant targets a managed group.
func groupTargeting(s remediation.TenantSettings) bool {
	return s.WithDefaults().MFATargeting == remediation.MFATargetGroup
}

// stateChange returns the state the policy must be set to when the
// tenant's mfa_policy_state no longer matches it (report-only first, then
// enabled, is the usual rollout), or "" when it matches.
func (fl *flush) stateChange(pol *remediation.CAPolicy) string {
	if want := caState(fl.settings); pol.State != "" && pol.State != want {
		return want
	}
	return ""
}
