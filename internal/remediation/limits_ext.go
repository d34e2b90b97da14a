package remediation

import "math"

// GraphLimits are a tenant's overrides of Microsoft Graph's throttling
// budgets, as an admin sets them in the tenant settings. Every field is
// optional: zero means "Microsoft's published default" (see
// internal/budget.DefaultLimits). Windows are in seconds.
type GraphLimits struct {
	// ResourceUnits per ResourceUnitsWindowS, per app and tenant
	// (default 3,500 / 5,000 / 8,000 per 10 s by tenant size).
	ResourceUnits        int     `json:"resource_units,omitempty"`
	ResourceUnitsWindowS float64 `json:"resource_units_window_s,omitempty"`
	// Writes per WritesWindowS, per app and tenant (default 3,000 per 150 s).
	Writes        int     `json:"writes,omitempty"`
	WritesWindowS float64 `json:"writes_window_s,omitempty"`
	// TenantWrites per TenantWritesWindowS, per tenant across all apps
	// (default 18,000 per 300 s).
	TenantWrites        int     `json:"tenant_writes,omitempty"`
	TenantWritesWindowS float64 `json:"tenant_writes_window_s,omitempty"`
	// CARequestsPerS is the Conditional Access request rate per tenant
	// (default 1).
	CARequestsPerS float64 `json:"ca_requests_per_s,omitempty"`
}

// Bounds of GraphLimits values.
const (
	maxGraphLimitsWindowS = 3600
	maxGraphLimitsCount   = 10_000_000
	maxCARequestsPerS     = 100
)

// Validate returns an EINVALID *Error when a value is negative, not finite
// or out of range (windows up to one hour, counts up to 10,000,000,
// Conditional Access up to 100 requests per second).
func (l *GraphLimits) Validate() error {
	if l == nil {
		return nil
	}
	counts := []struct {
		name string
		v    int
	}{{"resource_units", l.ResourceUnits}, {"writes", l.Writes}, {"tenant_writes", l.TenantWrites}}
	for _, c := range counts {
		if c.v < 0 || c.v > maxGraphLimitsCount {
			return Errorf(EINVALID, "graph_limits.%s must be between 0 and %d", c.name, maxGraphLimitsCount)
		}
	}
	windows := []struct {
		name string
		v    float64
	}{{"resource_units_window_s", l.ResourceUnitsWindowS}, {"writes_window_s", l.WritesWindowS},
		{"tenant_writes_window_s", l.TenantWritesWindowS}}
	for _, w := range windows {
		if math.IsNaN(w.v) || w.v < 0 || w.v > maxGraphLimitsWindowS {
			return Errorf(EINVALID, "graph_limits.%s must be between 0 and %d seconds", w.name, maxGraphLimitsWindowS)
		}
	}
	if math.IsNaN(l.CARequestsPerS) || l.CARequestsPerS < 0 || l.CARequestsPerS > maxCARequestsPerS {
		return Errorf(EINVALID, "graph_limits.ca_requests_per_s must be between 0 and %d", maxCARequestsPerS)
	}
	return nil
}
