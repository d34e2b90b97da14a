package remediation

import "time"

// Tenant settings values.
const (
	MFAPolicyEnabled    = "enabled"
	MFAPolicyReportOnly = "report_only"
	MFATargetUsers      = "users"
	MFATargetGroup      = "group"
)

// TenantSettings are the per-tenant guardrails and policy settings an
// admin manages through PATCH /v1/tenants/{tenant_id}.
type TenantSettings struct {
	// ProtectedIdentities are object ids (break-glass / emergency access
	// accounts): every action on them is refused, and they are excluded
	// from every policy the product writes.
	ProtectedIdentities []string `json:"protected_identities"`
	// MFAPolicyState is "enabled" (default) or "report_only".
	MFAPolicyState string `json:"mfa_policy_state"`
	// MFATargeting is "users" (default: user ids in the policy) or "group"
	// (the policy includes one managed security group).
	MFATargeting string `json:"mfa_targeting"`
	// GraphLimits overrides the Graph quotas the worker budgets for this
	// tenant (nil: Microsoft's published limits by tenant size).
	GraphLimits *GraphLimits `json:"graph_limits,omitempty"`
}

// WithDefaults fills empty fields with their defaults.
func (s TenantSettings) WithDefaults() TenantSettings {
	if s.MFAPolicyState == "" {
		s.MFAPolicyState = MFAPolicyEnabled
	}
	if s.MFATargeting == "" {
		s.MFATargeting = MFATargetUsers
	}
	if s.ProtectedIdentities == nil {
		s.ProtectedIdentities = []string{}
	}
	return s
}

// IsProtected reports whether objectID is a protected identity.
func (s TenantSettings) IsProtected(objectID string) bool {
	for _, id := range s.ProtectedIdentities {
		if equalFold(id, objectID) {
			return true
		}
	}
	return false
}

// PolicyKind names one of the two Conditional Access policies the product
// manages per tenant.
type PolicyKind string

const (
	PolicyMFA                  PolicyKind = "mfa"
	PolicyPhishingResistantMFA PolicyKind = "phishing_resistant_mfa"
)

// PolicyRef is what the store keeps of one managed policy.
type PolicyRef struct {
	PolicyID string `json:"policy_id"`
	GroupID  string `json:"group_id"` // the managed group with mfa_targeting=group
}

// Policy membership operations.
const (
	PolicyOpAdd    = "add"
	PolicyOpRemove = "remove"
)

// PolicyRequest asks the tenant's policy flusher to add a user to (or
// remove one from) a managed policy for one item. Requests are batched:
// one Conditional Access write carries many users.
type PolicyRequest struct {
	TenantID  string
	Kind      PolicyKind
	Op        string
	UserID    string
	JobID     string
	Seq       int
	DryRun    bool
	CreatedAt time.Time
}

// PolicyOutcome is the result of one PolicyRequest after a flush.
type PolicyOutcome struct {
	Request PolicyRequest
	Result  Result
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
