package budget

import (
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Limits are Graph's throttling budgets of one tenant. A zero count (or
// window, or CA rate) leaves that budget unenforced: use DefaultLimits and
// Merge for Microsoft's numbers.
type Limits struct {
	// ResourceUnits per ResourceUnitsWindow, per app and tenant.
	ResourceUnits       int
	ResourceUnitsWindow time.Duration
	// Writes per WritesWindow, per app and tenant.
	Writes       int
	WritesWindow time.Duration
	// TenantWrites per TenantWritesWindow, per tenant across all apps.
	TenantWrites       int
	TenantWritesWindow time.Duration
	// CARequestsPerSecond is the Conditional Access request rate of the
	// tenant (across all apps).
	CARequestsPerSecond float64
}

// Tenant size thresholds of the resource unit budget (users).
const (
	smallTenantUsers = 50
	largeTenantUsers = 500
)

// DefaultLimits returns Microsoft's published limits for a tenant of
// tenantSize users: 3,500 (< 50 users), 5,000 (50–500) or 8,000 (> 500)
// resource units per 10 s; 3,000 writes per 150 s; 18,000 tenant writes
// per 5 min; 1 Conditional Access request per second. An unknown size (0)
// gets the smallest budget.
func DefaultLimits(tenantSize int) Limits {
	ru := 3500
	switch {
	case tenantSize > largeTenantUsers:
		ru = 8000
	case tenantSize >= smallTenantUsers:
		ru = 5000
	}
	return Limits{
		ResourceUnits: ru, ResourceUnitsWindow: 10 * time.Second,
		Writes: 3000, WritesWindow: 150 * time.Second,
		TenantWrites: 18000, TenantWritesWindow: 5 * time.Minute,
		CARequestsPerSecond: 1,
	}
}

// Merge returns defaults with every non-zero field of overrides applied
// (a nil overrides gives defaults). Windows are in seconds in overrides.
func Merge(defaults Limits, overrides *remediation.GraphLimits) Limits {
	l := defaults
	if overrides == nil {
		return l
	}
	o := overrides
	setInt(&l.ResourceUnits, o.ResourceUnits)
	setWindow(&l.ResourceUnitsWindow, o.ResourceUnitsWindowS)
	setInt(&l.Writes, o.Writes)
	setWindow(&l.WritesWindow, o.WritesWindowS)
	setInt(&l.TenantWrites, o.TenantWrites)
	setWindow(&l.TenantWritesWindow, o.TenantWritesWindowS)
	if o.CARequestsPerS > 0 {
		l.CARequestsPerSecond = o.CARequestsPerS
	}
	return l
}

// GraphLimits returns l in its JSON domain form.
func (l Limits) GraphLimits() remediation.GraphLimits {
	return remediation.GraphLimits{
		ResourceUnits: l.ResourceUnits, ResourceUnitsWindowS: l.ResourceUnitsWindow.Seconds(),
		Writes: l.Writes, WritesWindowS: l.WritesWindow.Seconds(),
		TenantWrites: l.TenantWrites, TenantWritesWindowS: l.TenantWritesWindow.Seconds(),
		CARequestsPerS: l.CARequestsPerSecond,
	}
}

func setInt(dst *int, v int) {
	if v > 0 {
		*dst = v
	}
}

func setWindow(dst *time.Duration, seconds float64) {
	if seconds > 0 {
		*dst = time.Duration(seconds * float64(time.Second))
	}
}

// Bucket names, as reported to OnWait and used in Redis keys.
const (
	BudgetResourceUnits = "resource_units"
	BudgetWrites        = "writes"
	BudgetTenantWrites  = "tenant_writes"
	BudgetCA            = "ca"
	BudgetPause         = "pause"
	BudgetPauseCA       = "pause_ca"
	bulkSuffix          = "_bulk"
)

// bucket is one GCRA bucket a call takes from.
type bucket struct {
	name  string // e.g. "writes" or "writes_bulk"
	limit redis_rate.Limit
	cost  int
}

// windowLimit turns "n per window" into a GCRA limit that never lets more
// than n calls into any window of that length: burst B (a fraction of n,
// at least 2 when n allows) plus a rate of n−B per window. share scales n
// for the bulk lane.
func windowLimit(n int, window time.Duration, share, burstFraction float64) redis_rate.Limit {
	l := max(int(math.Floor(float64(n)*share+1e-9)), 1)
	b := max(int(math.Ceil(float64(l)*burstFraction)), min(l, 2))
	if l >= 2 {
		b = min(b, l-1)
	}
	return redis_rate.Limit{Rate: max(l-b, 1), Burst: b, Period: window}
}

// caLimit spaces Conditional Access requests by 1/perSecond plus margin.
func caLimit(perSecond float64, margin time.Duration) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Duration(float64(time.Second)/perSecond) + margin}
}

// windowBudget is one of the three window budgets of Limits.
type windowBudget struct {
	name   string
	n      int
	window time.Duration
}

func (l Limits) windows() [3]windowBudget {
	return [3]windowBudget{
		{BudgetResourceUnits, l.ResourceUnits, l.ResourceUnitsWindow},
		{BudgetWrites, l.Writes, l.WritesWindow},
		{BudgetTenantWrites, l.TenantWrites, l.TenantWritesWindow},
	}
}

// costOf is what cost takes from a window budget.
func costOf(name string, c Cost) int {
	switch name {
	case BudgetResourceUnits:
		return c.RU
	case BudgetWrites, BudgetTenantWrites:
		return c.writes()
	}
	return 0
}
