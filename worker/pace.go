package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// DefaultCAInterval is the spacing of Conditional Access requests of one
// tenant: Graph allows 1 request per second per tenant (across apps, its
// 429s carry no Retry-After); the extra 100 ms absorb network jitter
// between the pacer's decision and Graph's clock.
const DefaultCAInterval = 1100 * time.Millisecond

// CAPacer spaces the Conditional Access requests of each tenant, across
// every worker process, with a GCRA limiter in Redis (key
// "rate:ca:<tenant>", burst 1). It is safe for concurrent use.
type CAPacer struct {
	rdb      redis.UniversalClient
	limiter  *redis_rate.Limiter
	limit    redis_rate.Limit
	ownsConn bool
}

// NewCAPacer returns a pacer allowing one Conditional Access request per
// interval per tenant (DefaultCAInterval when zero), on the Redis that opt
// describes (the asynq connection). Close it when done.
func NewCAPacer(opt asynq.RedisConnOpt, interval time.Duration) (*CAPacer, error) {
	rdb, err := redisClient(opt)
	if err != nil {
		return nil, err
	}
	p := newCAPacer(rdb, interval)
	p.ownsConn = true
	return p, nil
}

func newCAPacer(rdb redis.UniversalClient, interval time.Duration) *CAPacer {
	interval = cmp.Or(interval, DefaultCAInterval)
	return &CAPacer{rdb: rdb, limiter: redis_rate.NewLimiter(rdb),
		limit: redis_rate.Limit{Rate: 1, Burst: 1, Period: interval}}
}

// Close closes the pacer's Redis connection.
func (p *CAPacer) Close() error {
	if !p.ownsConn {
		return nil
	}
	return p.rdb.Close()
}

// Pace waits until the tenant of ctx (the policy flush's, see
// PolicyFlusher) may send a Conditional Access request, and takes that
// turn. It returns ctx's error if ctx ends first. A ctx without a tenant
// is a wiring error.
func (p *CAPacer) Pace(ctx context.Context) error {
	tenantID, ok := ctx.Value(paceTenantKey{}).(string)
	if !ok || tenantID == "" {
		return errors.New("worker: CAPacer.Pace: no tenant in the context (only a policy flush may pace)")
	}
	return p.PaceTenant(ctx, tenantID)
}

// PaceTenant is Pace for an explicit tenant.
func (p *CAPacer) PaceTenant(ctx context.Context, tenantID string) error {
	for {
		res, err := p.limiter.Allow(ctx, "ca:"+tenantID, p.limit)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("worker: Conditional Access pacing of tenant %s: %w", tenantID, err)
		}
		if res.Allowed > 0 {
			return nil
		}
		wait := max(res.RetryAfter, time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// paceTenantKey is the context key of the tenant a policy flush paces.
type paceTenantKey struct{}

// withPaceTenant returns ctx carrying the tenant that Pace applies to.
func withPaceTenant(ctx context.Context, tenantID string) context.Context {
	return context.WithValue(ctx, paceTenantKey{}, tenantID)
}

// redisClient builds a go-redis client from an asynq connection option.
func redisClient(opt asynq.RedisConnOpt) (redis.UniversalClient, error) {
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("worker: %T does not make a go-redis v9 client", opt)
	}
	return c, nil
}
