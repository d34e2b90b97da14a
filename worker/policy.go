package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// PolicyFlusher applies a batch of policy requests of one tenant and
// policy kind to the tenant's managed Conditional Access policy
// (implemented by internal/actions, wired by cmd).
//
// Flush returns one outcome per request it decided; an error means the
// whole flush is to be tried again later (nothing is recorded, the items
// stay running). Flush is called with the tenant's lock held, so calls
// for one tenant and kind never overlap, on any number of workers. Its
// context carries the tenant for CAPacer.Pace, and the urgent budget lane
// when a request of the batch belongs to an urgent job.
type PolicyFlusher interface {
	Flush(ctx context.Context, dir remediation.FullDirectory, t *remediation.Tenant, kind remediation.PolicyKind,
		reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error)
}

// requestPolicy returns the Exec.RequestPolicy of one item attempt: it
// records the request (idempotent on job and seq) and schedules a flush
// of the tenant's kind. requested is set once a request was recorded, so
// that a Deferred result without one is recognised as a bug.
func (w *Worker) requestPolicy(tenant *remediation.Tenant, job *remediation.Job, item *remediation.Item, requested *bool) func(context.Context, remediation.PolicyRequest) error {
	return func(ctx context.Context, r remediation.PolicyRequest) error {
		if w.flusher == nil {
			return remediation.Errorf(remediation.ENOTIMPLEMENTED, "policy changes are not available in this worker")
		}
		if job.DryRun {
			return remediation.Errorf(remediation.EINVALID, "a dry-run job cannot change a policy")
		}
		r.TenantID, r.JobID, r.Seq, r.DryRun = tenant.ID, item.JobID, item.Seq, false
		r.CreatedAt = time.Time{} // the store's clock
		dctx, cancel := detached(ctx)
		defer cancel()
		if err := w.store.AddPolicyRequest(dctx, r); err != nil {
			if remediation.ErrorCode(err) == remediation.EINVALID {
				return err // an executor's malformed request: the item fails
			}
			return fmt.Errorf("worker: record policy request of item %d of job %s: %w", item.Seq, item.JobID, err)
		}
		*requested = true
		if err := w.queue.SchedulePolicyFlush(dctx, r.TenantID, r.Kind); err != nil {
			return fmt.Errorf("worker: schedule policy flush of item %d of job %s: %w", item.Seq, item.JobID, err)
		}
		return nil
	}
}

// deferItem ends an attempt whose result is Deferred: the item stays
// running until a policy flush finishes it. What the result already knows
// (object id, prior state, detail) is recorded now.
func (w *Worker) deferItem(ctx context.Context, item *remediation.Item, res remediation.Result, requestID string, requested bool) error {
	if !requested {
		return w.finish(ctx, item, remediation.Result{Status: remediation.ItemFailed,
			Error: &remediation.ItemError{Code: remediation.EINTERNAL, Message: "internal error: deferred result without a policy request"}},
			requestID)
	}
	if res.ObjectID != "" || len(res.PriorState) > 0 || res.Detail != "" || requestID != "" {
		running := []remediation.ItemStatus{remediation.ItemRunning}
		if err := w.transition(ctx, remediation.Transition{
			JobID: item.JobID, Seq: item.Seq, From: running, To: remediation.ItemRunning,
			Detail: res.Detail, ObjectID: res.ObjectID, PriorState: res.PriorState, GraphRequestID: requestID,
		}); err != nil {
			return err
		}
	}
	w.log.DebugContext(ctx, "item waits for a policy flush", itemAttrs(item, remediation.ItemRunning)...)
	return nil
}
