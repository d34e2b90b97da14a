package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

// scheduleHorizon is the least delay for which an item task is scheduled
// (asynq.ProcessAt) rather than enqueued at once.
const scheduleHorizon = time.Second

// pauseProbeWait is the longest pause of its tenant a bulk item waits
// out in the worker before it rather gives its worker back (see
// pauseProbe). It is short: the items that wait out a pause all call
// Graph when it ends.
const pauseProbeWait = 20 * time.Millisecond

// DefaultLimits are the Graph budgets of a tenant when Config.Limits is
// nil: Microsoft's published limits for an unknown tenant size, with the
// tenant's graph_limits settings applied.
func DefaultLimits(t *remediation.Tenant) budget.Limits {
	return budget.Merge(budget.DefaultLimits(0), t.Settings.GraphLimits)
}

// laneOf is the budget lane of a job's Graph calls: Urgent for urgent
// jobs (at most a few identities), Bulk otherwise.
func laneOf(priority string) budget.Lane {
	if priority == queue.QueueUrgent {
		return budget.Urgent
	}
	return budget.Bulk
}

// itemCost estimates the Graph budget one item of job spends (resource
// units and writes, as budget.MethodCosts meters the calls its executor
// makes), to pace the job's item tasks and to take an item's budget in
// one go (budget.WithPrepaid). It is zero for items that are not
// paced: role and group actions (single-identity jobs), undos that do not
// call Graph. Policy writes are batched by the flush: enforce items spend
// reads only.
func itemCost(job *remediation.Job) (ru, writes int) {
	add := func(ops ...string) {
		for _, op := range ops {
			c := budget.MethodCosts[op]
			ru += c.RU
			if c.Write && !job.DryRun {
				writes++
			}
		}
	}
	undo := job.UndoOf != ""
	guard := !job.ConfirmAdminTargets && !undo // actions.guardAdmin reads the roles
	roles := []string{"TransitiveRoleTemplateIDs", "ListActiveRoleInstances"}
	switch job.Action {
	case remediation.ActionDisableUser:
		add("GetUser")
		if guard {
			add(roles...)
		}
		add("SetAccountEnabled")
	case remediation.ActionRevokeSessions:
		if !undo {
			add("GetUser", "RevokeSignInSessions")
		}
	case remediation.ActionEnforceMFA:
		if !undo {
			add("GetUser")
			if guard {
				add(roles...)
			}
		}
	case remediation.ActionEnforcePhishingResistantMFA:
		if !undo {
			add("GetUser")
			add(roles...)
		}
	}
	if job.DryRun {
		writes = 0
	}
	return ru, writes
}

// itemPace is the rate (items per second) at which the bulk lane of the
// tenant's budgets allows job's items; ok is false when they are not
// paced (no Gate, an urgent job, items that spend nothing).
func (w *Worker) itemPace(tenant *remediation.Tenant, job *remediation.Job) (perSecond float64, ok bool) {
	if w.gate == nil || tenant == nil || laneOf(job.Priority) != budget.Bulk {
		return 0, false
	}
	ru, writes := itemCost(job)
	if ru == 0 && writes == 0 {
		return 0, false
	}
	p := w.gate.Pace(w.limits(tenant), ru, writes, budget.Bulk)
	if math.IsInf(p, 1) || p <= 0 {
		return 0, false
	}
	return p, true
}

// itemStarts books n start times for a page of job's item tasks on the
// tenant's bulk schedule (budget.Gate.ScheduleSlots), so that they become
// ready at the pace the budget allows instead of all at once. It returns
// nil when the items are not paced. A start less than scheduleHorizon
// away is zero (enqueue at once): asynq keeps whole seconds and promotes
// scheduled tasks only every DelayedTaskCheckInterval, so scheduling it
// would only delay it; the worker's wait absorbs the difference.
func (w *Worker) itemStarts(ctx context.Context, tenant *remediation.Tenant, job *remediation.Job, n int) ([]time.Time, error) {
	pace, ok := w.itemPace(tenant, job)
	if !ok || n == 0 {
		return nil, nil
	}
	at, err := w.gate.ScheduleSlots(ctx, tenant.ID, n, pace, budget.Bulk)
	if err != nil {
		return nil, fmt.Errorf("worker: pace items of job %s: %w", job.ID, err)
	}
	horizon := time.Now().Add(scheduleHorizon)
	for i, t := range at {
		if !t.After(horizon) {
			at[i] = time.Time{}
		}
	}
	return at, nil
}

// pauseProbe reports the tenant's pause (after a Graph 429) when it lasts
// longer than pauseProbeWait: a bulk item then gives its worker back
// instead of sleeping through the pause inside the wrapped directory, so
// that a throttled tenant's items cannot hold every worker (and the queue)
// while other tenants' items wait. It is an Acquire of nothing, which
// only waits out pauses. An error (of Redis, or the probe's deadline
// passing first) reports nothing: the item's own calls wait as usual.
//
// A probe that found no pause holds for pauseProbeFresh for the tenant's
// other items in this worker: at hundreds of items per second the probes
// would otherwise be a good share of the Redis commands per item, and a
// pause that starts meanwhile is still waited out by the item's own calls.
func (w *Worker) pauseProbe(ctx context.Context, tenant *remediation.Tenant) *budget.WaitError {
	if w.gate == nil {
		return nil
	}
	if at, ok := w.unpaused.Load(tenant.ID); ok && time.Since(at.(time.Time)) < pauseProbeFresh {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, pauseProbeWait)
	defer cancel()
	start := time.Now()
	_, err := w.gate.Acquire(pctx, tenant.ID, budget.Limits{}, budget.Cost{}, budget.Bulk)
	var we *budget.WaitError
	if errors.As(err, &we) {
		w.unpaused.Delete(tenant.ID)
		return we
	}
	if err == nil {
		w.unpaused.Store(tenant.ID, start)
	}
	return nil
}

// pauseProbeFresh is how long a probe that found no pause holds.
const pauseProbeFresh = 250 * time.Millisecond

// spreadDelay is the delay before an item task the budget or Graph's
// throttling held back runs again: at least d, and for a paced (bulk)
// item no earlier than a new slot on the tenant's bulk schedule, so that
// items held back together (by a pause) come back one by one at the pace
// the budget allows, not as a herd when the pause ends. It ends on a
// whole second, as asynq keeps retry times in seconds.
func (w *Worker) spreadDelay(ctx context.Context, tenant *remediation.Tenant, job *remediation.Job, d time.Duration) time.Duration {
	now := time.Now()
	at := now.Add(max(d, 0))
	if pace, ok := w.itemPace(tenant, job); ok {
		slots, err := w.gate.ScheduleSlots(ctx, tenant.ID, 1, pace, budget.Bulk)
		if err != nil {
			w.log.WarnContext(ctx, "budget: book a slot for an item held back", slog.String("job_id", job.ID), slog.Any("error", err))
		} else if slots[0].After(at) {
			at = slots[0]
		}
	}
	return ceilSecond(now, at)
}

// ceilSecond returns the delay from now to at, at rounded up to a whole
// second of the clock: asynq truncates retry times to seconds, and the
// task must not run before at.
func ceilSecond(now, at time.Time) time.Duration {
	t := at.Truncate(time.Second)
	if t.Before(at) {
		t = t.Add(time.Second)
	}
	return max(t.Sub(now), 0)
}

// bounceError is returned for a task the tenant's Graph budget refused
// (budget.WaitError): asynq runs it again after delay without counting a
// failure, so bounces can never spend an item's retries or archive its
// task (the retry reserve stays untouched, see queue.RetryReserve).
type bounceError struct {
	err   *budget.WaitError
	delay time.Duration
}

func (e *bounceError) Error() string {
	return fmt.Sprintf("graph budget of tenant %s: %s short; again in %s", e.err.TenantID, e.err.Budget, e.delay)
}

func (e *bounceError) Unwrap() error { return e.err }

// bounceItem ends an item attempt the budget refused. A running item goes
// back to retrying, its error untouched: nothing failed.
func (w *Worker) bounceItem(ctx context.Context, tenant *remediation.Tenant, job *remediation.Job, item *remediation.Item, we *budget.WaitError, running bool) error {
	delay := w.spreadDelay(ctx, tenant, job, we.Delay)
	if running {
		if err := w.transition(ctx, remediation.Transition{JobID: item.JobID, Seq: item.Seq,
			From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemRetrying}); err != nil {
			return err
		}
	}
	status := remediation.ItemStatus("unchanged") // not yet read: pending or retrying
	if running {
		status = remediation.ItemRetrying
	}
	w.log.DebugContext(ctx, "item waits for the Graph budget", append(itemAttrs(item, status),
		slog.String("budget", we.Budget), slog.Duration("delay", delay))...)
	return &bounceError{err: we, delay: delay}
}
