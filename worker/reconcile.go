package worker

import (
	"context"
	"log/slog"
	"time"
)

// reconcileBatch bounds the jobs one reconcile pass starts.
const reconcileBatch = 500

// reconcile starts the fan-out of every job whose fan-out is not finished,
// now and then every interval until ctx ends. StartFanout is idempotent
// (TaskID), so this is safe on any number of replicas at any time.
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
