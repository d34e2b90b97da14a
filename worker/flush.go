package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

// Defaults of the policy flush settings of Config.
const (
	DefaultPolicyBatchSize     = 5000
	DefaultPolicyLockTTL       = 30 * time.Second
	DefaultPolicyRequestMaxAge = 30 * time.Second
	DefaultPolicyFlushBudget   = 2 * time.Minute
)

// lockHeldDelay is the base delay before a flush task that found its lock
// held runs again (jittered up to twice that; not counted as a retry).
const lockHeldDelay = time.Second

// busyError is returned by a flush task whose lock another flush holds:
// asynq runs it again after delay without counting a failure.
type busyError struct {
	key   string
	delay time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("policy flush %s is running elsewhere; again in %s", e.key, e.delay)
}

// reqKey identifies a policy request (and its item).
type reqKey struct {
	jobID string
	seq   int
}

func keyOf(r remediation.PolicyRequest) reqKey { return reqKey{r.JobID, r.Seq} }

// handlePolicyFlush applies the pending policy requests of one tenant and
// kind, a batch at a time, under the (tenant, kind) lock. Each batch's
// items become terminal with the flusher's outcomes and its requests are
// deleted. A flusher error leaves the items running and the requests
// pending: a retryable one retries the task with backoff (counted against
// its retry budget, after which the batch's items fail), a permanent one
// fails the batch's items.
func (w *Worker) handlePolicyFlush(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParsePolicyFlush(t)
	if err != nil {
		return err
	}
	name := "policy:" + p.TenantID + ":" + string(p.Kind)
	l, lctx, err := acquireLock(ctx, w.rdb, name, w.lockTTL)
	if errors.Is(err, errLockHeld) {
		return &busyError{key: name, delay: lockHeldDelay + rand.N(lockHeldDelay)}
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := l.release(ctx); err != nil {
			w.log.WarnContext(ctx, "policy flush: release lock", slog.Any("error", err))
		}
	}()

	deadline := time.Now().Add(w.flushBudget)
	for {
		progress, more, err := w.flushBatch(lctx, p)
		if err != nil {
			if lctx.Err() != nil && !isRetry(err) {
				return fmt.Errorf("worker: policy flush %s interrupted: %w", name, err)
			}
			return err
		}
		if !more {
			return nil
		}
		if !progress {
			w.log.WarnContext(ctx, "policy flush made no progress; the reconciler will try again",
				slog.String("tenant_id", p.TenantID), slog.String("kind", string(p.Kind)))
			return nil
		}
		if time.Now().After(deadline) {
			if err := w.queue.ContinuePolicyFlush(ctx, p.TenantID, p.Kind); err != nil {
				return err
			}
			return nil
		}
	}
}

// groupBatchSize bounds a batch of a tenant with mfa_targeting=group:
// users are added to the group 20 per write (about 20 writes per second
// under Graph's quota), and a batch's items finish together, so a batch
// of thousands would show no progress for many seconds. 400 users are
// about 20 writes: a second of the quota for one Conditional Access read.
const groupBatchSize = 400

// flushBatch handles one batch of pending requests. progress reports
// whether a request was finished; more whether requests may be left.
func (w *Worker) flushBatch(ctx context.Context, p queue.PolicyFlushPayload) (progress, more bool, err error) {
	tenant, terr := w.store.GetTenant(ctx, p.TenantID)
	if terr != nil && remediation.ErrorCode(terr) != remediation.ENOTFOUND {
		return false, false, fmt.Errorf("worker: load tenant %s: %w", p.TenantID, terr)
	}
	limit := w.policyBatch
	if terr == nil && tenant.Settings.WithDefaults().MFATargeting == remediation.MFATargetGroup {
		limit = min(limit, groupBatchSize)
	}
	reqs, err := w.store.PendingPolicyRequests(ctx, p.TenantID, p.Kind, limit)
	if err != nil {
		return false, false, fmt.Errorf("worker: pending policy requests of tenant %s: %w", p.TenantID, err)
	}
	if len(reqs) == 0 {
		return false, false, nil
	}
	live, items, done, urgent, err := w.liveRequests(ctx, reqs)
	if err != nil {
		return false, false, err
	}
	if err := w.deleteRequests(ctx, done); err != nil {
		return false, false, err
	}
	if len(live) == 0 {
		return len(done) > 0, true, nil
	}

	if terr != nil { // ENOTFOUND
		return w.failBatch(ctx, live, items, verdict{kind: kindPermanent,
			itemErr: &remediation.ItemError{Code: remediation.ENOTFOUND, Message: msgTenantAbsent}}, nil)
	}
	calls := &remediation.CallLog{}
	fctx := withPaceTenant(remediation.WithCallLog(ctx, calls), tenant.ID)
	if urgent {
		fctx = budget.WithLane(fctx, budget.Urgent)
	}
	outcomes, ferr := w.flush(fctx, tenant, p.Kind, live)
	requestID := lastRequestID(calls.Calls())
	if ferr != nil {
		if ctx.Err() != nil {
			return false, false, ferr
		}
		return w.flushFailed(ctx, live, items, ferr, requestID)
	}

	var finished []remediation.PolicyRequest
	for _, o := range outcomes {
		item, ok := items[keyOf(o.Request)]
		if !ok {
			continue // not a request of this batch
		}
		delete(items, keyOf(o.Request))
		if err := w.transition(ctx, resultTransition(item, o.Result, requestID)); err != nil {
			return false, false, err
		}
		w.appendCalls(ctx, item, calls.Calls())
		finished = append(finished, o.Request)
	}
	if len(items) > 0 {
		w.log.WarnContext(ctx, "policy flusher left requests without an outcome",
			slog.String("tenant_id", p.TenantID), slog.String("kind", string(p.Kind)), slog.Int("left", len(items)))
	}
	if err := w.deleteRequests(ctx, finished); err != nil {
		return false, false, err
	}
	w.log.DebugContext(ctx, "policy flush applied", slog.String("tenant_id", p.TenantID),
		slog.String("kind", string(p.Kind)), slog.Int("requests", len(finished)), slog.Int("dropped", len(done)))
	return len(done)+len(finished) > 0, true, nil
}

// flush runs the flusher on the tenant's full directory.
func (w *Worker) flush(ctx context.Context, tenant *remediation.Tenant, kind remediation.PolicyKind, reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
	if w.flusher == nil {
		return nil, remediation.Errorf(remediation.ENOTIMPLEMENTED, "policy changes are not available in this worker")
	}
	dir, err := w.dirs.For(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("worker: directory of tenant %s: %w", tenant.ID, err)
	}
	full, ok := dir.(remediation.FullDirectory)
	if !ok {
		return nil, remediation.Errorf(remediation.ENOTIMPLEMENTED, "the directory of tenant %s cannot change policies", tenant.ID)
	}
	return w.flusher.Flush(ctx, full, tenant, kind, reqs)
}

// liveRequests splits a batch: requests whose item is running in a job
// not being canceled (live, with their items), and requests to drop
// (done): their item is gone or no longer running, or its job is being
// canceled, in which case the item is canceled here, before any write.
// urgent reports a live request of an urgent job: the flush's Graph calls
// then run in the urgent budget lane.
func (w *Worker) liveRequests(ctx context.Context, reqs []remediation.PolicyRequest) (live []remediation.PolicyRequest, items map[reqKey]*remediation.Item, done []remediation.PolicyRequest, urgent bool, err error) {
	items = make(map[reqKey]*remediation.Item, len(reqs))
	jobs := map[string]*remediation.Job{}
	for _, r := range reqs {
		job, ok := jobs[r.JobID]
		if !ok {
			job, err = w.store.GetJob(ctx, r.JobID)
			if err != nil && remediation.ErrorCode(err) != remediation.ENOTFOUND {
				return nil, nil, nil, false, fmt.Errorf("worker: policy flush: load job %s: %w", r.JobID, err)
			}
			jobs[r.JobID] = job // nil when not found
		}
		if job == nil {
			done = append(done, r)
			continue
		}
		item, err := w.store.GetItemBySeq(ctx, r.JobID, r.Seq)
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			done = append(done, r)
			continue
		}
		if err != nil {
			return nil, nil, nil, false, fmt.Errorf("worker: policy flush: load item %d of job %s: %w", r.Seq, r.JobID, err)
		}
		if item.Status != remediation.ItemRunning {
			done = append(done, r)
			continue
		}
		if job.CancelRequested {
			if err := w.transition(ctx, remediation.Transition{JobID: item.JobID, Seq: item.Seq,
				From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemCanceled, Detail: "canceled"}); err != nil {
				return nil, nil, nil, false, err
			}
			done = append(done, r)
			continue
		}
		if _, dup := items[keyOf(r)]; dup {
			continue
		}
		items[keyOf(r)] = item
		live = append(live, r)
		urgent = urgent || laneOf(job.Priority) == budget.Urgent
	}
	return live, items, done, urgent, nil
}

// flushFailed applies the classification of a flusher error to a batch.
func (w *Worker) flushFailed(ctx context.Context, live []remediation.PolicyRequest, items map[reqKey]*remediation.Item, ferr error, requestID string) (progress, more bool, err error) {
	v := classify(ferr)
	if v.requestID == "" {
		v.requestID = requestID
	}
	switch v.kind {
	case kindPermanent:
		return w.failBatch(ctx, live, items, v, ferr)
	case kindBudget:
		// The budget refused a call before it reached Graph: the flush
		// runs again after the wait, not counted as a retry; the items
		// stay running and their requests pending.
		var we *budget.WaitError
		errors.As(ferr, &we)
		delay := ceilSecond(time.Now(), time.Now().Add(we.Delay))
		w.log.DebugContext(ctx, "policy flush waits for the Graph budget", slog.String("tenant_id", live[0].TenantID),
			slog.String("kind", string(live[0].Kind)), slog.String("budget", we.Budget), slog.Duration("delay", delay))
		return false, false, &bounceError{err: we, delay: delay}
	case kindRetryable:
		n, _ := asynq.GetRetryCount(ctx)
		if n >= w.retryBudget(ctx) {
			v.itemErr.Message = "retries exhausted: " + v.itemErr.Message
			progress, _, err := w.failBatch(ctx, live, items, v, ferr)
			// A new task (with its own budget) takes the requests left.
			if err == nil {
				err = w.queue.ContinuePolicyFlush(ctx, live[0].TenantID, live[0].Kind)
			}
			return progress, false, err
		}
		delay := w.backoff.retryDelay(time.Now(), n, v.retryAfter)
		w.log.InfoContext(ctx, "policy flush will retry", slog.String("tenant_id", live[0].TenantID),
			slog.String("kind", string(live[0].Kind)), slog.Int("requests", len(live)), slog.Int("retry", n+1),
			slog.Duration("delay", delay), slog.Any("error", ferr))
		return false, false, &retryError{err: ferr, delay: delay}
	}
	return false, false, fmt.Errorf("worker: policy flush of tenant %s: %w", live[0].TenantID, ferr)
}

// failBatch fails the items of a batch with one verdict and drops their
// requests.
func (w *Worker) failBatch(ctx context.Context, live []remediation.PolicyRequest, items map[reqKey]*remediation.Item, v verdict, cause error) (progress, more bool, err error) {
	for _, r := range live {
		item := items[keyOf(r)]
		if err := w.transition(ctx, remediation.Transition{JobID: item.JobID, Seq: item.Seq,
			From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemFailed,
			Error: v.itemErr, GraphRequestID: v.requestID}); err != nil {
			return false, false, err
		}
	}
	if err := w.deleteRequests(ctx, live); err != nil {
		return false, false, err
	}
	w.log.WarnContext(ctx, "policy flush failed its requests", slog.String("tenant_id", live[0].TenantID),
		slog.String("kind", string(live[0].Kind)), slog.Int("requests", len(live)),
		slog.String("code", v.itemErr.Code), slog.Any("error", cause))
	return true, true, nil
}

// deleteRequests removes handled requests, surviving the task's deadline.
func (w *Worker) deleteRequests(ctx context.Context, reqs []remediation.PolicyRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := w.store.DeletePolicyRequests(dctx, reqs); err != nil {
		return fmt.Errorf("worker: delete %d policy requests: %w", len(reqs), err)
	}
	return nil
}

// isRetry reports whether err is a counted Graph retry.
func isRetry(err error) bool {
	var re *retryError
	return errors.As(err, &re)
}
