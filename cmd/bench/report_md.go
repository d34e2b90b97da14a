package main

import (
	"cmp"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// mdSections renders one section per scenario.
func (r *report) mdSections(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if o := r.Overhead; o != nil {
		p("## 1. Overhead: end-to-end throughput against bare asynq\n\n")
		p("A %d-identity `revoke_sessions` job against an unthrottled, zero-latency simulator: from the POST to the job's "+
			"`finished_at` (fan-out, one asynq task per identity, two Graph calls over HTTPS through msgraph-sdk-go, every "+
			"status change a PostgreSQL transaction). Bare asynq: %d no-op tasks through %d asynq server(s) × %d concurrency "+
			"on the same Redis, enqueued from 16 goroutines while the servers run, with the options our item tasks carry "+
			"(TaskID, MaxRetry, Timeout, no Retention). The tenant's graph_limits are out of reach, so the Graph budget "+
			"meters every call (Redis commands included below) but never waits.\n\n", o.Items, o.Bare.Tasks, o.Workers, o.Concurrency)
		p("| | items | seconds | items/s | Redis commands / item | of which script runs |\n|---|---|---|---|---|---|\n")
		p("| ours | %s | %.1f | %.0f | %.1f | %.1f |\n", doneOf(o.Done, o.Items), o.Seconds, o.ItemsPerS, o.RedisCmdsPerItem, o.RedisEvalPerItem)
		p("| bare asynq | %d | %.1f | %.0f | %.1f | %.1f |\n\n", o.Bare.Tasks, o.Bare.Seconds, o.Bare.TasksPerS, o.Bare.RedisCmdsPerItem, o.Bare.RedisEvalPerItem)
		p("Ratio %.2f (target ≥ 0.30). Outcomes: %s; %d Graph requests (%.1f per item). POST of the job: %.0f ms. "+
			"Redis commands are INFO commandstats deltas over the run (commands run inside Lua scripts included, INFO "+
			"itself excluded; background polling of idle queues included).\n\n",
			o.Ratio, counts(o.Counts), o.GraphRequests, float64(o.GraphRequests)/float64(max(o.Done, 1)), o.PostMS)
		if len(o.RedisByCommand) > 0 {
			p("Redis commands per item by name, ours / bare asynq (0.05 or more): %s.\n\n", commandMix(o.RedisByCommand, o.Bare.RedisByCommand))
		}
		if o.Stopped {
			p("**Stopped at the deadline** (-job-deadline): %d of %d items were done; the rate is items done / time "+
				"until the deadline, and the job was canceled. Redis commands per item are per item done, but include "+
				"the fan-out of all %d items, so they overstate the steady state.\n\n", o.Done, o.Items, o.Items)
		}
		p("%s", drainNote(o.Drain))
		p("CPU time per 1,000 items (user + system, from /proc; this process holds the API, the workers, the "+
			"simulator and the load generator):\n\n| | this process | PostgreSQL | redis-server | total | items/s the %d "+
			"CPUs allow at most |\n|---|---|---|---|---|---|\n", runtime.NumCPU())
		for _, x := range []struct {
			name string
			c    cpuPerK
		}{{"ours", o.CPU}, {"bare asynq", o.Bare.CPU}} {
			bound := "—"
			if x.c.Total > 0 {
				bound = fmt.Sprintf("%.0f", 1000*float64(runtime.NumCPU())/x.c.Total)
			}
			p("| %s | %.2f s | %.2f s | %.2f s | %.2f s | %s |\n", x.name, x.c.Self, x.c.Postgres, x.c.Redis, x.c.Total, bound)
		}
		p("\nLoad average %s before, %s after (the machine is shared).\n\n", o.LoadBefore, o.LoadAfter)
		pgWaitTable(b, o.PGWaits)
	}
	if q := r.Quota; q != nil {
		p("## 2. Quota efficiency under the write quota\n\n")
		p("A %d-identity `disable_user` job on one tenant, simulator quotas on at time scale %g (the write quota of "+
			"3,000 per 150 s becomes %d per %.0f s = %.0f writes/s), %.0f ms latency on every Graph call. Best time = "+
			"writes / allowed writes per second = %d / %.0f = %.1f s (a client could also spend the first window's %d "+
			"writes at once, so a perfect client can finish slightly sooner than that).\n\n",
			q.Identities, q.TimeScale, q.QuotaWindowLimit, q.QuotaWindowSecs, q.AllowedWritesPS, q.LatencyMS,
			q.Writes, q.AllowedWritesPS, q.BestSeconds, q.BurstWrites)
		p("| completion | best | ratio (target ≤ 1.10) | Graph calls | 429 | 429 share (target ≤ 0.5 %%) | outcomes |\n|---|---|---|---|---|---|---|\n")
		p("| %.1f s | %.1f s | %.2f× | %d | %d | %.2f %% | %s |\n\n", q.Seconds, q.BestSeconds, q.Efficiency,
			q.Requests, q.Throttled, 100*q.ThrottledShare, counts(q.Counts))
		if q.Stopped {
			p("**Stopped at the deadline** (-job-deadline): %d of %d items were done; completion is the time until the "+
				"deadline and best is the best time for the writes done by then, and the job was canceled.\n\n", q.Done, q.Identities)
		}
		p("%s", drainNote(q.Drain))
		if q.RedisCmdsPerItem > 0 {
			p("Redis commands per bulk item done, everything that ran meanwhile included (the urgent jobs of section 3, "+
				"the polling of section 5 through the API's rate limiter, idle polling): **%.1f**. The items wait for "+
				"their budget in asynq's scheduled set at their paced start time, not by bouncing through Redis; against "+
				"section 1 (no pacing, no polling) the extra commands are the scheduled set (ZADD, ZREM, HSET), the "+
				"API's rate limiter, idle polling, and a second budget script for most items (a bulk item books its "+
				"lane's buckets, sleeps, then takes the shared ones: EVALSHA, TIME, MGET, PTTL). By name: %s.\n\n", q.RedisCmdsPerItem, commandMix(q.RedisByCommand, nil))
		}
		pgWaitTable(b, q.PGWaits)
		p("![Graph writes per second](writes.svg)\n\n")
		p("Admitted Graph writes per second of the tenant (the simulator's WriteTimeline), from the POST on, with the " +
			"sustained quota line; the baselines of section 7 ran on their own tenants under the same quotas and are " +
			"drawn from their own start. Writes of the same-tenant urgent jobs of section 3 are included.\n\n")
	}
	if u := r.Urgency; u != nil {
		p("## 3. Urgency: single-identity jobs during the bulk job\n\n")
		p("One single-identity `disable_user` job per second on the bulk job's tenant and one on another tenant (same "+
			"simulator, same quotas, %.0f ms latency), while section 2 runs. Time from the start of the POST to the "+
			"job's `finished_at` with its item succeeded (polled every 20 ms). Target p99 < 1 s + two latencies = %.0f ms.\n\n",
			u.LatencyMS, u.TargetMS)
		p("| tenant | n | failed or timed out | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
		p("| same as the bulk job | %d | %d | %.0f ms | %.0f ms | %.0f ms |\n", u.SameTenant.N, u.SameTenant.Failed, u.SameTenant.P50MS, u.SameTenant.P99MS, u.SameTenant.MaxMS)
		p("| another tenant | %d | %d | %.0f ms | %.0f ms | %.0f ms |\n\n", u.OtherTenant.N, u.OtherTenant.Failed, u.OtherTenant.P50MS, u.OtherTenant.P99MS, u.OtherTenant.MaxMS)
		if len(u.SameTenant.Phases) > 0 || len(u.OtherTenant.Phases) > 0 {
			p("Where the time goes (each phase's own percentiles; the job's timestamps are the store's clock, taken when " +
				"a group transaction begins):\n\n| tenant | phase | p50 | p99 | max |\n|---|---|---|---|---|\n")
			for _, t := range []struct {
				name string
				set  *latencySet
			}{{"same", &u.SameTenant}, {"other", &u.OtherTenant}} {
				for _, ph := range t.set.Phases {
					p("| %s | %s | %.0f ms | %.0f ms | %.0f ms |\n", t.name, ph.Name, ph.P50MS, ph.P99MS, ph.MaxMS)
				}
			}
			p("\n")
		}
	}
	if len(r.MFA) > 0 {
		p("## 4. Bulk MFA under the Conditional Access limit\n\n")
		p("`enforce_mfa` for many users of one tenant, on the unscaled simulator (no latency) with Graph's quotas " +
			"in real time: Conditional Access requests beyond 1 per second per tenant are answered 429 without " +
			"Retry-After, and the identity quotas (resource units, writes) apply. The tenants have no graph_limits, so " +
			"the Graph budget uses Microsoft's defaults for a tenant of unknown size. One run per `mfa_targeting` " +
			"setting; with `group`, users are added to a managed security group (the other Graph writes).\n\n")
		p("| mfa_targeting | users | seconds | CA writes | CA requests | CA 429 | other Graph writes | outcomes |\n|---|---|---|---|---|---|---|---|\n")
		for _, m := range r.MFA {
			p("| %s | %d | %.1f | %d | %d | %d | %d | %s |\n", m.Targeting, m.Identities, m.Seconds, m.CAWrites,
				m.CARequests, m.CAThrottled, m.OtherWrites, counts(m.Counts))
		}
		for _, m := range r.MFA {
			if m.Stopped {
				p("\n%s: **stopped at the deadline** with %d of %d items done (canceled). %s", m.Targeting, m.Done, m.Identities, drainNote(m.Drain))
			}
			if m.Error != "" {
				p("\n%s: %s\n", m.Targeting, m.Error)
			}
		}
		p("\n")
	}
	if r.Accept != nil || r.Poll != nil {
		p("## 5. API\n\n")
		if a := r.Accept; a != nil {
			p("Accepting a %d-identity `revoke_sessions` job (%.1f MB body): **%.0f ms** from request to 202 (the job and "+
				"its items written in one PostgreSQL transaction, one fan-out task enqueued). Canceling it right after: "+
				"the answer to POST …/cancel (no item starts from then on; the rows of the first %d items canceled) took "+
				"**%.0f ms** and counted %d of %d items canceled (those not started, whatever their rows say yet). Every "+
				"row was canceled (job `canceled`, by the fan-out task, %d items per transaction) %.0f ms after the "+
				"request. Both ran on an otherwise idle service.\n\n",
				a.Identities, float64(a.BodyBytes)/1e6, a.PostMS, remediation.CancelWindow, a.CancelMS, a.AnswerCanceled,
				a.Identities, remediation.CancelWindow, a.CanceledMS)
		}
		if q := r.Poll; q != nil {
			p("`GET /v1/remediations/{id}` of the bulk job during section 2, open loop at %d requests/s (at most 256 in "+
				"flight): %.0f requests/s achieved, p50 **%.1f ms**, p99 **%.1f ms**, max %.1f ms, %d errors, %d skipped "+
				"because 256 were in flight.\n\n", q.TargetRPS, q.AchievedRPS, q.Latency.P50MS, q.Latency.P99MS,
				q.Latency.MaxMS, q.Errors, q.Skipped)
		}
	}
	r.mdMemory(b)
	r.mdBaselines(b)
	if obs := r.observations(); len(obs) > 0 {
		p("## Observations\n\n")
		for _, o := range obs {
			p("- %s\n", o)
		}
		p("\n")
	}
	p("## Method and caveats\n\n")
	p("- One process: the API, the worker replicas, both Graph simulators and the load generators share the machine's " +
		"CPUs with redis-server and PostgreSQL; the simulator's TLS and JSON work is part of every figure.\n")
	p("- Time scale: quota windows (and Retry-After) of the throttled simulator run faster; latencies and the " +
		"Conditional Access limit of section 4 are real time. asynq's own clocks (retry times in whole seconds, " +
		"delayed tasks promoted every 5 s) are not scaled, which penalizes any design that waits in asynq's retry set.\n")
	p("- Baselines use net/http, not msgraph-sdk-go (the SDK may only be imported by internal/graph): they emulate " +
		"the SDK's default retry handler (kiota-http-go v1.5.4), over HTTP/2 as the SDK does.\n")
}

func (r *report) mdMemory(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	m := r.Memory
	p("## 6. Memory\n\n")
	p("Peak RSS of the bench process (VmHWM of /proc/self/status) before the last baseline ran: **%.0f MB**; at the "+
		"end: %.0f MB. The API and the worker replicas run in this process, together with the Graph simulators "+
		"(every seeded user in memory) and the load generators, so the first figure bounds what the API and the "+
		"workers needed from above; the one-goroutine-per-identity baseline (section 7) runs last, in the same "+
		"process, and accounts for the rest.\n\n", m.ServicePeakRSSMB, m.PeakRSSMB)
	if len(m.PeakRSSAfterMB) > 0 {
		p("| after | peak RSS so far |\n|---|---|\n")
		for _, k := range rssOrder(m.PeakRSSAfterMB) {
			p("| %s | %.0f MB |\n", k, m.PeakRSSAfterMB[k])
		}
		p("\n")
	}
	if m.QueuedItems > 0 {
		p("Redis: **%.0f bytes of used_memory per queued item task**, measured by enqueueing %d item tasks with the "+
			"real queue client into a Redis database no worker reads. ", m.RedisBytesPerItem, m.QueuedItems)
	}
	p("Redis used_memory_peak over the run: %.1f MB.\n\n", m.RedisUsedMemoryPeakM)
}

func (r *report) mdBaselines(b *strings.Builder) {
	if len(r.Baseline) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## 7. Baselines under the same quota\n\n")
	p("What an admin script does for each user: `GET /users/{id}?$select=id,accountEnabled`, then `PATCH /users/{id}` "+
		"`{\"accountEnabled\":false}`, through a plain HTTP client behaving like msgraph-sdk-go's default retry "+
		"handler (up to 3 retries after the first try on 429/503/504, sleeping Retry-After, else 3 s·2^n plus "+
		"jitter; a user whose call still fails is left enabled). Each ran on its own tenant of the throttled "+
		"simulator (same quotas, time scale and %.0f ms latency as section 2). The sequential loop ran during "+
		"section 2 (it is latency-bound and hardly uses CPU) on fewer users; its time for the bulk job's size is "+
		"projected from its rate.\n\n", r.Setup.LatencyMS)
	p("| approach | identities | seconds | disabled | left enabled | Graph calls | 429 | 429 share | disabled/s |\n|---|---|---|---|---|---|---|---|---|\n")
	if q := r.Quota; q != nil {
		p("| ours (section 2) | %d | %.1f | %d | %d | %d | %d | %.2f %% | %.0f |\n", q.Identities, q.Seconds,
			q.Counts["succeeded"], q.Identities-q.Counts["succeeded"], q.Requests, q.Throttled, 100*q.ThrottledShare,
			float64(q.Counts["succeeded"])/max(q.Seconds, 1e-9))
	}
	for _, x := range r.Baseline {
		p("| %s | %d | %.1f | %d | %d | %d | %d | %.2f %% | %.1f |\n", x.Name, x.Identities, x.Seconds, x.Disabled,
			x.Failed, x.Requests, x.Throttled, 100*x.ThrottledShare, x.ItemsPerS)
	}
	for _, x := range r.Baseline {
		if x.ProjectedFor > 0 {
			p("\n%s: %d identities would take about %.0f s (%.1f min) at its rate.", x.Name, x.ProjectedFor, x.ProjectedS, x.ProjectedS/60)
		}
		if x.Error != "" {
			p("\n%s: error: %s", x.Name, x.Error)
		}
		if len(x.Why) > 0 {
			var why []string
			for _, k := range slices.Sorted(maps.Keys(x.Why)) {
				why = append(why, fmt.Sprintf("%s: %d", k, x.Why[k]))
			}
			p("\n%s: users left enabled, by their last failed call: %s.", x.Name, strings.Join(why, ", "))
		}
	}
	p("\n\n")
}

// counts renders item counts in a fixed order.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "—"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// rssOrder lists the checkpoints in the order the scenarios ran.
func rssOrder(m map[string]float64) []string {
	order := []string{"setup", "overhead", "quota", "bulk mfa", "accept", "burst baseline"}
	var out []string
	for _, k := range order {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// pgWaitTable renders what the bench database's sessions were doing.
func pgWaitTable(b *strings.Builder, waits []pgWait) {
	if len(waits) == 0 {
		return
	}
	fmt.Fprintf(b, "PostgreSQL sessions of the bench database that were not idle, sampled every second "+
		"(pg_stat_activity: state / wait event / statement, average number of sessions; each worker's and the API's "+
		"store pool holds at most 32 connections):\n\n| state / wait / statement | sessions |\n|---|---|\n")
	for _, w := range waits {
		fmt.Fprintf(b, "| %s | %.1f |\n", strings.ReplaceAll(w.State, "|", "\\|"), w.Sessions)
	}
	b.WriteString("\n")
}

// observations are facts the figures show, stated where a threshold makes
// them plain.
func (r *report) observations() []string {
	var out []string
	if o := r.Overhead; o != nil {
		if w := lockWait(o.PGWaits); w >= 1 {
			out = append(out, fmt.Sprintf("Section 1: on average %.1f PostgreSQL sessions were waiting for a row lock "+
				"(Lock:tuple / Lock:transactionid) while the job ran (see the statements above). Every item transition of "+
				"a job locks the job's row first (internal/history lockJob, SELECT … FOR UPDATE), so one job's items are "+
				"recorded one at a time whatever the number of workers: this bounds a single bulk job's throughput, and "+
				"the waiting transactions hold connections of the store pools (32 each) that other jobs then lack.", w))
		}
	}
	if q := r.Quota; q != nil {
		if q.ThrottledShare <= 0.005 && q.WritesPS < 0.9*q.AllowedWritesPS {
			out = append(out, fmt.Sprintf("Section 2: Graph answered 429 to %.2f %% of the calls, but the job reached "+
				"only %.0f writes/s of the %.0f the quota allows: the limit was the service's own throughput, not "+
				"Graph's quota.", 100*q.ThrottledShare, q.WritesPS, q.AllowedWritesPS))
		}
		if w := lockWait(q.PGWaits); w >= 1 {
			out = append(out, fmt.Sprintf("Section 2: on average %.1f PostgreSQL sessions waited for a row lock (the "+
				"same job-row lock), out of at most %d connections of the workers' store pools.", w, 32*r.Setup.Workers))
		}
	}
	if o := r.Overhead; o != nil && o.Drain != nil && o.Drain.LeftoverTasks > 0 && o.Drain.DrainedPerS > 0 {
		out = append(out, fmt.Sprintf("Canceling a job leaves its item tasks in the queue: each one still takes a worker "+
			"run (and a store transaction) to be dropped. After section 1's cancel, %d tasks were dropped at %.0f/s: "+
			"they would have held the bulk queue for about %.0f s before any other bulk job's items.",
			o.Drain.LeftoverTasks, o.Drain.DrainedPerS, float64(o.Drain.LeftoverTasks)/o.Drain.DrainedPerS))
	}
	if u := r.Urgency; u != nil && u.SameTenant.N > 0 && u.OtherTenant.N > 0 &&
		u.OtherTenant.P99MS > u.TargetMS && u.OtherTenant.P99MS > 0.5*u.SameTenant.P99MS {
		out = append(out, fmt.Sprintf("Section 3: single-identity jobs of the other tenant (p99 %.0f ms) were about as "+
			"slow as those of the bulk job's tenant (p99 %.0f ms): the delay comes from capacity every tenant shares "+
			"(workers, Redis, the history store, the CPU), not from the tenant's Graph budget.",
			u.OtherTenant.P99MS, u.SameTenant.P99MS))
	}
	return out
}

// lockWait is the average number of sessions waiting for a lock.
func lockWait(ws []pgWait) float64 {
	var n float64
	for _, w := range ws {
		if strings.Contains(w.State, "Lock:tuple") || strings.Contains(w.State, "Lock:transactionid") {
			n += w.Sessions
		}
	}
	return n
}

// drainNote describes the canceled job's tasks left in the bulk queue.
func drainNote(d *drainResult) string {
	if d == nil || d.LeftoverTasks == 0 && d.Deleted == 0 {
		return ""
	}
	return fmt.Sprintf("After the cancel, %d item tasks of the job were still queued in asynq; the workers dropped "+
		"them at %.0f tasks/s (watched for up to 5 s), and the bench deleted the %d left so that the next scenario "+
		"starts on an empty queue.\n\n", d.LeftoverTasks, d.DrainedPerS, d.Deleted)
}

// doneOf renders "done of total" when they differ.
func doneOf(done, total int) string {
	if done == total {
		return fmt.Sprint(total)
	}
	return fmt.Sprintf("%d of %d", done, total)
}

// commandMix lists the commands of ours, most used first, with bare's
// figure beside each.
func commandMix(ours, bare map[string]float64) string {
	names := slices.Collect(maps.Keys(ours))
	for name := range bare {
		if _, ok := ours[name]; !ok {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(ours[b], ours[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %.2f / %.2f", strings.ToUpper(name), ours[name], bare[name])
	}
	return strings.Join(parts, ", ")
}
