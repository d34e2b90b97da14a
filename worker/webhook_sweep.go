package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// webhookSweepBatch bounds the deliveries one store read returns.
const webhookSweepBatch = 500

// webhookSweepMaxBatches bounds the reads of one sweep pass.
const webhookSweepMaxBatches = 20

// startWebhookSweep starts the webhook sweep (when webhooks are on) until
// ctx ends, and returns a function that waits for it to stop.
func (w *Worker) startWebhookSweep(ctx context.Context) (wait func()) {
	if w.hooks == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.hooks.sweep)
		defer t.Stop()
		for {
			w.sweepWebhooks(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { <-done }
}

// sweepWebhooks hands the pending deliveries that are due to the queue: a
// webhook task each (TaskID "webhook:<id>", so a delivery whose task
// exists is not queued twice), then leaves them alone for the lease. A
// delivery whose task got lost (Redis data loss) is queued again when its
// lease ends. Safe on any number of replicas at any time.
func (w *Worker) sweepWebhooks(ctx context.Context) {
	h := w.hooks
	for range webhookSweepMaxBatches {
		list, err := h.store.PendingDeliveries(ctx, webhookSweepBatch)
		if err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "webhook sweep: list pending deliveries", slog.Any("error", err))
			}
			return
		}
		for _, d := range list {
			if err := w.queue.EnqueueWebhook(ctx, d.ID, h.maxRetry); err != nil {
				if ctx.Err() == nil {
					w.log.WarnContext(ctx, "webhook sweep: enqueue delivery", slog.String("delivery_id", d.ID),
						slog.Any("error", err))
				}
				return
			}
			err := h.store.DeferDelivery(ctx, d.ID, h.now().Add(h.lease))
			if err != nil && remediation.ErrorCode(err) != remediation.ENOTFOUND {
				if ctx.Err() == nil {
					w.log.WarnContext(ctx, "webhook sweep: defer delivery", slog.String("delivery_id", d.ID),
						slog.Any("error", err))
				}
				return
			}
		}
		if len(list) < webhookSweepBatch {
			return
		}
	}
}
