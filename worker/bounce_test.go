package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// refusingDirs refuses the first n SetAccountEnabled calls of every user
// with a *budget.WaitError, as a metered directory does when the budget
// is short beyond the gate's MaxWait.
type refusingDirs struct {
	inner remediation.Directories
	n     int
	mu    sync.Mutex
	seen  map[string]int
}

func (d *refusingDirs) For(ctx context.Context, t *remediation.Tenant) (remediation.Directory, error) {
	inner, err := d.inner.For(ctx, t)
	if err != nil {
		return nil, err
	}
	return refusingDir{Directory: inner, d: d, tenantID: t.ID}, nil
}

type refusingDir struct {
	remediation.Directory
	d        *refusingDirs
	tenantID string
}

func (r refusingDir) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	r.d.mu.Lock()
	r.d.seen[id]++
	refuse := r.d.seen[id] <= r.d.n
	r.d.mu.Unlock()
	if refuse {
		we := &budget.WaitError{TenantID: r.tenantID, Budget: "writes_bulk", Delay: 100 * time.Millisecond}
		return fmt.Errorf("SetAccountEnabled: %w", we)
	}
	return r.Directory.SetAccountEnabled(ctx, id, enabled)
}

// TestBudgetBouncesNeverSpendRetries: every item is refused by the budget
// more often than its task has retries; the refusals reschedule the task
// without counting, the items succeed, and no task is archived.
func TestBudgetBouncesNeverSpendRetries(t *testing.T) {
	const maxRetry, refusals, n = 1, 3, 6 // a task may retry twice (one kept in reserve)
	b := setup(t, options{noStart: true, maxRetry: maxRetry})
	dirs := &refusingDirs{inner: b.cfg.Directories, n: refusals, seen: map[string]int{}}
	w, err := b.newWorker(func(c *worker.Config) {
		c.Directories = dirs
		c.Gate = budget.NewGate(b.redis.Client(), budget.Options{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	ids := addTenantUsers(b.tenant, n)
	job := b.submitFor(b.tenant, remediation.ActionDisableUser, "bulk", ids...)
	job = b.waitJob(job.ID, 30*time.Second)
	wantSucceeded(t, job)
	for _, id := range ids {
		it, _ := b.item(job.ID, id)
		// One attempt per run: the refused ones and the last.
		if it.Attempts != refusals+1 || it.Error != nil || it.Detail != "disabled" {
			t.Errorf("item %s: attempts %d error %+v detail %q, want %d attempts, no error, disabled",
				id, it.Attempts, it.Error, it.Detail, refusals+1)
		}
		if u, _ := b.tenant.User(id); u.AccountEnabled || u.PatchCount != 1 {
			t.Errorf("user %s: enabled=%v patches=%d, want disabled by one PATCH", id, u.AccountEnabled, u.PatchCount)
		}
	}
	b.waitDrained(5 * time.Second)
	if archived, err := b.insp.ListArchivedTasks(queue.QueueBulk); err != nil || len(archived) != 0 {
		t.Errorf("archived tasks %d (%v), want none", len(archived), err)
	}
}

// TestPolicyFlushBudgetWaitIsNotAFailure: a flush the budget refuses runs
// again without spending its retries, in the urgent lane for an urgent
// job's requests.
func TestPolicyFlushBudgetWaitIsNotAFailure(t *testing.T) {
	const maxRetry, refusals = 1, 3
	b := setup(t, options{noStart: true, maxRetry: maxRetry})
	var (
		mu    sync.Mutex
		calls int
		lanes []budget.Lane
	)
	b.startWith(flusherFunc(func(ctx context.Context, _ remediation.FullDirectory, tn *remediation.Tenant, _ remediation.PolicyKind,
		reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		lanes = append(lanes, budget.LaneFrom(ctx))
		if calls <= refusals {
			return nil, fmt.Errorf("ListCAPolicies: %w", &budget.WaitError{TenantID: tn.ID, Budget: budget.BudgetCA, Delay: 50 * time.Millisecond})
		}
		return succeedAll(reqs), nil
	}), nil)
	upns, _ := addUsers(b, "lane", 2)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID, 30*time.Second)
	wantSucceeded(t, job)
	mu.Lock()
	defer mu.Unlock()
	if calls != refusals+1 {
		t.Errorf("%d flushes, want %d", calls, refusals+1)
	}
	for i, l := range lanes {
		if l != budget.Urgent {
			t.Errorf("flush %d ran in the %s lane, want urgent", i, l)
		}
	}
}
