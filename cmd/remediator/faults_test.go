package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// Fault tests (issue 6): each injects a fault during a bulk job and proves
// that every identity ends with exactly one terminal outcome, that no user
// was written twice, and that the job completes once the fault is gone.
// They run in parallel: most of their time is spent waiting.

func addMembers(tn *graphsim.Tenant, prefix string, n int) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = tn.AddUser(graphsim.UserSpec{UserPrincipalName: fmt.Sprintf("%s%05d@%s", prefix, i, tn.Domain()), AccountEnabled: true}).ID
	}
	return ids
}

// assertDisabledOnce checks the final state of a disable_user job.
func (s *stack) assertDisabledOnce(tn *graphsim.Tenant, job jobView, ids []string) {
	s.t.Helper()
	if job.Status != "completed" || job.Counts["succeeded"] != len(ids) {
		s.t.Fatalf("job %+v, want %d succeeded", job, len(ids))
	}
	twice, enabled := 0, 0
	for _, id := range ids {
		u, _ := tn.User(id)
		if u.PatchCount != 1 {
			twice++
		}
		if u.AccountEnabled {
			enabled++
		}
	}
	if twice != 0 || enabled != 0 {
		s.t.Errorf("%d users not written exactly once, %d still enabled", twice, enabled)
	}
	out := s.outcomes(tn.ID())
	bad := 0
	for _, id := range ids {
		if out[id] != 1 {
			bad++
		}
	}
	if bad != 0 || len(out) != len(ids) {
		s.t.Errorf("%d identities without exactly one outcome (%d identities in history, want %d)", bad, len(out), len(ids))
	}
}

// 1. A worker is SIGKILLed in the middle of a 2,000-identity job; another
// worker finishes it (asynq re-runs the leased tasks after about a minute).
func TestFaultWorkerKilled(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{simLatency: 15 * time.Millisecond,
		env: map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "8"}})
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "k", 2000)
	w1 := s.startProc("worker")
	job := s.submit(tn.ID(), "disable_user", ids)
	s.waitCount(job.ID, "succeeded", 300, 60*time.Second)
	w1.kill()
	s.startProc("worker")
	s.assertDisabledOnce(tn, s.waitJob(job.ID, 4*time.Minute), ids)
}

// 2. Redis is restarted (AOF on) during a bulk job: nothing is lost.
func TestFaultRedisRestart(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{workers: 1, redisAOF: true, simLatency: 10 * time.Millisecond,
		env: map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "8"}})
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "r", 1000)
	job := s.submit(tn.ID(), "disable_user", ids)
	s.waitCount(job.ID, "succeeded", 100, 60*time.Second)
	s.redis.Stop()
	time.Sleep(2 * time.Second)
	s.redis.Start()
	s.assertDisabledOnce(tn, s.waitJob(job.ID, 4*time.Minute), ids)
}

// 3. Redis is down when a job is submitted: the API accepts the job
// durably (it is in the history store) and the worker's reconciler
// enqueues its fan-out once Redis is back.
func TestFaultRedisDownAtSubmit(t *testing.T) {
	t.Parallel()
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "d", 50)
	s.redis.Stop()
	var ready struct{}
	if code := s.do("GET", "/readyz", nil, nil, &ready); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with Redis down: %d, want 503", code)
	}
	job := s.submit(tn.ID(), "disable_user", ids)
	if job.Status != "queued" || job.Total != 50 {
		t.Fatalf("accepted job: %+v", job)
	}
	time.Sleep(time.Second)
	s.redis.Start()
	s.assertDisabledOnce(tn, s.waitJob(job.ID, 2*time.Minute), ids)
}

// 5. Graph answers 503 for a while, 504 after applying a write, and times
// out on slow calls: outcomes are still correct and writes not repeated.
func TestFaultGraphErrors(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{workers: 1, env: map[string]string{"REMEDIATOR_GRAPH_TIMEOUT": "2s"}})
	tn := s.registerTenant(graphsim.TenantSpec{})
	ids := addMembers(tn, "g", 60)
	// A 503 storm on the tenant's PATCHes. Each 503 pauses the whole tenant
	// with exponential backoff (budget.Gate.Throttled), so a few in a row
	// already stretch the job over tens of seconds.
	s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "PATCH /users/{id}", Status: 503, Times: 4})
	// 504 after the write was applied, for two users.
	for _, id := range ids[:2] {
		s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "PATCH /users/{id}", UserID: id, Status: 504, ApplyThenFail: true, Times: 1})
	}
	// A slow GET that times out once.
	s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "GET /users/{id}", UserID: ids[2], Latency: 4 * time.Second, Times: 1})
	job := s.submit(tn.ID(), "disable_user", ids)
	final := s.waitJob(job.ID, 5*time.Minute)
	s.assertDisabledOnce(tn, final, ids)
	items := s.items(job.ID)
	for _, id := range ids[:2] {
		if items[id].Detail != "disabled" || items[id].Attempts < 2 {
			t.Errorf("504-after-write user %s: %+v (want disabled, not 'already disabled')", id, items[id])
		}
	}
	if items[ids[2]].Attempts < 2 {
		t.Errorf("timed-out user %s: %+v", ids[2], items[ids[2]])
	}
}
