package worker_test

import (
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
