package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	DefaultMaxWait       = 10 * time.Second
	DefaultBulkShare     = 0.97
	DefaultBurstFraction = 0.02
	DefaultCAMargin      = 100 * time.Millisecond
	DefaultBackoffBase   = 2 * time.Second
	DefaultBackoffMax    = 2 * time.Minute
	DefaultPrefix        = "budget"
)

// Options tune a Gate. The zero value gives the defaults.
type Options struct {
	// MaxWait bounds how long Acquire sleeps for one call (pauses and
	// bucket waits together); a longer wait is refused with a *WaitError.
	// Zero means DefaultMaxWait; negative means never wait.
	MaxWait time.Duration
	// BulkShare is the part of every window budget (resource units,
	// writes, tenant writes) the Bulk lane may use, in (0, 1]
	// (DefaultBulkShare when zero). What bulk leaves keeps the shared
	// bucket's burst free for Urgent work; beyond that, urgent calls still
	// go first (they book the shared bucket, bulk calls must find it free),
	// so a larger share costs urgency little and lets bulk run closer to
	// the quota.
	BulkShare float64
	// BurstFraction is the part of a window budget that may be spent at
	// once, in (0, 1) (DefaultBurstFraction when zero). The rest is spread
	// evenly over the window, so that no window of Graph's length ever
	// sees more than the budget.
	BurstFraction float64
	// CAMargin is added to the spacing of Conditional Access requests
	// (1/CARequestsPerSecond) to absorb network jitter (DefaultCAMargin
	// when zero; negative means none).
	CAMargin time.Duration
	// BackoffBase and BackoffMax bound the exponential backoff of
	// Throttled when Graph sent no Retry-After (DefaultBackoffBase,
	// DefaultBackoffMax when zero).
	BackoffBase, BackoffMax time.Duration
	// Prefix starts every Redis key (DefaultPrefix when empty).
	Prefix string
}

// Gate meters a tenant's Graph calls against its budgets, shared by every
// process using the same Redis. It is safe for concurrent use.
type Gate struct {
	rdb  redis.UniversalClient
	opts Options
	// paused holds, per tenant id, the end of a pause this process set
	// (Throttled): prepaid calls (WithPrepaid) check it, as they do not
	// go to Redis.
	paused sync.Map
}

// NewGate returns a Gate on rdb (for instance the client that
// asynq.RedisConnOpt.MakeRedisClient returns). The Gate does not close rdb.
func NewGate(rdb redis.UniversalClient, opts Options) *Gate {
	o := opts
	o.MaxWait = cmp.Or(o.MaxWait, DefaultMaxWait)
	if o.BulkShare <= 0 || o.BulkShare > 1 {
		o.BulkShare = DefaultBulkShare
	}
	if o.BurstFraction <= 0 || o.BurstFraction >= 1 {
		o.BurstFraction = DefaultBurstFraction
	}
	switch {
	case o.CAMargin == 0:
		o.CAMargin = DefaultCAMargin
	case o.CAMargin < 0:
		o.CAMargin = 0
	}
	o.BackoffBase = cmp.Or(o.BackoffBase, DefaultBackoffBase)
	o.BackoffMax = max(cmp.Or(o.BackoffMax, DefaultBackoffMax), o.BackoffBase)
	o.Prefix = cmp.Or(o.Prefix, DefaultPrefix)
	return &Gate{rdb: rdb, opts: o}
}

// Cost is what one Graph call spends: RU resource units (1 for a GET,
// 2 for a list or memberOf, 1 for a write), one write when Write, and one
// Conditional Access request when CA.
type Cost struct {
	RU    int
	Write bool
	CA    bool
	// Writes are writes beyond the one of Write: the cost of several
	// calls taken at once (see WithPrepaid).
	Writes int
}

// writes is the number of writes of c.
func (c Cost) writes() int {
	n := c.Writes
	if c.Write {
		n++
	}
	return n
}

// Lane is the priority of a call within its tenant.
type Lane uint8

const (
	// Bulk is large-job work: it uses at most Options.BulkShare of each
	// window budget, and yields to Urgent work. The zero Lane.
	Bulk Lane = iota
	// Urgent is small-job work (a single identity): it books the shared
	// budget directly, ahead of Bulk work.
	Urgent
)

func (l Lane) String() string {
	if l == Urgent {
		return "urgent"
	}
	return "bulk"
}

type laneKey struct{}

// WithLane returns a context whose Graph calls (through Wrap) run in lane.
func WithLane(ctx context.Context, lane Lane) context.Context {
	return context.WithValue(ctx, laneKey{}, lane)
}

// LaneFrom returns the lane of ctx: Bulk unless WithLane said otherwise,
// so that unmarked work never jumps ahead of small jobs.
func LaneFrom(ctx context.Context) Lane {
	l, _ := ctx.Value(laneKey{}).(Lane)
	return l
}

// WaitError is returned by Acquire when the call could only go after more
// than MaxWait (or after the context's deadline): the caller should
// reschedule its work Delay from now. Nothing was taken from the budgets.
type WaitError struct {
	TenantID string
	// Budget is the budget that is short (e.g. "writes", "writes_bulk",
	// "pause").
	Budget string
	Delay  time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("budget: tenant %s: %s budget exhausted, try again in %s", e.TenantID, e.Budget,
		e.Delay.Round(time.Millisecond))
}

// Acquire takes cost from the tenant's budgets under limits, in lane,
// waiting out any pause first and then sleeping (once, for the time the
// budgets compute) until the call may go. It returns how long it slept.
// A wait beyond MaxWait or past ctx's deadline gives a *WaitError and
// takes nothing; ctx's end while sleeping gives ctx's error and returns
// the booked tokens.
func (g *Gate) Acquire(ctx context.Context, tenantID string, limits Limits, cost Cost, lane Lane) (waited time.Duration, err error) {
	r, err := g.acquire(ctx, tenantID, limits, cost, lane, nil)
	return r.waited, err
}

// acquired is what acquire learnt.
type acquired struct {
	waited  time.Duration
	backoff bool // a consecutive-failure counter exists: reset it on success
}

// acquire is Acquire reporting each sleep to onWait (may be nil).
func (g *Gate) acquire(ctx context.Context, tenantID string, limits Limits, cost Cost, lane Lane,
	onWait func(budget string, d time.Duration)) (res acquired, err error) {
	p, err := g.plan(tenantID, limits, cost, lane)
	if err != nil {
		return res, err
	}
	deadline := time.Now()
	if g.opts.MaxWait > 0 {
		deadline = deadline.Add(g.opts.MaxWait)
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	reserve, held := p.reserve, []bucket(nil)
	defer func() {
		if err != nil && len(held) > 0 {
			g.refund(ctx, tenantID, held)
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("budget: tenant %s: %w", tenantID, err)
		}
		left := max(time.Until(deadline), 0)
		r, err := g.take(ctx, tenantID, p, reserve, left)
		if err != nil {
			return res, err
		}
		res.backoff = res.backoff || r.backoff
		name := p.name(r, reserve)
		switch r.status {
		case statusGranted:
			return res, nil
		case statusRefused:
			return res, &WaitError{TenantID: tenantID, Budget: name, Delay: r.wait}
		case statusPaused:
			if r.wait > left {
				return res, &WaitError{TenantID: tenantID, Budget: name, Delay: r.wait}
			}
		case statusReserved:
			held, reserve = append(held, reserve...), nil
		default:
			return res, fmt.Errorf("budget: tenant %s: unexpected script status %d", tenantID, r.status)
		}
		if onWait != nil {
			onWait(name, r.wait)
		}
		if err := sleep(ctx, r.wait); err != nil {
			return res, fmt.Errorf("budget: tenant %s: %w", tenantID, err)
		}
		res.waited += r.wait
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// refund gives back held bookings, even when ctx has ended.
func (g *Gate) refund(ctx context.Context, tenantID string, held []bucket) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	keys := make([]string, len(held))
	args := make([]any, len(held))
	for i, b := range held {
		keys[i] = g.bucketKey(tenantID, b.name)
		args[i] = b.increment()
	}
	// A failed refund only leaves the budget short until it refills.
	_ = refundScript.Run(rctx, g.rdb, keys, args...).Err()
}

// errCost is returned for a cost no bucket can ever grant.
var errCost = errors.New("budget: cost exceeds a bucket's burst")
