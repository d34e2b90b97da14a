package worker

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/entraremediator/remediator/internal/remediation"
)

// readCacheTTL is how long an item task may use a job another task of the
// same worker read. A bulk job's items all read the same row; at hundreds
// of items per second that is a good share of the store's reads. The
// fields items use do not change (a job's action, tenant, priority and
// parameters), and a cancel is applied to the items themselves
// (history.CancelJob). Tenants are not cached: a change of settings (a
// protected identity, say) must hold for the very next item.
const readCacheTTL = time.Second

// jobCache holds recently read jobs. Values are shared between tasks and
// must not be modified.
type jobCache = expirable.LRU[string, *remediation.Job]

func newJobCache(ttl time.Duration) *jobCache {
	return expirable.NewLRU[string, *remediation.Job](4096, nil, ttl)
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
