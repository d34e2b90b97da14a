package budget

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// plan is the buckets, pauses and failure counters one call involves.
type plan struct {
	pauses   []string // pause budget names (BudgetPause, BudgetPauseCA)
	counters []string // failure counter scopes
	reserve  []bucket // booked ahead (possibly in the future)
	conform  []bucket // must allow the call when it goes
}

// plan builds the plan of a call. Urgent calls book the shared buckets
// (and the CA bucket); Bulk calls book their reduced bulk buckets, then
// need the shared buckets free when they go, so Urgent bookings come first.
func (g *Gate) plan(tenantID string, limits Limits, cost Cost, lane Lane) (plan, error) {
	var p plan
	if tenantID == "" {
		return p, fmt.Errorf("budget: no tenant")
	}
	if cost.RU < 0 {
		return p, fmt.Errorf("budget: negative cost %d", cost.RU)
	}
	p.pauses = []string{BudgetPause}
	p.counters = []string{scopeTenant}
	if cost.CA {
		p.pauses = append(p.pauses, BudgetPauseCA)
		p.counters = append(p.counters, scopeCA)
	}
	var shared, bulk []bucket
	for _, w := range limits.windows() {
		c := costOf(w.name, cost)
		if c == 0 || w.n <= 0 || w.window <= 0 {
			continue
		}
		shared = append(shared, bucket{w.name, windowLimit(w.n, w.window, 1, g.opts.BurstFraction), c})
		if g.opts.BulkShare < 1 {
			bulk = append(bulk, bucket{w.name + bulkSuffix, windowLimit(w.n, w.window, g.opts.BulkShare, g.opts.BurstFraction), c})
		}
	}
	if cost.CA && limits.CARequestsPerSecond > 0 {
		shared = append(shared, bucket{BudgetCA, caLimit(limits.CARequestsPerSecond, g.opts.CAMargin), 1})
	}
	for _, b := range append(shared, bulk...) {
		if b.cost > b.limit.Burst {
			return p, fmt.Errorf("%w: %s costs %d, burst %d (%s)", errCost, b.name, b.cost, b.limit.Burst, b.limit)
		}
	}
	if lane == Urgent || len(bulk) == 0 {
		p.reserve = shared
	} else {
		p.reserve, p.conform = bulk, shared
	}
	return p, nil
}

// increment is the GCRA increment of b's cost, in seconds.
func (b bucket) increment() float64 { return emission(b.limit) * float64(b.cost) }

// burstOffset is the GCRA burst offset of b, in seconds.
func (b bucket) burstOffset() float64 { return emission(b.limit) * float64(b.limit.Burst) }

// emission is the time between two tokens of l, in seconds (as redis_rate).
func emission(l redis_rate.Limit) float64 { return l.Period.Seconds() / float64(l.Rate) }

// takeResult is takeScript's reply.
type takeResult struct {
	status  int64
	wait    time.Duration
	index   int64
	backoff bool
}

// name is the budget a reply is about.
func (p plan) name(r takeResult, reserve []bucket) string {
	i := int(r.index) - 1
	if r.status == statusPaused {
		if i >= 0 && i < len(p.pauses) {
			return p.pauses[i]
		}
		return BudgetPause
	}
	all := append(append([]bucket(nil), reserve...), p.conform...)
	if i >= 0 && i < len(all) {
		return all[i].name
	}
	return ""
}

// take runs takeScript once for the plan's pauses and counters, the given
// reserve buckets (nil once booked) and the plan's conform buckets.
func (g *Gate) take(ctx context.Context, tenantID string, p plan, reserve []bucket, maxWait time.Duration) (takeResult, error) {
	buckets := append(append([]bucket(nil), reserve...), p.conform...)
	keys := make([]string, 0, len(p.pauses)+len(p.counters)+len(buckets))
	for _, s := range p.pauses {
		keys = append(keys, g.pauseKey(tenantID, s))
	}
	for _, s := range p.counters {
		keys = append(keys, g.counterKey(tenantID, s))
	}
	args := make([]any, 0, 5+2*len(buckets))
	args = append(args, len(p.pauses), len(p.counters), len(reserve), len(p.conform), maxWait.Seconds())
	for _, b := range buckets {
		keys = append(keys, g.bucketKey(tenantID, b.name))
		args = append(args, b.increment(), b.burstOffset())
	}
	v, err := takeScript.Run(ctx, g.rdb, keys, args...).Slice()
	if err != nil {
		return takeResult{}, fmt.Errorf("budget: tenant %s: take: %w", tenantID, err)
	}
	if len(v) != 4 {
		return takeResult{}, fmt.Errorf("budget: tenant %s: take: unexpected reply %v", tenantID, v)
	}
	status, _ := v[0].(int64)
	index, _ := v[2].(int64)
	backoff, _ := v[3].(int64)
	s, _ := v[1].(string)
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return takeResult{}, fmt.Errorf("budget: tenant %s: take: wait %q: %w", tenantID, s, err)
	}
	return takeResult{status: status, wait: time.Duration(secs * float64(time.Second)), index: index, backoff: backoff == 1}, nil
}

// Failure counter and pause scopes.
const (
	scopeTenant = "tenant"
	scopeCA     = "ca"
)

// tenantTag puts every key of a tenant in one Redis Cluster slot.
func (g *Gate) tenantTag(tenantID string) string { return g.opts.Prefix + ":{" + tenantID + "}:" }

// limiterKey is the redis_rate limiter key of a bucket (redis_rate adds
// its "rate:" prefix).
func (g *Gate) limiterKey(tenantID, name string) string { return g.tenantTag(tenantID) + name }

// bucketKey is the Redis key of a bucket, as redis_rate names it.
func (g *Gate) bucketKey(tenantID, name string) string { return "rate:" + g.limiterKey(tenantID, name) }

func (g *Gate) pauseKey(tenantID, budget string) string { return g.tenantTag(tenantID) + budget }

func (g *Gate) counterKey(tenantID, scope string) string {
	return g.tenantTag(tenantID) + "failures:" + scope
}

func (g *Gate) slotKey(tenantID string, lane Lane) string {
	return g.tenantTag(tenantID) + "slots:" + lane.String()
}
