package worker

import (
	"context"
	"log/slog"
	"time"
)

// reconcileBatch bounds the jobs one reconcile pass starts.
const reconcileBatch = 500

// reconcile starts the fan-out of every job whose fan-out is not finished,
// and a flush of policy requests left pending, now and then every interval
// until ctx ends. Both enqueues are idempotent (TaskIDs), so this is safe
// on any number of replicas at any time.
func (w *Worker) reconcile(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.reconcileOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcileOnce runs one reconcile pass.
func (w *Worker) reconcileOnce(ctx context.Context) {
	w.reconcileFanouts(ctx)
	w.reconcileFlushes(ctx)
	w.reconcileStale(ctx) // stalled fan-outs, lost item tasks (reconcile_items.go)
}

// fanoutGrace is how long the reconciler leaves a new job's fan-out to the
// API that accepted it, which enqueues it right after the job is stored:
// started here first, the fan-out would lose the request's trace.
const fanoutGrace = 2 * time.Second

// reconcileFanouts starts the fan-out of jobs whose fan-out is unfinished
// (and that are older than fanoutGrace).
func (w *Worker) reconcileFanouts(ctx context.Context) {
	ids, err := w.store.JobsNeedingFanout(ctx, reconcileBatch)
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "reconcile: list jobs needing fan-out", slog.Any("error", err))
		}
		return
	}
	for _, id := range ids {
		priority := ""
		if job, err := w.store.GetJob(ctx, id); err == nil {
			if time.Since(job.CreatedAt) < fanoutGrace {
				continue // the API is enqueueing it (with the request's trace)
			}
			priority = job.Priority
		}
		if err := w.queue.StartFanout(ctx, id, priority); err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "reconcile: start fan-out", slog.String("job_id", id), slog.Any("error", err))
			}
			return
		}
	}
}

// reconcileFlushes enqueues a recovery flush for every tenant and kind
// with policy requests pending for longer than PolicyRequestMaxAge: their
// flush task was lost, or is waiting for a retry (the recovery task then
// waits for the flush lock). One recovery task per tenant and kind exists
// at a time (queue.RecoveryFlushTaskID).
func (w *Worker) reconcileFlushes(ctx context.Context) {
	reqs, err := w.store.PolicyRequestTenants(ctx, time.Now().Add(-w.policyMaxAge))
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "reconcile: list pending policy requests", slog.Any("error", err))
		}
		return
	}
	for _, r := range reqs {
		if err := w.queue.RecoverPolicyFlush(ctx, r.TenantID, r.Kind); err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "reconcile: start policy flush", slog.String("tenant_id", r.TenantID),
					slog.String("kind", string(r.Kind)), slog.Any("error", err))
			}
			return
		}
	}
}
