package worker_test

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// Quota of the tests below: Graph allows 200 writes per 10 s (20/s) per
// app and tenant; the tenants' graph_limits say so.
const (
	quotaWrites = 200
	quotaWindow = 10 * time.Second
	quotaRate   = float64(quotaWrites) / 10 // writes per second
)

// startBudgeted starts a worker wired as cmd/remediator wires it: its
// Directories metered by a budget.Gate on the bundle's Redis, the gate
// given to the worker, and a policy flusher without a pacer. It promotes
// scheduled tasks every second (asynq: 5 s) and polls empty queues every
// 200 ms (asynq: 1 s), not every 100 and 50 ms, so that Redis command
// counts are close to those of a deployment. (An idle poll longer than
// the burst of the tests' 10 s windows, 4 writes, would waste budget.)
func (b *bundle) startBudgeted() *worker.Worker {
	b.t.Helper()
	gate := budget.NewGate(b.redis.Client(), budget.Options{})
	w, err := b.newWorker(func(c *worker.Config) {
		c.Directories = budget.Wrap(c.Directories, gate, worker.DefaultLimits, budget.WrapOptions{})
		c.Gate = gate
		c.PolicyFlusher = &actions.PolicyFlusher{Store: b.store}
		c.DelayedTaskCheckInterval = time.Second
		c.TaskCheckInterval = 200 * time.Millisecond
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(w.Shutdown)
	return w
}

// limitTenant sets the Graph write quota of a simulated tenant and the
// matching graph_limits of its stored settings.
func (b *bundle) limitTenant(tn *graphsim.Tenant) {
	b.t.Helper()
	tn.SetQuotas(&graphsim.Quotas{Writes: quotaWrites, WriteWindow: quotaWindow})
	// As the API stores them: with defaults.
	st := remediation.TenantSettings{
		GraphLimits: &remediation.GraphLimits{Writes: quotaWrites, WritesWindowS: quotaWindow.Seconds()},
	}.WithDefaults()
	t, err := b.store.UpdateTenantSettings(b.ctx, tn.ID(), st)
	if err != nil {
		b.t.Fatal(err)
	}
	if l := worker.DefaultLimits(t); l.Writes != quotaWrites || l.WritesWindow != quotaWindow {
		b.t.Fatalf("limits of the tenant: %+v, want %d writes per %s", l, quotaWrites, quotaWindow)
	}
}

// addTenant registers another simulated tenant in the store.
func (b *bundle) addTenant() *graphsim.Tenant {
	b.t.Helper()
	tn := b.sim.AddTenant(graphsim.TenantSpec{ID: uuid.NewString(), ClientID: uuid.NewString(),
		ClientSecret: "test-secret-" + uuid.NewString()})
	sealed, keyID, err := b.box.Seal([]byte(tn.ClientSecret()))
	if err != nil {
		b.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := b.store.CreateTenant(b.ctx, &remediation.Tenant{
		ID: tn.ID(), DisplayName: "Fabrikam", ClientID: tn.ClientID(), Cloud: remediation.CloudCustom,
		GraphEndpoint: b.sim.GraphURL(), AuthorityHost: b.sim.AuthorityURL(), CreatedAt: now, UpdatedAt: now,
		SecretCiphertext: sealed, SecretKeyID: keyID,
	}); err != nil {
		b.t.Fatal(err)
	}
	return tn
}

// addTenantUsers adds n enabled users to tn and returns their object ids.
func addTenantUsers(tn *graphsim.Tenant, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		u := tn.AddUser(graphsim.UserSpec{ID: uuid.NewString(),
			UserPrincipalName: fmt.Sprintf("user%04d-%s@%s", i, uuid.NewString()[:8], tn.Domain()), AccountEnabled: true})
		ids[i] = u.ID
	}
	return ids
}

// submitFor stores a job of tenant tn, with confirm_admin_targets (the
// executor does not read the users' roles: GET and PATCH per item), and
// starts its fan-out.
func (b *bundle) submitFor(tn *graphsim.Tenant, action remediation.Action, priority string, ids ...string) *remediation.Job {
	b.t.Helper()
	job := b.createJobWith(action, priority, func(j *remediation.Job) {
		j.TenantID, j.ConfirmAdminTargets = tn.ID(), true
	}, ids...)
	if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
		b.t.Fatal(err)
	}
	return job
}

// commandStats returns Redis's command counts (INFO commandstats).
func (b *bundle) commandStats() map[string]int64 {
	b.t.Helper()
	info, err := b.redis.Client().Info(b.ctx, "commandstats").Result()
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			b.t.Fatalf("commandstats line %q: %v", line, err)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// maxWindowWrites is the largest number of writes the simulator admitted
// in any window of w whole seconds.
func maxWindowWrites(timeline []int, w int) int {
	best := 0
	for i := range timeline {
		sum := 0
		for j := i; j < min(i+w, len(timeline)); j++ {
			sum += timeline[j]
		}
		best = max(best, sum)
	}
	return best
}

// TestBulkRunsAtTheTenantsQuota disables 600 users on a tenant whose Graph
// quota is 20 writes/s: the job runs at the quota with (nearly) no 429, an
// urgent single-identity job submitted meanwhile finishes at once, and
// each item costs a bounded number of Redis commands.
func TestBulkRunsAtTheTenantsQuota(t *testing.T) {
	t.Parallel()
	const users = 600
	b := setup(t, options{noStart: true})
	b.limitTenant(b.tenant)
	ids := addTenantUsers(b.tenant, users+1)
	urgentID, ids := ids[users], ids[:users]
	b.startBudgeted()
	if err := b.redis.Client().ConfigResetStat(b.ctx).Err(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	job := b.submitFor(b.tenant, remediation.ActionDisableUser, "bulk", ids...)

	// An urgent job in the middle of the bulk one.
	b.eventually(30*time.Second, "a third of the bulk job", func() bool {
		j, err := b.store.GetJob(b.ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j.Counts[remediation.ItemSucceeded] >= users/3
	})
	urgentStart := time.Now()
	urgent := b.submitFor(b.tenant, remediation.ActionDisableUser, "urgent", urgentID)
	urgent = b.waitJob(urgent.ID, 10*time.Second)
	urgentTook := time.Since(urgentStart)

	job = b.waitJob(job.ID, 90*time.Second)
	took := time.Since(start)
	stats := b.tenant.Stats()
	cmds := b.commandStats()

	optimal := time.Duration(float64(users) / quotaRate * float64(time.Second))
	var total int64
	type kv struct {
		name string
		n    int64
	}
	var top []kv
	for name, n := range cmds {
		total += n
		top = append(top, kv{name, n})
	}
	slices.SortFunc(top, func(a, b kv) int { return int(b.n - a.n) })
	perItem := float64(total) / float64(users+1)
	t.Logf("bulk disable of %d users at %g writes/s: %s (optimal %s, %.2f×); urgent job: %s",
		users, quotaRate, took.Round(time.Millisecond), optimal, took.Seconds()/optimal.Seconds(), urgentTook.Round(time.Millisecond))
	t.Logf("graph: %d requests, %d writes, %d throttled (%.2f%%), busiest %s: %d writes (quota %d)",
		stats.Requests, stats.Writes, stats.Throttled, 100*float64(stats.Throttled)/float64(stats.Requests),
		quotaWindow, maxWindowWrites(b.tenant.WriteTimeline(), int(quotaWindow.Seconds())), quotaWrites)
	t.Logf("redis: %d commands, %.1f per item; top: %v", total, perItem, top)

	if job.Counts[remediation.ItemSucceeded] != users || urgent.Counts[remediation.ItemSucceeded] != 1 {
		t.Fatalf("bulk counts %v, urgent counts %v: want every item succeeded", job.Counts, urgent.Counts)
	}
	for _, id := range append(ids[:5:5], urgentID) {
		if u, _ := b.tenant.User(id); u.AccountEnabled || u.PatchCount != 1 {
			t.Errorf("user %s: enabled=%v patches=%d, want disabled by one PATCH", id, u.AccountEnabled, u.PatchCount)
		}
	}
	if max429 := math.Ceil(0.005 * float64(stats.Requests)); float64(stats.Throttled) > max429 {
		t.Errorf("%d of %d Graph requests throttled, want at most 0.5%%", stats.Throttled, stats.Requests)
	}
	if limit := time.Duration(1.3*float64(optimal)) + 3*time.Second; took > limit {
		t.Errorf("bulk job took %s, want at most %s (1.3 × %d users / %g writes/s + 3 s)", took, limit, users, quotaRate)
	}
	if urgentTook > 2500*time.Millisecond {
		t.Errorf("urgent job took %s during the bulk job, want about 2 s at most", urgentTook)
	}
	if perItem >= 60 {
		t.Errorf("%.1f Redis commands per item, want fewer than 60", perItem)
	}
}

// TestThrottledTenantDoesNotSlowAnother injects a storm of 429s for one
// tenant while another tenant's bulk job runs: the throttled tenant pauses
// (its items give their workers back instead of queuing in front of the
// other tenant's), and the other job runs at its own quota.
func TestThrottledTenantDoesNotSlowAnother(t *testing.T) {
	t.Parallel()
	const users = 200
	b := setup(t, options{noStart: true})
	stormy, calm := b.tenant, b.addTenant()
	b.limitTenant(stormy)
	b.limitTenant(calm)
	stormyIDs, calmIDs := addTenantUsers(stormy, 300), addTenantUsers(calm, users)
	fault := b.sim.InjectFault(graphsim.FaultSpec{TenantID: stormy.ID(), Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	b.startBudgeted()

	stormStart := time.Now()
	stormJob := b.submitFor(stormy, remediation.ActionDisableUser, "bulk", stormyIDs...)
	b.eventually(10*time.Second, "the storm to start", func() bool { return b.sim.FaultHits(fault) > 0 })
	start := time.Now()
	job := b.submitFor(calm, remediation.ActionDisableUser, "bulk", calmIDs...)
	job = b.waitJob(job.ID, 60*time.Second)
	took := time.Since(start)
	stormFor, hits := time.Since(stormStart), b.sim.FaultHits(fault)
	sj, err := b.store.GetJob(b.ctx, stormJob.ID)
	if err != nil {
		t.Fatal(err)
	}

	optimal := time.Duration(float64(users) / quotaRate * float64(time.Second))
	t.Logf("calm tenant: %d users in %s (optimal %s, %.2f×), %d throttled; stormy tenant: %d 429s in %s (%.1f/s), items %v",
		users, took.Round(time.Millisecond), optimal, took.Seconds()/optimal.Seconds(), calm.Stats().Throttled,
		hits, stormFor.Round(time.Millisecond), float64(hits)/stormFor.Seconds(), sj.Counts)

	if job.Counts[remediation.ItemSucceeded] != users {
		t.Fatalf("calm job counts %v, want every item succeeded", job.Counts)
	}
	if limit := time.Duration(1.3*float64(optimal)) + 3*time.Second; took > limit {
		t.Errorf("calm tenant's job took %s during the other tenant's storm, want at most %s", took, limit)
	}
	// The stormy tenant is paused after each 429 (Retry-After 1 s): it
	// sees a handful of requests per second, not a hammering.
	if rate := float64(hits) / stormFor.Seconds(); rate > 5 {
		t.Errorf("stormy tenant got %.1f requests/s during its storm, want its pause to hold its items back", rate)
	}
}
