package worker

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DefaultStaleAfter is the default of Config.StaleAfter.
const DefaultStaleAfter = 5 * time.Minute

// The stale-item sweep reads stalePageSize items per store page and at
// most stalePagesPerPass pages per reconcile pass; its cursor carries over
// to the next pass, so every stale item is reached however many there are,
// while one pass stays bounded.
const (
	stalePageSize     = 1000
	stalePagesPerPass = 10
	// staleLockName is the Redis lock of the sweep: one worker at a time
	// sweeps, so the Redis commands spent do not grow with the replicas.
	staleLockName = "reconcile:items"
)

// staleState is what the stale reconciler keeps between passes. Only the
// reconcile goroutine uses it.
type staleState struct {
	store remediation.StaleItemStore // nil: the store cannot find stale items
	after time.Duration
	// cursor is where the item sweep goes on (zero: from the start).
	cursor remediation.StaleCursor
	// fanouts are the fan-out cursors seen, by job id, since when.
	fanouts map[string]fanoutMark
}

type fanoutMark struct {
	next  int
	since time.Time
}

func newStaleState(cfg Config) staleState {
	st, _ := cfg.Store.(remediation.StaleItemStore)
	return staleState{store: st, after: cmp.Or(cfg.StaleAfter, DefaultStaleAfter), fanouts: map[string]fanoutMark{}}
}

// reconcileStale resumes stalled fan-outs and enqueues again the tasks of
// stale items. Like the rest of the reconciler it is safe on any number of
// workers at any time: every enqueue is deduplicated by its TaskID, and
// item handlers are idempotent.
func (w *Worker) reconcileStale(ctx context.Context) {
	w.resumeStalledFanouts(ctx)
	w.requeueStaleItems(ctx)
}

// resumeStalledFanouts enqueues a resume fan-out task for every job whose
// fan-out cursor this worker saw standing still for StaleAfter: its
// fan-out task exists (reconcileFanouts could not start another) but does
// not run, typically held by a worker that was killed, which asynq hands
// back only after a minute or two.
func (w *Worker) resumeStalledFanouts(ctx context.Context) {
	ids, err := w.store.JobsNeedingFanout(ctx, reconcileBatch)
	if err != nil {
		return // reconcileFanouts has logged it
	}
	now := time.Now()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		job, err := w.store.GetJob(ctx, id)
		if err != nil {
			continue
		}
		seen[id] = true
		m, ok := w.stale.fanouts[id]
		if !ok || m.next != job.FanoutNext {
			w.stale.fanouts[id] = fanoutMark{next: job.FanoutNext, since: now}
			continue
		}
		if now.Sub(m.since) < w.stale.after {
			continue
		}
		if err := w.queue.ResumeFanout(ctx, id, job.Priority, job.FanoutNext); err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "reconcile: resume fan-out", slog.String("job_id", id), slog.Any("error", err))
			}
			return
		}
		w.log.InfoContext(ctx, "reconcile: fan-out stalled; resumed", slog.String("job_id", id),
			slog.Int("next", job.FanoutNext), slog.Int("total", job.Total), slog.Duration("stalled", now.Sub(m.since)))
		w.stale.fanouts[id] = fanoutMark{next: job.FanoutNext, since: now}
	}
	for id := range w.stale.fanouts {
		if !seen[id] {
			delete(w.stale.fanouts, id)
		}
	}
}

// requeueStaleItems sweeps the stale items (see
// remediation.StaleItemStore) a bounded number of pages per pass, under a
// Redis lock, and enqueues their tasks again. A task that still exists is
// left alone (TaskID); a lost one is created, and its item runs again: a
// pending or retrying item as usual, a running one is re-run, which the
// idempotent executors make safe.
func (w *Worker) requeueStaleItems(ctx context.Context) {
	if w.stale.store == nil {
		return
	}
	l, lctx, err := acquireLock(ctx, w.rdb, staleLockName, w.lockTTL)
	if errors.Is(err, errLockHeld) {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "reconcile: stale items", slog.Any("error", err))
		}
		return
	}
	defer func() {
		if err := l.release(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "reconcile: release stale items lock", slog.Any("error", err))
		}
	}()
	olderThan := time.Now().Add(-w.stale.after)
	priorities := map[string]string{}
	for range stalePagesPerPass {
		items, next, err := w.stale.store.StaleItems(lctx, olderThan, w.stale.cursor, stalePageSize)
		if err != nil {
			if lctx.Err() == nil {
				w.log.WarnContext(ctx, "reconcile: list stale items", slog.Any("error", err))
			}
			return
		}
		if err := w.requeueItems(lctx, items, priorities); err != nil {
			if lctx.Err() == nil {
				w.log.WarnContext(ctx, "reconcile: enqueue stale items", slog.Any("error", err))
			}
			return // the cursor stays: the next pass tries the page again
		}
		w.stale.cursor = next
		if next.IsZero() {
			return
		}
	}
}

// requeueItems enqueues the tasks of items (in job order) job by job.
// priorities caches job priorities for the pass.
func (w *Worker) requeueItems(ctx context.Context, items []*remediation.Item, priorities map[string]string) error {
	for start := 0; start < len(items); {
		jobID := items[start].JobID
		end := start
		seqs := []int{}
		for ; end < len(items) && items[end].JobID == jobID; end++ {
			seqs = append(seqs, items[end].Seq)
		}
		start = end
		priority, ok := priorities[jobID]
		if !ok {
			job, err := w.store.GetJob(ctx, jobID)
			if remediation.ErrorCode(err) == remediation.ENOTFOUND {
				continue
			}
			if err != nil {
				return err
			}
			priority = job.Priority
			priorities[jobID] = priority
		}
		created, err := w.queue.RequeueItems(ctx, jobID, seqs, priority)
		if err != nil {
			return err
		}
		attrs := []any{slog.String("job_id", jobID), slog.Int("stale", len(seqs)), slog.Int("requeued", created)}
		if created > 0 {
			w.log.InfoContext(ctx, "reconcile: enqueued lost item tasks again", attrs...)
		} else {
			w.log.DebugContext(ctx, "reconcile: stale items still have their tasks", attrs...)
		}
	}
	return nil
}
