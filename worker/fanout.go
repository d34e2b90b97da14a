package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/tracing"
)

// handleFanout enqueues one item task per non-terminal item of a job, a
// page at a time, and advances the job's fan-out cursor after each page:
// a crash resumes at the cursor, and a repeated fan-out enqueues nothing
// twice (TaskIDs dedup what is queued, the cursor what was done).
//
// With a Gate, the item tasks of a bulk job are scheduled (ProcessAt) on
// the tenant's bulk schedule at the pace its Graph budget allows for the
// job's action (itemStarts), a page at a time: each task becomes ready
// about when its budget exists, and waits at most once in the worker.
// Urgent jobs' items are enqueued at once on the urgent queue.
//
// Once a cancel is requested, the fan-out enqueues nothing more and
// cancels the job's items that have not started instead (cancelPending).
func (w *Worker) handleFanout(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseFanout(t)
	if err != nil {
		return err
	}
	// The item tasks continue this task's trace: EnqueueItemsAt puts the
	// span of ctx (this task's, traceTask) in their payloads. Without one
	// (no tracing middleware), the fan-out's own traceparent is passed on.
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = tracing.Extract(ctx, p.Trace)
	}
	var tenant *remediation.Tenant // loaded once, when items are paced
	for {
		job, err := w.store.GetJob(ctx, p.JobID)
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			w.log.WarnContext(ctx, "fan-out of an unknown job", slog.String("job_id", p.JobID))
			return nil
		}
		if err != nil {
			return fmt.Errorf("worker: fan-out: load job %s: %w", p.JobID, err)
		}
		if job.Status == remediation.JobCompleted || job.Status == remediation.JobCanceled {
			return nil
		}
		if job.CancelRequested {
			return w.cancelPending(ctx, job)
		}
		if job.FanoutNext >= job.Total {
			return nil
		}
		items, err := w.store.ItemsFrom(ctx, job.ID, job.FanoutNext, w.fanoutPage)
		if err != nil {
			return fmt.Errorf("worker: fan-out: items of job %s from %d: %w", job.ID, job.FanoutNext, err)
		}
		next := job.Total
		if len(items) > 0 {
			next = items[len(items)-1].Seq + 1
		}
		seqs := make([]int, 0, len(items))
		for _, it := range items {
			if !it.Status.Terminal() {
				seqs = append(seqs, it.Seq)
			}
		}
		priority := job.Priority
		if priority == "" {
			priority = p.Priority
		}
		job.Priority = priority
		if tenant == nil && w.gate != nil && laneOf(priority) == budget.Bulk && len(seqs) > 0 {
			tenant, err = w.store.GetTenant(ctx, job.TenantID)
			if err != nil && remediation.ErrorCode(err) != remediation.ENOTFOUND {
				return fmt.Errorf("worker: fan-out: load tenant of job %s: %w", job.ID, err)
			}
		}
		at, err := w.itemStarts(ctx, tenant, job, len(seqs))
		if err != nil {
			return err
		}
		if err := w.queue.EnqueueItemsAt(ctx, job.ID, seqs, priority, at); err != nil {
			return fmt.Errorf("worker: fan-out of job %s: %w", job.ID, err)
		}
		if err := w.store.AdvanceFanout(ctx, job.ID, next); err != nil {
			return fmt.Errorf("worker: fan-out: advance job %s to %d: %w", job.ID, next, err)
		}
		w.log.DebugContext(ctx, "fan-out page enqueued", slog.String("job_id", job.ID),
			slog.Int("enqueued", len(seqs)), slog.Int("next", next), slog.Int("total", job.Total))
	}
}

// cancelPending cancels the pending and retrying items of a job whose
// cancel was requested, a window of seqs per transaction
// (remediation.CancelWindow), until none is left. A crash or a retry
// starts again from the first seq: windows already canceled change
// nothing.
func (w *Worker) cancelPending(ctx context.Context, job *remediation.Job) error {
	for from := 0; from < job.Total && notStarted(job) > 0; from += remediation.CancelWindow {
		j, err := w.store.CancelPending(ctx, job.ID, from)
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return nil
		}
		if err != nil {
			return fmt.Errorf("worker: cancel items of job %s from %d: %w", job.ID, from, err)
		}
		job = j
	}
	w.log.DebugContext(ctx, "canceled items not started", slog.String("job_id", job.ID), slog.Int("canceled", job.Counts[remediation.ItemCanceled]))
	return nil
}

// notStarted is the number of a job's items that have not started: pending or
// retrying.
func notStarted(job *remediation.Job) int {
	return job.Counts[remediation.ItemPending] + job.Counts[remediation.ItemRetrying]
}
