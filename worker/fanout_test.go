package worker_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// addUsers adds n enabled members and returns their UPNs.
func addUsers(b *bundle, prefix string, n int) ([]string, []graphsim.UserState) {
	upns := make([]string, n)
	users := make([]graphsim.UserState, n)
	for i := range n {
		users[i] = b.addUser(graphsim.UserSpec{UserPrincipalName: fmt.Sprintf("%s%03d@contoso.com", prefix, i), AccountEnabled: true})
		upns[i] = users[i].UserPrincipalName
	}
	return upns, users
}

func TestRepeatedFanoutAndDuplicateTasksWriteOnce(t *testing.T) {
	b := setup(t, options{fanoutPageSize: 7})
	const n = 40
	upns, users := addUsers(b, "user", n)
	job := b.createJob(remediation.ActionDisableUser, "bulk", upns...)

	// Some item tasks are already queued (as if a fan-out crashed before
	// advancing its cursor), and several fan-outs start at once.
	if err := b.queue.EnqueueItems(b.ctx, job.ID, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, job.Priority); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	job = b.waitJob(job.ID, 30*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != n {
		t.Fatalf("job %s counts %v, want completed with %d succeeded", job.Status, job.Counts, n)
	}
	if job.FanoutNext != n {
		t.Errorf("fan-out cursor = %d, want %d", job.FanoutNext, n)
	}
	b.waitDrained(10 * time.Second)

	// Once finished: a repeated fan-out and duplicated item tasks change
	// nothing and call Graph no more.
	requests := len(b.sim.Requests())
	if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
		t.Fatal(err)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if err := b.queue.EnqueueItems(b.ctx, job.ID, all, job.Priority); err != nil {
		t.Fatal(err)
	}
	b.waitDrained(10 * time.Second)
	if got := len(b.sim.Requests()); got != requests {
		t.Errorf("duplicate tasks made %d more Graph requests", got-requests)
	}

	if writes := b.sim.Writes(); len(writes) != n {
		t.Errorf("%d Graph writes, want exactly %d", len(writes), n)
	}
	for _, u := range users {
		st, _ := b.tenant.User(u.ID)
		if st.AccountEnabled || st.PatchCount != 1 {
			t.Errorf("%s: enabled=%v patched %d times, want disabled once", u.UserPrincipalName, st.AccountEnabled, st.PatchCount)
		}
		it, _ := b.item(job.ID, u.UserPrincipalName)
		if it.Attempts != 1 || it.Detail != "disabled" {
			t.Errorf("%s: attempts %d detail %q, want 1 \"disabled\"", u.UserPrincipalName, it.Attempts, it.Detail)
		}
	}
	got, err := b.store.GetJob(b.ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts[remediation.ItemSucceeded] != n || got.Status != remediation.JobCompleted {
		t.Errorf("after duplicates: job %s counts %v", got.Status, got.Counts)
	}
}

func TestReconcilerStartsForgottenFanout(t *testing.T) {
	b := setup(t, options{reconcileInterval: 200 * time.Millisecond, fanoutPageSize: 3})
	upns, _ := addUsers(b, "late", 8)
	// The API stored the jobs but died before enqueuing their fan-out. The
	// second job is created after the first one finished, so a later,
	// periodic pass has to start it.
	for i, ids := range [][]string{upns[:3], upns[3:]} {
		job := b.createJob(remediation.ActionRevokeSessions, "urgent", ids...)
		job = b.waitJob(job.ID, 20*time.Second)
		if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != len(ids) || job.FanoutNext != len(ids) {
			t.Fatalf("job %d: %s counts %v fan-out %d, want completed with %d succeeded", i, job.Status, job.Counts, job.FanoutNext, len(ids))
		}
	}
	if got := len(b.sim.Writes()); got != len(upns) {
		t.Errorf("%d writes, want %d", got, len(upns))
	}
	ids, err := b.store.JobsNeedingFanout(b.ctx, 10)
	if err != nil || len(ids) != 0 {
		t.Errorf("JobsNeedingFanout = %v, %v; want none", ids, err)
	}
}

func TestCancelStopsRetryingItems(t *testing.T) {
	b := setup(t, options{})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	// Throttled with a long Retry-After: the item waits in retrying.
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "GET /users/{id}", UserID: alice.ID, Status: http.StatusTooManyRequests,
		RetryAfter: 2 * time.Second, Times: 1})
	job := b.submit(remediation.ActionDisableUser, "urgent", alice.UserPrincipalName)
	b.eventually(10*time.Second, "item to retry", func() bool {
		it, _ := b.item(job.ID, alice.UserPrincipalName)
		return it.Status == remediation.ItemRetrying
	})
	it, _ := b.item(job.ID, alice.UserPrincipalName)
	if it.Error == nil || it.Error.Code != "TooManyRequests" || it.GraphRequestID == "" {
		t.Errorf("retrying item error %+v request id %q, want TooManyRequests and the 429's request id", it.Error, it.GraphRequestID)
	}
	if _, err := b.store.CancelJob(b.ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	job = b.waitJob(job.ID, 10*time.Second)
	b.waitDrained(10 * time.Second) // the retry ran and found the item canceled
	if job.Status != remediation.JobCanceled || job.Counts[remediation.ItemCanceled] != 1 {
		t.Errorf("job %s counts %v, want canceled", job.Status, job.Counts)
	}
	if w := b.sim.Writes(); len(w) != 0 {
		t.Errorf("%d writes after cancel, want none", len(w))
	}
	if st, _ := b.tenant.User(alice.ID); !st.AccountEnabled {
		t.Error("canceled item disabled the user")
	}
}

// TestFanoutCancelsItemsLeftByTheCancel: CancelJob cancels the first
// window of a large job; the fan-out task (started by the API, or by the
// reconciler when that enqueue was lost) cancels the rest, window by
// window, and no item ever reaches Graph.
func TestFanoutCancelsItemsLeftByTheCancel(t *testing.T) {
	for _, viaReconciler := range []bool{false, true} {
		t.Run(map[bool]string{false: "api", true: "reconciler"}[viaReconciler], func(t *testing.T) {
			o := options{}
			if viaReconciler {
				o.reconcileInterval = 200 * time.Millisecond
			}
			b := setup(t, o)
			n := 2*remediation.CancelWindow + 7
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("user%05d@contoso.com", i)
			}
			job := b.createJob(remediation.ActionRevokeSessions, "bulk", ids...)
			if err := b.store.AdvanceFanout(b.ctx, job.ID, job.Total); err != nil { // enqueued long ago
				t.Fatal(err)
			}
			got, err := b.store.CancelJob(b.ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Counts[remediation.ItemCanceled] != remediation.CancelWindow || got.Status == remediation.JobCanceled {
				t.Fatalf("after CancelJob: %s counts %v; want the first window canceled", got.Status, got.Counts)
			}
			if !viaReconciler {
				if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
					t.Fatal(err)
				}
			}
			got = b.waitJob(job.ID, 20*time.Second)
			if got.Status != remediation.JobCanceled || got.Counts[remediation.ItemCanceled] != n || got.FinishedAt == nil {
				t.Fatalf("job %s counts %v; want canceled with %d canceled items", got.Status, got.Counts, n)
			}
			if w := b.sim.Writes(); len(w) != 0 {
				t.Errorf("%d Graph writes for a canceled job, want none", len(w))
			}
		})
	}
}

// TestCancelLetsARunningItemFinish: an item that was running when its job
// was canceled (its worker died mid-attempt) runs again to its end when
// its task comes back; it is not canceled behind the write it may have
// made.
func TestCancelLetsARunningItemFinish(t *testing.T) {
	b := setup(t, options{})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	bob := b.addUser(graphsim.UserSpec{UserPrincipalName: "bob@contoso.com", AccountEnabled: true})
	job := b.createJob(remediation.ActionDisableUser, "urgent", alice.UserPrincipalName, bob.UserPrincipalName)
	if _, ok, err := b.store.TransitionItem(b.ctx, remediation.Transition{JobID: job.ID, Seq: 0,
		From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, CountAttempt: true}); err != nil || !ok {
		t.Fatalf("start item 0: %v %v", ok, err)
	}
	got, err := b.store.CancelJob(b.ctx, job.ID)
	if err != nil || got.Counts[remediation.ItemCanceled] != 1 || got.Counts[remediation.ItemRunning] != 1 {
		t.Fatalf("CancelJob = %+v, %v; want bob canceled, alice running", got, err)
	}
	if err := b.queue.EnqueueItems(b.ctx, job.ID, []int{0, 1}, "urgent"); err != nil {
		t.Fatal(err)
	}
	got = b.waitJob(job.ID, 20*time.Second)
	if got.Status != remediation.JobCanceled || got.Counts[remediation.ItemSucceeded] != 1 || got.Counts[remediation.ItemCanceled] != 1 {
		t.Fatalf("job %s counts %v; want canceled, alice succeeded, bob canceled", got.Status, got.Counts)
	}
	if u, _ := b.tenant.User(alice.ID); u.AccountEnabled {
		t.Error("alice's re-run did not finish its write")
	}
	if u, _ := b.tenant.User(bob.ID); !u.AccountEnabled {
		t.Error("bob, canceled before he ran, was disabled")
	}
}
