package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/entraremediator/remediator/internal/remediation"
)

// readCacheTTL is how long an item task may use a job or tenant another
// task of the same worker read. A bulk job's items all read the same two
// rows; at hundreds of items per second that is a good share of the
// store's reads and of the machine's CPU.
//
// The fields items use of a job do not change (its action, tenant,
// priority and parameters), and a cancel is applied to the items
// themselves (history.CancelJob). A tenant does change (a protected
// identity added, credentials rotated): every committed change is
// published on queue.TenantChannel (history.Store.TenantChanged) and drops
// the cached copy in every worker at once, so the next item reads the
// change. The TTL only bounds staleness when a notice is lost (Redis
// Pub/Sub keeps nothing for a worker that is disconnected, and the cache
// is then emptied as the subscription comes back).
const readCacheTTL = time.Second

// jobCache holds recently read jobs. Values are shared between tasks and
// must not be modified.
type jobCache = expirable.LRU[string, *remediation.Job]

func newJobCache(ttl time.Duration) *jobCache {
	return expirable.NewLRU[string, *remediation.Job](4096, nil, ttl)
}

// tenantCache holds recently read tenants (see readCacheTTL). Values are
// shared between tasks and must not be modified.
type tenantCache struct {
	lru *expirable.LRU[string, *remediation.Tenant]
	// gen counts drops: a read that began before a drop is not cached
	// (it may hold the tenant as it was before the change).
	gen atomic.Uint64
}

func newTenantCache(ttl time.Duration) *tenantCache {
	return &tenantCache{lru: expirable.NewLRU[string, *remediation.Tenant](4096, nil, ttl)}
}

// drop forgets tenant id.
func (c *tenantCache) drop(id string) {
	c.gen.Add(1)
	c.lru.Remove(id)
}

// dropAll forgets every tenant.
func (c *tenantCache) dropAll() {
	c.gen.Add(1)
	c.lru.Purge()
}

// cachedTenant returns tenant id, from the cache when it was read within
// the TTL and no change of it was announced since.
func (w *Worker) cachedTenant(ctx context.Context, id string) (*remediation.Tenant, error) {
	if t, ok := w.tenants.lru.Get(id); ok {
		return t, nil
	}
	gen := w.tenants.gen.Load()
	t, err := w.store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if w.tenants.gen.Load() == gen {
		w.tenants.lru.Add(id, t)
	}
	return t, nil
}

// cachedJob returns the job id, from the cache when it was read within the TTL.
func (w *Worker) cachedJob(ctx context.Context, id string) (*remediation.Job, error) {
	if j, ok := w.jobs.Get(id); ok {
		return j, nil
	}
	j, err := w.store.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	w.jobs.Add(id, j)
	return j, nil
}
