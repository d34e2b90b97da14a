package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// Urgent work has task slots of its own: with the one bulk slot held by a
// slow bulk item, a single-identity urgent job still finishes at once.
func TestUrgentJobRunsWhileBulkSlotsAreBusy(t *testing.T) {
	b := setup(t, options{noStart: true})
	w, err := b.newWorker(func(c *worker.Config) { c.Concurrency = 1 })
	if err != nil {
		t.Fatal(err)
	}
	b.worker = w
	b.start()
	slow := b.addUser(graphsim.UserSpec{UserPrincipalName: "slow@contoso.com", AccountEnabled: true})
	urgent := b.addUser(graphsim.UserSpec{UserPrincipalName: "urgent@contoso.com", AccountEnabled: true})
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "GET /users/{id}", UserID: slow.ID, Latency: 5 * time.Second, Times: 1})
	bulk := b.createJobWith(remediation.ActionDisableUser, "bulk", func(j *remediation.Job) { j.ConfirmAdminTargets = true },
		slow.UserPrincipalName)
	if err := b.queue.StartFanout(b.ctx, bulk.ID, bulk.Priority); err != nil {
		t.Fatal(err)
	}
	b.eventually(5*time.Second, "the bulk item to start", func() bool {
		it, _ := b.item(bulk.ID, slow.UserPrincipalName)
		return it.Status == remediation.ItemRunning
	})
	start := time.Now()
	job := b.submit(remediation.ActionDisableUser, "urgent", urgent.UserPrincipalName)
	job = b.waitJob(job.ID, 10*time.Second)
	took := time.Since(start)
	if job.Counts[remediation.ItemSucceeded] != 1 || took > 3*time.Second {
		t.Fatalf("urgent job %v after %s, want succeeded well before the bulk item's 5 s call ends", job.Counts, took)
	}
	if it, _ := b.item(bulk.ID, slow.UserPrincipalName); it.Status != remediation.ItemRunning {
		t.Fatalf("the bulk item is %s, want still running (holding the only bulk slot)", it.Status)
	}
	b.waitJob(bulk.ID, 15*time.Second)
}

// urgentRecorder records, per job, whether the item transitions handed to
// the store were marked Urgent.
type urgentRecorder struct {
	remediation.Store
	mu   sync.Mutex
	seen map[string][]bool
}

func (r *urgentRecorder) TransitionItem(ctx context.Context, tr remediation.Transition) (*remediation.Item, bool, error) {
	r.mu.Lock()
	r.seen[tr.JobID] = append(r.seen[tr.JobID], tr.Urgent)
	r.mu.Unlock()
	return r.Store.TransitionItem(ctx, tr)
}

// Every item transition of a small job is marked Urgent, so the store
// keeps it out of bulk groups; none of a bulk job's is.
func TestItemTransitionsCarryTheirLane(t *testing.T) {
	b := setup(t, options{noStart: true})
	rec := &urgentRecorder{Store: b.store, seen: map[string][]bool{}}
	w, err := b.newWorker(func(c *worker.Config) { c.Store = rec })
	if err != nil {
		t.Fatal(err)
	}
	b.worker = w
	b.start()
	u1 := b.addUser(graphsim.UserSpec{UserPrincipalName: "u1@contoso.com", AccountEnabled: true})
	u2 := b.addUser(graphsim.UserSpec{UserPrincipalName: "u2@contoso.com", AccountEnabled: true})
	urgent := b.submit(remediation.ActionDisableUser, "urgent", u1.UserPrincipalName)
	bulk := b.submit(remediation.ActionDisableUser, "bulk", u2.UserPrincipalName)
	for _, j := range []*remediation.Job{urgent, bulk} {
		if got := b.waitJob(j.ID, 10*time.Second); got.Counts[remediation.ItemSucceeded] != 1 {
			t.Fatalf("job %s: %v", j.Priority, got.Counts)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, c := range []struct {
		job  *remediation.Job
		want bool
	}{{urgent, true}, {bulk, false}} {
		marks := rec.seen[c.job.ID]
		if len(marks) < 2 { // start, prior state, finish
			t.Errorf("%s job: %d transitions recorded", c.job.Priority, len(marks))
		}
		for i, m := range marks {
			if m != c.want {
				t.Errorf("%s job: transition %d Urgent = %v", c.job.Priority, i, m)
			}
		}
	}
}
