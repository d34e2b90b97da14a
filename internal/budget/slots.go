package budget

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxSlots bounds one ScheduleSlots call.
const maxSlots = 1_000_000

// ScheduleSlots books n consecutive start times for work of the tenant in
// lane, 1/perSecond apart, from a "next free slot" kept in Redis (one per
// tenant and lane; Redis's clock), so that n tasks enqueued with
// ProcessAt = slot become ready at the pace the budget allows instead of
// all at once. Calls from any process never overlap: each gets the next
// free stretch, which starts now when the schedule is idle. perSecond may
// be +Inf (every slot now).
func (g *Gate) ScheduleSlots(ctx context.Context, tenantID string, n int, perSecond float64, lane Lane) ([]time.Time, error) {
	switch {
	case tenantID == "":
		return nil, fmt.Errorf("budget: schedule slots: no tenant")
	case n < 0 || n > maxSlots:
		return nil, fmt.Errorf("budget: schedule slots of tenant %s: n %d out of range [0, %d]", tenantID, n, maxSlots)
	case math.IsNaN(perSecond) || perSecond <= 0:
		return nil, fmt.Errorf("budget: schedule slots of tenant %s: rate %v must be positive", tenantID, perSecond)
	case n == 0:
		return nil, nil
	}
	step := 1e6 / perSecond // µs
	s, err := slotsScript.Run(ctx, g.rdb, []string{g.slotKey(tenantID, lane)}, n, step).Text()
	if err != nil {
		return nil, fmt.Errorf("budget: schedule slots of tenant %s: %w", tenantID, err)
	}
	first, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("budget: schedule slots of tenant %s: reply %q: %w", tenantID, s, err)
	}
	out := make([]time.Time, n)
	for i := range out {
		out[i] = time.UnixMicro(int64(first + float64(i)*step))
	}
	return out, nil
}

// Pace is the sustained rate (items per second) at which items that each
// spend ru resource units and writes writes fit lane's window budgets under
// limits: the rate to give ScheduleSlots for a job's items. It is +Inf
// when the items spend nothing that limits enforce.
func (g *Gate) Pace(limits Limits, ru, writes int, lane Lane) float64 {
	share := 1.0
	if lane == Bulk {
		share = g.opts.BulkShare
	}
	rate := math.Inf(1)
	for _, w := range limits.windows() {
		per := writes
		if w.name == BudgetResourceUnits {
			per = ru
		}
		if per <= 0 || w.n <= 0 || w.window <= 0 {
			continue
		}
		l := windowLimit(w.n, w.window, share, g.opts.BurstFraction)
		rate = min(rate, float64(l.Rate)/l.Period.Seconds()/float64(per))
	}
	return rate
}
