package budget

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Prepaid is the budget of a unit of work's Graph calls (an item's, say)
// taken in one go: the first metered call of the work (Wrap) takes the
// whole cost from Redis, and the calls after it draw from what is left
// without going to Redis. A bulk item of a fast tenant so costs one budget
// script instead of one per call. Calls that do not fit what is left,
// Conditional Access calls, calls of another tenant and calls while this
// process knows the tenant is paused are metered one by one as usual.
//
// Release gives back what the work did not spend. A Prepaid is safe for
// concurrent use.
type Prepaid struct {
	cost Cost

	mu      sync.Mutex
	taken   bool
	left    Cost
	g       *Gate
	tenant  string
	limits  Limits
	lane    Lane
	backoff bool // reported once, to the first call
}

type prepaidKey struct{}

// WithPrepaid returns a context whose metered calls draw from an
// allowance of cost (never a Conditional Access cost), taken by its first
// metered call, and the allowance, to Release when the work ends.
func WithPrepaid(ctx context.Context, cost Cost) (context.Context, *Prepaid) {
	cost.CA = false
	p := &Prepaid{cost: cost}
	return context.WithValue(ctx, prepaidKey{}, p), p
}

func prepaidFrom(ctx context.Context) *Prepaid {
	p, _ := ctx.Value(prepaidKey{}).(*Prepaid)
	return p
}

// fits reports whether c can be drawn from left.
func fits(c, left Cost) bool {
	return !c.CA && c.RU <= left.RU && c.writes() <= left.writes()
}

// draw takes c from the allowance, taking the allowance from the tenant's
// budgets first when c is the work's first call. ok false means c is to
// be metered on its own; err is the first call's refusal (a *WaitError,
// say), nothing taken.
func (p *Prepaid) draw(ctx context.Context, m *meter, c Cost, lane Lane) (got acquired, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.taken {
		if !fits(c, p.cost) {
			return got, false, nil
		}
		got, err = m.g.acquire(ctx, m.tenantID, m.limits, p.cost, lane, m.opts.OnWait)
		if errors.Is(err, errCost) {
			p.cost = Cost{} // more than a bucket's burst: meter call by call
			return acquired{}, false, nil
		}
		if err != nil {
			return got, false, err
		}
		p.taken, p.left, p.g, p.tenant, p.limits, p.lane = true, p.cost, m.g, m.tenantID, m.limits, lane
		p.backoff = got.backoff
	}
	if p.tenant != m.tenantID || p.lane != lane || !fits(c, p.left) || m.g.pausedHere(m.tenantID) {
		return acquired{}, false, nil
	}
	p.left.RU -= c.RU
	p.left.Writes = p.left.writes() - c.writes()
	p.left.Write = false
	got = acquired{backoff: p.backoff}
	p.backoff = false
	return got, true, nil
}

// Release gives back to the tenant's budgets what the work did not spend.
// It is a no-op when nothing is left (or nothing was taken).
func (p *Prepaid) Release(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.taken || (p.left.RU <= 0 && p.left.writes() <= 0) {
		return
	}
	left := p.left
	p.left = Cost{}
	pl, err := p.g.plan(p.tenant, p.limits, left, p.lane)
	if err != nil {
		return
	}
	p.g.refund(ctx, p.tenant, append(pl.reserve, pl.conform...))
}

// pausedHere reports whether this process paused the tenant (Throttled)
// and the pause has not ended.
func (g *Gate) pausedHere(tenantID string) bool {
	v, ok := g.paused.Load(tenantID)
	if !ok {
		return false
	}
	if time.Now().Before(v.(time.Time)) {
		return true
	}
	g.paused.CompareAndDelete(tenantID, v)
	return false
}
