package budget

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// failureMemory is how long a consecutive-failure counter outlives its
// last failure (a success resets it sooner).
const failureMemory = 10 * time.Minute

// Pause stops every Graph call of the tenant, in every process sharing the
// Redis, for d (Acquire waits it out). A longer pause already in place is
// kept.
func (g *Gate) Pause(ctx context.Context, tenantID string, d time.Duration) error {
	return g.pause(ctx, tenantID, BudgetPause, d)
}

// PauseCA is Pause for the tenant's Conditional Access calls only (their
// own 1 request/s limit).
func (g *Gate) PauseCA(ctx context.Context, tenantID string, d time.Duration) error {
	return g.pause(ctx, tenantID, BudgetPauseCA, d)
}

func (g *Gate) pause(ctx context.Context, tenantID, budget string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	ms := max(d.Milliseconds(), 1)
	if err := pauseScript.Run(ctx, g.rdb, []string{g.pauseKey(tenantID, budget)}, ms).Err(); err != nil {
		return fmt.Errorf("budget: pause tenant %s: %w", tenantID, err)
	}
	return nil
}

// Throttled records that Graph refused a call of the tenant (429, 503 or
// 504) and pauses the tenant, for every process: for retryAfter when Graph
// sent one, else for an exponential backoff with equal jitter over the
// consecutive refusals counted in Redis (BackoffBase × 2^(n−1), capped at
// BackoffMax, half of it random). With ca, the pause and the count are
// those of the tenant's Conditional Access calls only. A refusal while
// the pause is in place (of a call in flight when it began) is not counted
// again and keeps the pause, so that calls refused together back off once.
// It returns the pause now in place.
func (g *Gate) Throttled(ctx context.Context, tenantID string, ca bool, retryAfter time.Duration) (time.Duration, error) {
	scope, budget := scopeTenant, BudgetPause
	if ca {
		scope, budget = scopeCA, BudgetPauseCA
	}
	keys := []string{g.counterKey(tenantID, scope), g.pauseKey(tenantID, budget)}
	ra := int64(0)
	if retryAfter > 0 {
		ra = max(retryAfter.Milliseconds(), 1)
	}
	v, err := throttledScript.Run(ctx, g.rdb, keys, ra, g.opts.BackoffBase.Milliseconds(),
		g.opts.BackoffMax.Milliseconds(), rand.Float64(), failureMemory.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("budget: record throttling of tenant %s: %w", tenantID, err)
	}
	if len(v) != 2 {
		return 0, fmt.Errorf("budget: record throttling of tenant %s: unexpected reply %v", tenantID, v)
	}
	d := time.Duration(v[1]) * time.Millisecond
	if !ca {
		g.paused.Store(tenantID, time.Now().Add(d))
	}
	return d, nil
}

// Recovered resets the tenant's consecutive-refusal count (after a call
// Graph answered without throttling), so the next backoff starts small
// again. With ca, the Conditional Access count is reset too.
func (g *Gate) Recovered(ctx context.Context, tenantID string, ca bool) error {
	keys := []string{g.counterKey(tenantID, scopeTenant)}
	if ca {
		keys = append(keys, g.counterKey(tenantID, scopeCA))
	}
	if err := g.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("budget: reset throttling count of tenant %s: %w", tenantID, err)
	}
	return nil
}
