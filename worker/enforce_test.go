package worker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestEnforceMFABatchesUsersIntoOnePolicy(t *testing.T) {
	b := setup(t, options{})
	const n = 300
	upns, users := addUsers(b, "mfa", n)
	job := b.submit(remediation.ActionEnforceMFA, "bulk", upns...)
	job = b.waitJob(job.ID, 45*time.Second)
	wantSucceeded(t, job)

	p := b.onlyMFAPolicy()
	wantIncluded(t, p, users)
	if p.State != "enabled" || !slices.Equal(p.BuiltInControls, []string{"mfa"}) {
		t.Errorf("policy state %s controls %v, want enabled [mfa]", p.State, p.BuiltInControls)
	}
	if got := b.storedPolicyID(); got != p.ID {
		t.Errorf("stored policy id %q, want %s", got, p.ID)
	}
	writes := b.tenant.CAWrites()
	t.Logf("%d users enforced with %d Conditional Access writes (%d CA requests, %d throttled)",
		n, writes, b.tenant.Stats().CARequests, b.tenant.Stats().CAThrottled)
	if writes < 1 || writes > 10 {
		t.Errorf("%d Conditional Access writes, want between 1 and 10", writes)
	}
	if th := b.tenant.Stats().CAThrottled; th > 2 {
		t.Errorf("%d Conditional Access requests throttled: the pacer does not space them", th)
	}
	for _, u := range users[:5] {
		it, calls := b.item(job.ID, u.UserPrincipalName)
		var prior struct {
			Kind   string `json:"kind"`
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(it.PriorState, &prior); err != nil || prior.UserID != u.ID || prior.Kind != "mfa" {
			t.Errorf("%s: prior state %s", u.UserPrincipalName, it.PriorState)
		}
		if it.Detail != "added to the MFA policy" || it.ObjectID != u.ID || it.Attempts != 1 || it.GraphRequestID == "" {
			t.Errorf("%s: item %q object %s attempts %d request id %q", u.UserPrincipalName, it.Detail, it.ObjectID, it.Attempts, it.GraphRequestID)
		}
		if !slices.ContainsFunc(calls, func(c remediation.Call) bool { return c.RequestID == it.GraphRequestID }) {
			t.Errorf("%s: the policy write %s is not in the item's call log", u.UserPrincipalName, it.GraphRequestID)
		}
	}
	b.waitNoRequests()
	b.waitDrained(10 * time.Second)
}

func TestConcurrentEnforceJobsLoseNoUser(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	const jobs, per = 10, 50
	var all []graphsim.UserState
	upns := make([][]string, jobs)
	for j := range jobs {
		var users []graphsim.UserState
		upns[j], users = addUsers(b, fmt.Sprintf("j%d-", j), per)
		all = append(all, users...)
	}
	ids := make([]string, jobs)
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Go(func() { ids[j] = b.submit(remediation.ActionEnforceMFA, "bulk", upns[j]...).ID })
	}
	wg.Wait()
	for _, id := range ids {
		wantSucceeded(t, b.waitJob(id, 45*time.Second))
	}
	wantIncluded(t, b.onlyMFAPolicy(), all)
	t.Logf("%d jobs of %d users: %d Conditional Access writes", jobs, per, b.tenant.CAWrites())
	b.waitNoRequests()
}

func TestDeletedPolicyIsRecreated(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	upns1, _ := addUsers(b, "first", 3)
	wantSucceeded(t, b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns1...).ID, 20*time.Second))
	old := b.onlyMFAPolicy()
	if b.storedPolicyID() != old.ID {
		t.Fatalf("stored policy id %q, want %s", b.storedPolicyID(), old.ID)
	}

	b.deleteCAPolicy(old.ID) // an administrator removed it
	upns2, users2 := addUsers(b, "second", 4)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns2...).ID, 20*time.Second)
	wantSucceeded(t, job)
	p := b.onlyMFAPolicy()
	if p.ID == old.ID {
		t.Fatal("the deleted policy is back with its old id")
	}
	wantIncluded(t, p, users2)
	if got := b.storedPolicyID(); got != p.ID {
		t.Errorf("stored policy id %q, want the new %s", got, p.ID)
	}
}

func TestPolicyFlushRecoversFromCAFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	// The policy is created, but Graph answers 503: the retried flush must
	// find it by name instead of creating a second one.
	postFault := b.sim.InjectFault(graphsim.FaultSpec{Operation: "POST " + caPolicyRoute,
		Status: http.StatusServiceUnavailable, ApplyThenFail: true, Times: 1})
	upns1, users1 := addUsers(b, "first", 5)
	job1 := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns1...).ID, 30*time.Second)
	wantSucceeded(t, job1)
	if b.sim.FaultHits(postFault) != 1 {
		t.Fatalf("the POST fault was hit %d times, want 1", b.sim.FaultHits(postFault))
	}
	wantIncluded(t, b.onlyMFAPolicy(), users1)

	// A failed PATCH: the flush retries, the items wait in running.
	patchFault := b.sim.InjectFault(graphsim.FaultSpec{Operation: "PATCH " + caPolicyRoute + "/{pid}",
		Status: http.StatusServiceUnavailable, Times: 1})
	upns2, users2 := addUsers(b, "second", 5)
	job2 := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns2...).ID, 30*time.Second)
	wantSucceeded(t, job2)
	if b.sim.FaultHits(patchFault) != 1 {
		t.Fatalf("the PATCH fault was hit %d times, want 1", b.sim.FaultHits(patchFault))
	}
	p := b.onlyMFAPolicy()
	wantIncluded(t, p, append(users1, users2...))
	if got := b.storedPolicyID(); got != p.ID {
		t.Errorf("stored policy id %q, want %s", got, p.ID)
	}
	for _, u := range users2 {
		if it, _ := b.item(job2.ID, u.UserPrincipalName); it.Detail != "added to the MFA policy" || it.Attempts != 1 {
			t.Errorf("%s: %q after %d attempts, want added after 1 (the flush retries, not the item)", u.UserPrincipalName, it.Detail, it.Attempts)
		}
	}
	b.waitDrained(10 * time.Second)
	if archived, err := b.insp.ListArchivedTasks(queue.QueueControl); err != nil || len(archived) != 0 {
		t.Errorf("archived control tasks: %d (%v), want none", len(archived), err)
	}
}

func TestDryRunEnforceWritesNothing(t *testing.T) {
	b := setup(t, options{})
	upns, users := addUsers(b, "dry", 4)
	job := b.createJobWith(remediation.ActionEnforceMFA, "urgent", func(j *remediation.Job) { j.DryRun = true }, upns...)
	if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
		t.Fatal(err)
	}
	job = b.waitJob(job.ID, 20*time.Second)
	wantSucceeded(t, job)
	for _, u := range users {
		if it, _ := b.item(job.ID, u.UserPrincipalName); !strings.HasPrefix(it.Detail, "would ") {
			t.Errorf("%s: detail %q, want a preview", u.UserPrincipalName, it.Detail)
		}
	}
	if w := b.sim.Writes(); len(w) != 0 {
		t.Errorf("a dry run made %d Graph writes (first %s)", len(w), w[0].Operation)
	}
	if len(b.tenant.CAPolicies()) != 0 || b.storedPolicyID() != "" {
		t.Error("a dry run created a policy")
	}
	if reqs := b.pendingRequests(); len(reqs) != 0 {
		t.Errorf("a dry run left %d policy requests", len(reqs))
	}
}

func TestUndoEnforceRemovesExactlyItsUsers(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	_, early := addUsers(b, "early", 2) // enforced by another job before
	upnsA, usersA := addUsers(b, "a", 4)
	upnsB, usersB := addUsers(b, "b", 3)
	earlyJob := b.submit(remediation.ActionEnforceMFA, "urgent", early[0].UserPrincipalName, early[1].UserPrincipalName)
	jobB := b.submit(remediation.ActionEnforceMFA, "urgent", upnsB...)
	wantSucceeded(t, b.waitJob(earlyJob.ID, 20*time.Second))
	wantSucceeded(t, b.waitJob(jobB.ID, 20*time.Second))
	// Job A also names an early user, who is already covered.
	jobA := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", append(upnsA, early[0].UserPrincipalName)...).ID, 20*time.Second)
	wantSucceeded(t, jobA)
	if it, _ := b.item(jobA.ID, early[0].UserPrincipalName); it.Detail != "already covered: no change" {
		t.Errorf("early user in job A: %q, want already covered", it.Detail)
	}
	wantIncluded(t, b.onlyMFAPolicy(), slices.Concat(early, usersA, usersB))

	undo, err := b.store.CreateDerivedJob(b.ctx, &remediation.Job{ID: uuid.NewString(), UndoOf: jobA.ID, Status: remediation.JobQueued,
		Reason: "undo", RequestedBy: "tester", Actor: "tester", Priority: "urgent", CreatedAt: time.Now().UTC()},
		jobA.ID, []remediation.ItemStatus{remediation.ItemSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.queue.StartFanout(b.ctx, undo.ID, undo.Priority); err != nil {
		t.Fatal(err)
	}
	undo = b.waitJob(undo.ID, 20*time.Second)
	if undo.Status != remediation.JobCompleted || undo.Counts[remediation.ItemFailed] != 0 {
		t.Fatalf("undo job %s counts %v", undo.Status, undo.Counts)
	}
	for _, u := range usersA {
		if it, _ := b.item(undo.ID, u.UserPrincipalName); it.Status != remediation.ItemSucceeded || it.Detail != "removed from the MFA policy" {
			t.Errorf("undo of %s: %s %q", u.UserPrincipalName, it.Status, it.Detail)
		}
	}
	// The early user was in the policy before job A: its undo keeps them.
	wantIncluded(t, b.onlyMFAPolicy(), slices.Concat(early, usersB))
}

func TestCancelBeforeFlushCancelsDeferredItems(t *testing.T) {
	b := setup(t, options{})
	upns, _ := addUsers(b, "cancel", 6)
	// Another flush holds the tenant's lock: flushes wait (bouncing).
	lockKey := "remediator:lock:policy:" + b.tenant.ID() + ":mfa"
	rdb := b.redis.Client()
	if err := rdb.Set(b.ctx, lockKey, "someone-else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	job := b.submit(remediation.ActionEnforceMFA, "urgent", upns...)
	b.eventually(20*time.Second, "every item to wait for the flush", func() bool {
		return len(b.pendingRequests()) == len(upns)
	})
	got, err := b.store.GetJob(b.ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts[remediation.ItemRunning] != len(upns) {
		t.Fatalf("counts %v, want every item running while its policy request waits", got.Counts)
	}
	if _, err := b.store.CancelJob(b.ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	b.eventually(10*time.Second, "a flush to bounce on the lock", func() bool {
		retry, err := b.insp.ListRetryTasks(queue.QueueControl)
		return err == nil && len(retry) > 0
	})
	if err := rdb.Del(b.ctx, lockKey).Err(); err != nil {
		t.Fatal(err)
	}
	job = b.waitJob(job.ID, 20*time.Second)
	if job.Status != remediation.JobCanceled || job.Counts[remediation.ItemCanceled] != len(upns) {
		t.Errorf("job %s counts %v, want canceled with %d canceled", job.Status, job.Counts, len(upns))
	}
	if w := b.sim.Writes(); len(w) != 0 {
		t.Errorf("%d writes for a canceled job, want none", len(w))
	}
	b.waitNoRequests()
	b.waitDrained(10 * time.Second)
	if archived, err := b.insp.ListArchivedTasks(queue.QueueControl); err != nil || len(archived) != 0 {
		t.Errorf("%d control tasks archived (%v), want none (a held lock is not a failure)", len(archived), err)
	}
}

func TestReconcilerRestartsLostFlush(t *testing.T) {
	b := setup(t, options{reconcileInterval: 200 * time.Millisecond, policyMaxAge: 500 * time.Millisecond})
	upns, users := addUsers(b, "lost", 5)
	lockKey := "remediator:lock:policy:" + b.tenant.ID() + ":mfa"
	rdb := b.redis.Client()
	if err := rdb.Set(b.ctx, lockKey, "someone-else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	job := b.submit(remediation.ActionEnforceMFA, "urgent", upns...)
	b.eventually(20*time.Second, "every item to wait for the flush", func() bool {
		return len(b.pendingRequests()) == len(upns)
	})
	// Every flush task is lost (e.g. Redis lost its data).
	for _, del := range []func(string) (int, error){b.insp.DeleteAllScheduledTasks, b.insp.DeleteAllRetryTasks, b.insp.DeleteAllPendingTasks} {
		if _, err := del(queue.QueueControl); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Del(b.ctx, lockKey).Err(); err != nil {
		t.Fatal(err)
	}
	job = b.waitJob(job.ID, 20*time.Second)
	wantSucceeded(t, job)
	wantIncluded(t, b.onlyMFAPolicy(), users)
}
