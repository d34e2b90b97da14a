package worker_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// startStale starts a worker of the bundle with a short stale threshold.
func startStale(b *bundle, staleAfter time.Duration) {
	b.t.Helper()
	w, err := b.newWorker(func(c *worker.Config) { c.StaleAfter = staleAfter })
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(w.Shutdown)
}

func TestReconcilerRequeuesLostItemTasks(t *testing.T) {
	b := setup(t, options{noStart: true, reconcileInterval: 100 * time.Millisecond})
	const n = 30
	upns, users := addUsers(b, "lost", n)
	job := b.createJob(remediation.ActionDisableUser, "bulk", upns...)
	// The fan-out enqueued every item, then Redis lost the tasks: one item
	// was running, one waiting for a retry, the others pending.
	if err := b.store.AdvanceFanout(b.ctx, job.ID, n); err != nil {
		t.Fatal(err)
	}
	for seq, to := range map[int]remediation.ItemStatus{0: remediation.ItemRunning, 1: remediation.ItemRetrying} {
		if _, ok, err := b.store.TransitionItem(b.ctx, remediation.Transition{JobID: job.ID, Seq: seq,
			From: []remediation.ItemStatus{remediation.ItemPending}, To: to, CountAttempt: true}); err != nil || !ok {
			t.Fatalf("TransitionItem(%d): %v, %v", seq, ok, err)
		}
	}
	startStale(b, 300*time.Millisecond)
	job = b.waitJob(job.ID, 30*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != n {
		t.Fatalf("job %s counts %v, want completed with %d succeeded", job.Status, job.Counts, n)
	}
	for i, u := range users {
		st, _ := b.tenant.User(u.ID)
		it, _ := b.item(job.ID, u.UserPrincipalName)
		if st.AccountEnabled || st.PatchCount != 1 || it.Detail != "disabled" {
			t.Errorf("%s: enabled=%v patched %d times, detail %q; want disabled once", u.UserPrincipalName, st.AccountEnabled, st.PatchCount, it.Detail)
		}
		if want := map[int]int{0: 2, 1: 2}[i]; want != 0 && it.Attempts != want {
			t.Errorf("item %d: %d attempts, want %d", i, it.Attempts, want)
		}
	}
	// Once finished, nothing is stale any more.
	items, next, err := b.store.StaleItems(b.ctx, time.Now().Add(time.Hour), remediation.StaleCursor{}, 100)
	if err != nil || len(items) != 0 || !next.IsZero() {
		t.Errorf("StaleItems after the job = %d items, %+v, %v", len(items), next, err)
	}
}

func TestReconcilerResumesStalledFanout(t *testing.T) {
	b := setup(t, options{noStart: true, reconcileInterval: 100 * time.Millisecond, fanoutPageSize: 4})
	const n = 20
	upns, users := addUsers(b, "stall", n)
	job := b.createJob(remediation.ActionDisableUser, "bulk", upns...)
	// The job's fan-out task did one page and is held (by a worker that
	// died, or by a long retry delay): it exists but does not run, so
	// starting the fan-out again is a no-op (TaskIDs are unique per
	// queue) and only a resumed fan-out can go on.
	c := asynq.NewClient(b.redis.Opt())
	t.Cleanup(func() { c.Close() })
	task, err := queue.NewFanoutTask(job.ID, job.Priority)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(task, asynq.TaskID(queue.FanoutTaskID(job.ID)), asynq.Queue(queue.QueueControl),
		asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.queue.EnqueueItems(b.ctx, job.ID, []int{0, 1, 2, 3}, job.Priority); err != nil {
		t.Fatal(err)
	}
	if err := b.store.AdvanceFanout(b.ctx, job.ID, 4); err != nil {
		t.Fatal(err)
	}
	startStale(b, 300*time.Millisecond)
	job = b.waitJob(job.ID, 30*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != n || job.FanoutNext != n {
		t.Fatalf("job %s counts %v fan-out %d, want completed with %d succeeded", job.Status, job.Counts, job.FanoutNext, n)
	}
	for _, u := range users {
		if st, _ := b.tenant.User(u.ID); st.AccountEnabled || st.PatchCount != 1 {
			t.Errorf("%s: enabled=%v patched %d times, want disabled once", u.UserPrincipalName, st.AccountEnabled, st.PatchCount)
		}
	}
}

func TestStaleSweepRestsWhileTasksWait(t *testing.T) {
	b := setup(t, options{noStart: true, reconcileInterval: 100 * time.Millisecond})
	const n = 5
	upns, users := addUsers(b, "wait", n)
	job := b.createJob(remediation.ActionDisableUser, "bulk", upns...)
	// The items' tasks exist but wait (e.g. paced behind other work).
	c := asynq.NewClient(b.redis.Opt())
	t.Cleanup(func() { c.Close() })
	for seq := range n {
		task, err := queue.NewItemTask(job.ID, seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Enqueue(task, asynq.TaskID(queue.ItemTaskID(job.ID, seq)), asynq.Queue(queue.QueueBulk),
			asynq.ProcessIn(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.store.AdvanceFanout(b.ctx, job.ID, n); err != nil {
		t.Fatal(err)
	}
	const staleAfter = 2 * time.Second
	startStale(b, staleAfter)
	// A sweep meets the waiting items, leaves their tasks alone and rests.
	rdb := b.redis.Client()
	b.eventually(10*time.Second, "the sweep to rest", func() bool {
		ttl, err := rdb.PTTL(b.ctx, "remediator:reconcile:items:rest").Result()
		return err == nil && ttl > 0
	})
	info, err := b.insp.GetQueueInfo(queue.QueueBulk)
	if err != nil || info.Scheduled != n || info.Pending != 0 {
		t.Fatalf("bulk queue = %+v, %v; want the %d waiting tasks untouched", info, err, n)
	}
	// The tasks are lost after all: once the rest is over, a sweep
	// enqueues them again and the job completes.
	if _, err := b.insp.DeleteAllScheduledTasks(queue.QueueBulk); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	job = b.waitJob(job.ID, 30*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != n {
		t.Fatalf("job %s counts %v, want completed with %d succeeded", job.Status, job.Counts, n)
	}
	t.Logf("lost tasks enqueued again and run within %s", time.Since(lost).Round(time.Millisecond))
	for _, u := range users {
		if st, _ := b.tenant.User(u.ID); st.AccountEnabled || st.PatchCount != 1 {
			t.Errorf("%s: enabled=%v patched %d times, want disabled once", u.UserPrincipalName, st.AccountEnabled, st.PatchCount)
		}
	}
}
