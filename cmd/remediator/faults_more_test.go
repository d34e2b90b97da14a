package main

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

// More fault tests ("nothing lost, nothing done twice"): the history store
// goes away, the fan-out process dies, Redis loses every task, a worker is
// stopped gracefully. Like faults_test.go, each proves that every identity
// ends with exactly one terminal outcome and that no user was written
// twice.

// startProcWith runs role as a child process with the stack's environment
// changed by extra.
func (s *stack) startProcWith(role string, extra map[string]string) *proc {
	s.t.Helper()
	env := maps.Clone(s.env)
	maps.Copy(env, extra)
	vars := []string{roleEnv + "=" + role, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, k+"="+env[k])
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = vars
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	s.t.Cleanup(func() { p.kill() })
	return p
}

// inspector returns an asynq inspector of the stack's Redis.
func (s *stack) inspector() *asynq.Inspector {
	insp := asynq.NewInspector(s.redis.Opt())
	s.t.Cleanup(func() { insp.Close() })
	return insp
}

// openHistory opens the stack's history store (for what the API does not
// show, such as the fan-out cursor).
func (s *stack) openHistory() *history.Store {
	s.t.Helper()
	st, err := history.Open(context.Background(), s.env["REMEDIATOR_DATABASE_URL"])
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { st.Close() })
	return st
}

// unthrottled registers a simulator tenant whose graph_limits no call
// reaches (the simulator does not throttle either), so that a fault test
// runs at the speed of the machine rather than of Graph's write quota.
func (s *stack) unthrottled() *graphsim.Tenant {
	s.t.Helper()
	tn := s.registerTenant(graphsim.TenantSpec{})
	const n = 10_000_000
	limits := &remediation.GraphLimits{ResourceUnits: n, ResourceUnitsWindowS: 1, Writes: n, WritesWindowS: 1,
		TenantWrites: n, TenantWritesWindowS: 1}
	if _, err := s.openHistory().UpdateTenantSettings(context.Background(), tn.ID(),
		remediation.TenantSettings{GraphLimits: limits, MFAPolicyState: remediation.MFAPolicyEnabled}); err != nil {
		s.t.Fatal(err)
	}
	return tn
}

// assertAllDisabled checks that every item reports its own write
// ("disabled", not "already disabled": a retry after a write whose
// outcome was not recorded finds the prior state it saved first).
func (s *stack) assertAllDisabled(jobID string) map[string]itemView {
	s.t.Helper()
	items := s.items(jobID)
	bad := 0
	for id, it := range items {
		if it.Status != "succeeded" || it.Detail != "disabled" {
			if bad < 5 {
				s.t.Errorf("item %s: %s %q", id, it.Status, it.Detail)
			}
			bad++
		}
	}
	if bad > 0 {
		s.t.Errorf("%d items not succeeded with detail \"disabled\"", bad)
	}
	return items
}

// 6. PostgreSQL is down for 30 s while workers run a 500-identity job:
// store errors are retried (not counted), no outcome is lost, no write
// repeated (a write whose outcome the store missed is recognised by the
// prior state saved before it), no item left running; the job completes
// once the store is back.
func TestFaultPostgresDown(t *testing.T) {
	t.Parallel()
	pg := testenv.NewPostgresServer(t)
	s := newStackWith(t, stackOptions{workers: 1, databaseURL: pg.URL(), simLatency: 20 * time.Millisecond,
		env: map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "8", "REMEDIATOR_STALE_AFTER": "10s"}})
	tn := s.unthrottled()
	ids := addMembers(tn, "p", 500)
	// Three users' PATCHes are slow: the store goes down while they are
	// in flight, after their prior state was saved, so the write lands
	// but its outcome cannot be recorded.
	const slowFrom, slowTo = 100, 103
	for _, id := range ids[slowFrom:slowTo] {
		s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "PATCH /users/{id}", UserID: id,
			Latency: 8 * time.Second, Times: 1})
	}
	st := s.openHistory()
	job := s.submit(tn.ID(), "disable_user", ids)
	deadline := time.Now().Add(60 * time.Second)
	for seq := slowFrom; seq < slowTo; {
		it, err := st.GetItemBySeq(context.Background(), job.ID, seq)
		switch {
		case err != nil:
			t.Fatal(err)
		case it.Status == remediation.ItemRunning && len(it.PriorState) > 0:
			seq++ // its PATCH is in flight
			continue
		case it.Status.Terminal():
			t.Fatalf("slow item %d is already %s", seq, it.Status)
		case time.Now().After(deadline):
			t.Fatalf("slow item %d never reached its PATCH: %+v", seq, it)
		}
		time.Sleep(10 * time.Millisecond)
	}
	pg.Stop()
	time.Sleep(30 * time.Second) // the outage itself
	pg.Start()
	final := s.waitJob(job.ID, 3*time.Minute)
	s.assertDisabledOnce(tn, final, ids)
	items := s.assertAllDisabled(job.ID)
	for _, id := range ids[slowFrom:slowTo] {
		if it := items[id]; it.Attempts < 2 {
			t.Errorf("slow item %s: %d attempts, want its outcome recorded by a later attempt", id, it.Attempts)
		}
	}
}

// 7. The worker fanning out a 10,000-identity job is SIGKILLed in the
// middle of its fan-out; another worker resumes it (the reconciler
// resumes a fan-out whose cursor stands still, without waiting for asynq
// to hand the dead worker's task back): every identity is run once.
func TestFaultFanoutKilled(t *testing.T) {
	t.Parallel()
	const n = 10_000
	// Info logs and no admin-role reads (confirm_admin_targets) keep the
	// many items cheap on a shared machine.
	s := newStackWith(t, stackOptions{env: map[string]string{"REMEDIATOR_STALE_AFTER": "3s", "REMEDIATOR_LOG_LEVEL": "info"}})
	tn := s.unthrottled()
	ids := addMembers(tn, "f", n)
	st := s.openHistory()
	insp := s.inspector()
	// One bulk task slot (the fan-out runs in a control slot of its own):
	// the dead worker holds at most one item.
	w1 := s.startProcWith("worker", map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "1"})
	var job jobView
	if code := s.do("POST", "/v1/tenants/"+tn.ID()+"/remediations", map[string]any{"action": "disable_user",
		"identities": ids, "reason": "fault test", "confirm_admin_targets": true}, nil, &job); code != 202 {
		t.Fatalf("submit: %d %+v", code, job)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := insp.GetQueueInfo(queue.QueueBulk)
		if err == nil && info.Size >= 1500 {
			break // more than a page enqueued
		}
		if time.Now().After(deadline) {
			t.Fatalf("fan-out did not start: %v, %+v\nlogs:\n%s", err, info, tail(s.logs.String(), 4000))
		}
		time.Sleep(2 * time.Millisecond)
	}
	w1.kill()
	j, err := st.GetJob(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.FanoutNext == 0 || j.FanoutNext >= n {
		t.Fatalf("killed with the fan-out cursor at %d of %d, want in the middle", j.FanoutNext, n)
	}
	t.Logf("fan-out killed at cursor %d of %d", j.FanoutNext, n)
	start := time.Now()
	s.startProcWith("worker", map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "16"})
	final := s.waitJob(job.ID, 4*time.Minute)
	t.Logf("job finished %s after the kill", time.Since(start).Round(time.Second))
	s.assertDisabledOnce(tn, final, ids)
	items := s.assertAllDisabled(job.ID)
	// Only the item the dead worker was running may have run twice.
	again := 0
	for _, it := range items {
		if it.Attempts != 1 {
			again++
		}
	}
	if again > 1 {
		t.Errorf("%d items ran more than once, want at most the one the dead worker held", again)
	}
	if !strings.Contains(s.logs.String(), "fan-out stalled; resumed") {
		t.Error("the reconciler did not resume the fan-out")
	}
}

// 8. Redis loses every task (FLUSHALL) during a bulk job: the stale-item
// reconciler enqueues the lost item tasks again and the job completes.
func TestFaultRedisFlushAll(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{workers: 1, simLatency: 10 * time.Millisecond,
		env: map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "8", "REMEDIATOR_STALE_AFTER": "2s"}})
	tn := s.unthrottled()
	ids := addMembers(tn, "x", 1000)
	job := s.submit(tn.ID(), "disable_user", ids)
	s.waitCount(job.ID, "succeeded", 100, 60*time.Second)
	if err := s.redis.Client().FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flushed := time.Now()
	final := s.waitJob(job.ID, 3*time.Minute)
	t.Logf("job finished %s after FLUSHALL", time.Since(flushed).Round(time.Second))
	s.assertDisabledOnce(tn, final, ids)
	s.assertAllDisabled(job.ID)
	if !strings.Contains(s.logs.String(), "enqueued lost item tasks again") {
		t.Error("the reconciler did not report the lost tasks")
	}
}

// 9. A worker gets SIGTERM while tasks run: it exits within the shutdown
// timeout; the tasks that finished in time are recorded, the two still
// stuck in a slow Graph read are handed back to the queue, and another
// worker completes the job with one outcome per identity.
func TestFaultGracefulShutdown(t *testing.T) {
	t.Parallel()
	const shutdown = 3 * time.Second
	s := newStackWith(t, stackOptions{simLatency: 10 * time.Millisecond, env: map[string]string{
		"REMEDIATOR_WORKER_CONCURRENCY": "8", "REMEDIATOR_SHUTDOWN_TIMEOUT": shutdown.String()}})
	tn := s.unthrottled()
	ids := addMembers(tn, "g", 2000)
	slow := ids[:2]
	for _, id := range slow {
		s.sim.InjectFault(graphsim.FaultSpec{TenantID: tn.ID(), Operation: "GET /users/{id}", UserID: id,
			Latency: 30 * time.Second, Times: 1})
	}
	insp := s.inspector()
	w1 := s.startProc("worker")
	job := s.submit(tn.ID(), "disable_user", ids)
	s.waitCount(job.ID, "succeeded", 300, 60*time.Second)
	start := time.Now()
	w1.term(t, shutdown+5*time.Second)
	if took := time.Since(start); took > shutdown+2*time.Second {
		t.Errorf("worker took %s to stop, shutdown timeout %s", took, shutdown)
	}
	// Finished or handed back: only the two slow items are running, and
	// their tasks wait in the queue again.
	var running []string
	for id, it := range s.items(job.ID) {
		if it.Status == "running" {
			running = append(running, id)
		}
	}
	slices.Sort(running)
	if want := slices.Sorted(slices.Values(slow)); !slices.Equal(running, want) {
		t.Errorf("running after shutdown = %v, want the slow items %v", running, want)
	}
	for seq := range slow {
		ti, err := insp.GetTaskInfo(queue.QueueBulk, queue.ItemTaskID(job.ID, seq))
		if err != nil || ti.State != asynq.TaskStatePending {
			t.Errorf("task of slow item %d: %+v, %v; want pending (handed back)", seq, ti, err)
		}
	}
	s.startProc("worker")
	s.assertDisabledOnce(tn, s.waitJob(job.ID, 3*time.Minute), ids)
	items := s.assertAllDisabled(job.ID)
	for _, id := range slow {
		if items[id].Attempts != 2 {
			t.Errorf("slow item %s: %d attempts, want 2 (interrupted, then run again)", id, items[id].Attempts)
		}
	}
}
