package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

// nonTerminal are the statuses an item task may pick up.
var nonTerminal = []remediation.ItemStatus{remediation.ItemPending, remediation.ItemRetrying, remediation.ItemRunning}

// handleItem runs one item. It is idempotent: a terminal item is left
// alone, and a re-run after a crash finds the item running and runs the
// (idempotent) executor again. Its Graph calls run in the budget lane of
// the job's priority; a bulk item of a tenant paused after a Graph 429
// gives its worker back before it starts (see pauseProbe).
func (w *Worker) handleItem(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseItem(t)
	if err != nil {
		return err
	}
	job, err := w.cachedJob(ctx, p.JobID)
	if remediation.ErrorCode(err) == remediation.ENOTFOUND {
		w.log.WarnContext(ctx, "item task of an unknown job", slog.String("job_id", p.JobID), slog.Int("seq", p.Seq))
		return nil
	}
	if err != nil {
		return fmt.Errorf("worker: load job %s: %w", p.JobID, err)
	}
	// Until the item is read (by its transition to running, below), the
	// item is known by its key only.
	item := &remediation.Item{JobID: p.JobID, Seq: p.Seq, TenantID: job.TenantID, Action: job.Action}
	if job.Status == remediation.JobCompleted || job.Status == remediation.JobCanceled {
		return nil // every item is terminal: a leftover task of a canceled job, say
	}
	tenant, err := w.cachedTenant(ctx, job.TenantID)
	if remediation.ErrorCode(err) == remediation.ENOTFOUND {
		return w.finishPermanent(ctx, item, nonTerminal, verdict{kind: kindPermanent,
			itemErr: &remediation.ItemError{Code: remediation.ENOTFOUND, Message: msgTenantAbsent}}, nil)
	}
	if err != nil {
		return fmt.Errorf("worker: load tenant of job %s: %w", p.JobID, err)
	}
	exec, ok := w.executors[job.Action]
	if !ok {
		return w.finishPermanent(ctx, item, nonTerminal, verdict{kind: kindPermanent,
			itemErr: &remediation.ItemError{Code: remediation.ENOTIMPLEMENTED,
				Message: fmt.Sprintf("action %s is not available in this build", job.Action)}}, nil)
	}
	lane := laneOf(job.Priority)
	ctx = budget.WithLane(ctx, lane)
	// (An item of a job being canceled does not wait for the pause: its
	// start is refused below, or, running, it meters its own calls.)
	if lane == budget.Bulk && !job.CancelRequested {
		if we := w.pauseProbe(ctx, tenant); we != nil {
			return w.bounceItem(ctx, tenant, job, item, we, false)
		}
	}

	// The transition to running reads the item: one that is terminal
	// (a task delivered twice, a job canceled meanwhile) is left alone.
	// Once the job's cancel is requested, the store turns the start of a
	// pending or retrying item into its cancel (not applied here); a
	// running item (re-run after a crash) goes on: running items finish.
	item, applied, err := w.store.TransitionItem(ctx, remediation.Transition{
		JobID: p.JobID, Seq: p.Seq, From: nonTerminal, To: remediation.ItemRunning, CountAttempt: true,
		Urgent: lane == budget.Urgent,
	})
	if remediation.ErrorCode(err) == remediation.ENOTFOUND {
		w.log.WarnContext(ctx, "item task for an unknown item", slog.String("job_id", p.JobID), slog.Int("seq", p.Seq))
		return nil
	}
	if err != nil {
		return fmt.Errorf("worker: start item %d of job %s: %w", p.Seq, p.JobID, err)
	}
	if !applied {
		return nil // terminal
	}

	if ru, writes := itemCost(job); w.gate != nil && (ru > 0 || writes > 0) {
		// One budget take for the item's calls (see budget.Prepaid).
		var prepaid *budget.Prepaid
		ctx, prepaid = budget.WithPrepaid(ctx, budget.Cost{RU: ru, Writes: writes})
		defer func() {
			dctx, cancel := detached(ctx)
			defer cancel()
			prepaid.Release(dctx)
		}()
	}
	calls := &remediation.CallLog{}
	var requested bool
	res, execErr := w.execute(remediation.WithCallLog(ctx, calls), exec, tenant, job, item, &requested)
	// The attempt's Graph calls go into the history with the transition
	// that records its result (one transaction), or on their own when
	// none applies.
	pc := &pendingCalls{calls: calls.Calls()}
	ctx = context.WithValue(ctx, pendingCallsKey{}, pc)
	defer func() {
		if !pc.taken {
			w.appendCalls(ctx, item, pc.calls)
		}
	}()
	if execErr != nil {
		if ctx.Err() != nil {
			// Shutdown or task time-out: asynq re-runs the task without
			// counting a retry; the item stays running until then.
			return fmt.Errorf("worker: item %d of job %s interrupted: %w", item.Seq, item.JobID, execErr)
		}
		return w.handleError(ctx, tenant, job, item, execErr, lastRequestID(calls.Calls()))
	}
	if res.Deferred {
		return w.deferItem(ctx, item, res, lastRequestID(calls.Calls()), requested)
	}
	return w.finish(ctx, item, res, lastRequestID(calls.Calls()))
}

// execute builds the Exec of an item and runs the executor, turning a
// panic into a permanent internal error. requested reports whether the
// executor recorded a policy request.
func (w *Worker) execute(ctx context.Context, exec remediation.Executor, tenant *remediation.Tenant, job *remediation.Job, item *remediation.Item, requested *bool) (res remediation.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.ErrorContext(ctx, "executor panicked", slog.String("action", string(job.Action)),
				slog.String("job_id", job.ID), slog.Int("seq", item.Seq), slog.Any("panic", r))
			err = &panicError{action: job.Action, value: r}
		}
	}()
	dir, err := w.dirs.For(ctx, tenant)
	if err != nil {
		return remediation.Result{}, fmt.Errorf("worker: directory of tenant %s: %w", tenant.ID, err)
	}
	x := &remediation.Exec{
		Dir: dir, Tenant: tenant, Job: job, Item: item,
		Shared: func(ctx context.Context, key string, read func(context.Context) (any, error)) (any, error) {
			return w.shared.do(ctx, tenant.ID+"\x00"+key, read)
		},
		SavePriorState: func(ctx context.Context, prior json.RawMessage) error {
			dctx, cancel := detached(ctx)
			defer cancel()
			_, applied, err := w.store.TransitionItem(dctx, remediation.Transition{
				JobID: item.JobID, Seq: item.Seq,
				From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemRunning,
				PriorState: prior, Urgent: budget.LaneFrom(ctx) == budget.Urgent,
			})
			if err != nil {
				return fmt.Errorf("worker: save prior state of item %d of job %s: %w", item.Seq, item.JobID, err)
			}
			if !applied {
				return fmt.Errorf("worker: item %d of job %s is no longer running", item.Seq, item.JobID)
			}
			return nil
		},
		RequestPolicy: w.requestPolicy(tenant, job, item, requested),
	}
	return exec.Execute(ctx, x)
}

// finish records an executor's result as the item's terminal status.
func (w *Worker) finish(ctx context.Context, item *remediation.Item, res remediation.Result, requestID string) error {
	tr := resultTransition(item, res, requestID)
	if tr.To != res.Status {
		w.log.ErrorContext(ctx, "executor returned an invalid status", slog.String("status", string(res.Status)),
			slog.String("action", string(item.Action)))
	}
	if err := w.transition(ctx, tr); err != nil {
		return err
	}
	w.log.DebugContext(ctx, "item finished", itemAttrs(item, tr.To)...)
	return nil
}

// resultTransition is the transition of a running item to a result's
// terminal status; a result that is not succeeded, skipped or failed
// becomes an internal failure.
func resultTransition(item *remediation.Item, res remediation.Result, requestID string) remediation.Transition {
	switch res.Status {
	case remediation.ItemSucceeded, remediation.ItemSkipped, remediation.ItemFailed:
	default:
		res = remediation.Result{Status: remediation.ItemFailed,
			Error: &remediation.ItemError{Code: remediation.EINTERNAL, Message: "internal error: invalid result"}}
	}
	return remediation.Transition{
		JobID: item.JobID, Seq: item.Seq, From: []remediation.ItemStatus{remediation.ItemRunning}, To: res.Status,
		Detail: res.Detail, Error: res.Error, ClearError: res.Error == nil, GraphRequestID: requestID,
		ObjectID: res.ObjectID, PriorState: res.PriorState, Results: res.Results,
	}
}

// handleError applies the classification of an executor's error.
func (w *Worker) handleError(ctx context.Context, tenant *remediation.Tenant, job *remediation.Job, item *remediation.Item, err error, requestID string) error {
	v := classify(err)
	if v.requestID == "" {
		v.requestID = requestID
	}
	running := []remediation.ItemStatus{remediation.ItemRunning}
	switch v.kind {
	case kindPermanent:
		return w.finishPermanent(ctx, item, running, v, err)
	case kindBudget:
		var we *budget.WaitError
		errors.As(err, &we)
		return w.bounceItem(ctx, tenant, job, item, we, true)
	case kindRetryable:
		n, _ := asynq.GetRetryCount(ctx)
		budget := w.retryBudget(ctx)
		if n >= budget {
			v.itemErr.Message = "retries exhausted: " + v.itemErr.Message
			return w.finishPermanent(ctx, item, running, v, err)
		}
		delay := w.backoff.retryDelay(time.Now(), n, v.retryAfter)
		if v.retryAfter > 0 {
			// Graph throttled the tenant (the wrapper paused it): the
			// items it refused come back one by one, not all when the
			// pause ends.
			delay = w.spreadDelay(ctx, tenant, job, delay)
		}
		tr := remediation.Transition{
			JobID: item.JobID, Seq: item.Seq, From: running, To: remediation.ItemRetrying,
			Error: v.itemErr, GraphRequestID: v.requestID,
		}
		if err := w.transition(ctx, tr); err != nil {
			return err
		}
		w.log.DebugContext(ctx, "item will retry", append(itemAttrs(item, remediation.ItemRetrying),
			slog.Int("retry", n+1), slog.Int("budget", budget), slog.Duration("delay", delay))...)
		return &retryError{err: err, delay: delay}
	}
	return fmt.Errorf("worker: item %d of job %s: %w", item.Seq, item.JobID, err)
}

// finishPermanent fails an item for good and stops the task's retries.
func (w *Worker) finishPermanent(ctx context.Context, item *remediation.Item, from []remediation.ItemStatus, v verdict, cause error) error {
	tr := remediation.Transition{
		JobID: item.JobID, Seq: item.Seq, From: from, To: remediation.ItemFailed,
		Error: v.itemErr, GraphRequestID: v.requestID,
	}
	if err := w.transition(ctx, tr); err != nil {
		return err
	}
	w.log.DebugContext(ctx, "item failed", append(itemAttrs(item, remediation.ItemFailed),
		slog.String("code", v.itemErr.Code), slog.String("message", v.itemErr.Message))...)
	if cause == nil {
		cause = errors.New(v.itemErr.Message)
	}
	return fmt.Errorf("worker: item %d of job %s failed: %w (%w)", item.Seq, item.JobID, cause, asynq.SkipRetry)
}

// transition applies tr, surviving the task's deadline. A transition that
// does not apply (the item changed meanwhile) is not an error.
//
// The first transition of an item attempt carries the attempt's Graph
// calls (see pendingCalls).
func (w *Worker) transition(ctx context.Context, tr remediation.Transition) error {
	dctx, cancel := detached(ctx)
	defer cancel()
	pc, _ := ctx.Value(pendingCallsKey{}).(*pendingCalls)
	attached := pc != nil && !pc.taken && len(tr.Calls) == 0 && len(pc.calls) > 0
	if attached {
		tr.Calls = pc.calls
	}
	// Items of small jobs keep out of the bulk writes' transactions.
	tr.Urgent = tr.Urgent || budget.LaneFrom(ctx) == budget.Urgent
	_, applied, err := w.store.TransitionItem(dctx, tr)
	if err != nil {
		return fmt.Errorf("worker: set item %d of job %s %s: %w", tr.Seq, tr.JobID, tr.To, err)
	}
	if attached && applied {
		pc.taken = true
	}
	return nil
}

// pendingCalls are the Graph calls of an item attempt not yet recorded.
type pendingCalls struct {
	calls []remediation.Call
	taken bool
}

type pendingCallsKey struct{}

// appendCalls records an attempt's Graph calls. A failure is logged, not
// returned: the outcome matters more than its call log, and returning
// would run the item's Graph calls again.
func (w *Worker) appendCalls(ctx context.Context, item *remediation.Item, calls []remediation.Call) {
	if len(calls) == 0 {
		return
	}
	for i := range calls {
		if calls[i].Attempt == 0 {
			calls[i].Attempt = item.Attempts
		}
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := w.store.AppendCalls(dctx, item.JobID, item.Seq, calls); err != nil {
		w.log.WarnContext(ctx, "could not record Graph calls", append(itemAttrs(item, item.Status), slog.Any("error", err))...)
	}
}

// retryBudget is the number of Graph retries an item gets: what its task
// was enqueued with, lowered by Config.MaxRetry.
func (w *Worker) retryBudget(ctx context.Context) int {
	budget := w.maxRetry
	if m, ok := asynq.GetMaxRetry(ctx); ok {
		if b := queue.RetryBudget(m); budget <= 0 || b < budget {
			budget = b
		}
	}
	return max(budget, 0)
}

// lastRequestID returns the request-id of the last call that has one.
func lastRequestID(calls []remediation.Call) string {
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].RequestID != "" {
			return calls[i].RequestID
		}
	}
	return ""
}

func itemAttrs(item *remediation.Item, status remediation.ItemStatus) []any {
	return []any{slog.String("job_id", item.JobID), slog.Int("seq", item.Seq),
		slog.String("action", string(item.Action)), slog.String("status", string(status)),
		slog.Int("attempts", item.Attempts)}
}
