package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DefaultStaleAfter is the default of Config.StaleAfter.
const DefaultStaleAfter = 5 * time.Minute

// The stale-item sweep reads stalePageSize items per store page and at
// most stalePagesPerPass pages per reconcile pass; its cursor carries over
// to the next pass (of any worker), so every stale item is reached however
// many there are, while one pass stays bounded.
const (
	stalePageSize     = 1000
	stalePagesPerPass = 10
	// staleLockName is the Redis lock of the sweep: one worker at a time
	// sweeps, so the Redis commands spent do not grow with the replicas.
	staleLockName = "reconcile:items"
	// staleSweepKey holds the sweep's progress (staleSweep, JSON), shared
	// by the workers; staleRestKey, while it exists, keeps a new sweep
	// from starting: a sweep that met stale items is followed by a rest of
	// StaleAfter, so that the items of a job that only waits its turn
	// (behind other jobs or its tenant's Graph budget) are checked once
	// per StaleAfter, not once per pass.
	staleSweepKey = "remediator:reconcile:items:sweep"
	staleRestKey  = "remediator:reconcile:items:rest"
)

// staleSweep is the progress of the stale-item sweep.
type staleSweep struct {
	JobID string `json:"job_id,omitempty"`
	Seq   int    `json:"seq,omitempty"`
	// Found counts the stale items met since the sweep began.
	Found int `json:"found,omitempty"`
}

// staleState is what the stale reconciler keeps between passes. Only the
// reconcile goroutine uses it.
type staleState struct {
	store remediation.StaleItemStore // nil: the store cannot find stale items
	after time.Duration
	// fanouts are the fan-out cursors seen, by job id, since when.
	fanouts map[string]fanoutMark
}

type fanoutMark struct {
	next  int
	since time.Time
}

func newStaleState(cfg Config) staleState {
	st, ok := cfg.Store.(remediation.StaleItemStore)
	if !ok {
		cmp.Or(cfg.Logger, slog.Default()).Warn("worker: the store cannot list stale items; lost item tasks are not re-enqueued")
	}
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
	if err := w.sweepStale(lctx); err != nil && lctx.Err() == nil {
		w.log.WarnContext(ctx, "reconcile: stale items", slog.Any("error", err))
	}
}

// sweepStale runs one pass of the sweep, holding its lock.
func (w *Worker) sweepStale(ctx context.Context) error {
	var sw staleSweep
	raw, err := w.rdb.Get(ctx, staleSweepKey).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return fmt.Errorf("read the sweep: %w", err)
	default:
		_ = json.Unmarshal(raw, &sw) // unreadable: start again
	}
	if sw.JobID == "" {
		n, err := w.rdb.Exists(ctx, staleRestKey).Result()
		if err != nil || n > 0 {
			return err
		}
		sw = staleSweep{}
	}
	olderThan := time.Now().Add(-w.stale.after)
	priorities := map[string]string{}
	for range stalePagesPerPass {
		items, next, err := w.stale.store.StaleItems(ctx, olderThan,
			remediation.StaleCursor{JobID: sw.JobID, Seq: sw.Seq}, stalePageSize)
		if err != nil {
			return fmt.Errorf("list stale items: %w", err)
		}
		if err := w.requeueItems(ctx, items, priorities); err != nil {
			return err // the sweep stays where it was: the next pass tries again
		}
		sw.JobID, sw.Seq, sw.Found = next.JobID, next.Seq, sw.Found+len(items)
		if next.IsZero() {
			if sw.Found > 0 {
				if err := w.rdb.Set(ctx, staleRestKey, sw.Found, w.stale.after).Err(); err != nil {
					return fmt.Errorf("start the rest of the sweep: %w", err)
				}
			}
			return w.rdb.Del(ctx, staleSweepKey).Err()
		}
		b, _ := json.Marshal(sw)
		if err := w.rdb.Set(ctx, staleSweepKey, b, 0).Err(); err != nil {
			return fmt.Errorf("save the sweep: %w", err)
		}
	}
	return nil
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
