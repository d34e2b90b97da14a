package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
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
			"(TaskID, MaxRetry, Timeout, no Retention).\n\n", o.Items, o.Bare.Tasks, o.Workers, o.Concurrency)
		p("| | items | seconds | items/s | Redis commands / item | of which script runs |\n|---|---|---|---|---|---|\n")
		p("| ours | %d | %.1f | %.0f | %.1f | %.1f |\n", o.Items, o.Seconds, o.ItemsPerS, o.RedisCmdsPerItem, o.RedisEvalPerItem)
		p("| bare asynq | %d | %.1f | %.0f | %.1f | %.1f |\n\n", o.Bare.Tasks, o.Bare.Seconds, o.Bare.TasksPerS, o.Bare.RedisCmdsPerItem, o.Bare.RedisEvalPerItem)
		p("Ratio %.2f (target ≥ 0.30). Outcomes: %s; %d Graph requests (%.1f per item). POST of the job: %.0f ms. "+
			"Redis commands are INFO commandstats deltas over the run (commands run inside Lua scripts included, INFO "+
			"itself excluded; background polling of idle queues included).\n\n",
			o.Ratio, counts(o.Counts), o.GraphRequests, float64(o.GraphRequests)/float64(max(o.Done, 1)), o.PostMS)
		if o.Stopped {
			p("**Stopped at the deadline** (-job-deadline): %d of %d items were done; the rate is items done / time "+
				"until the deadline, and the job was canceled.\n\n", o.Done, o.Items)
		}
		p("CPU time of this process (API, workers, simulator, load generator): %.1f s per 1,000 items. Load average "+
			"%s before, %s after (the machine is shared).\n\n", o.CPUSecondsPerKItem, o.LoadBefore, o.LoadAfter)
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
	}
	if len(r.MFA) > 0 {
		p("## 4. Bulk MFA under the Conditional Access limit\n\n")
		p("`enforce_mfa` for many users of one tenant; the simulator answers Conditional Access requests beyond " +
			"1 per second per tenant with 429 without Retry-After (real time, not scaled); no other quota, no latency. " +
			"Each tenant setting (`mfa_targeting`) is one run.\n\n")
		p("| mfa_targeting | users | seconds | CA writes | CA requests | CA 429 | other Graph writes | outcomes |\n|---|---|---|---|---|---|---|---|\n")
		for _, m := range r.MFA {
			p("| %s | %d | %.1f | %d | %d | %d | %d | %s |\n", m.Targeting, m.Identities, m.Seconds, m.CAWrites,
				m.CARequests, m.CAThrottled, m.OtherWrites, counts(m.Counts))
		}
		for _, m := range r.MFA {
			if m.Stopped {
				p("\n%s: **stopped at the deadline** with %d of %d items done (canceled).\n", m.Targeting, m.Done, m.Identities)
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
				"its items written in one PostgreSQL transaction, one fan-out task enqueued). Canceling it right after "+
				"(POST …/cancel, all pending items at once) took %.0f ms. This ran last, on an otherwise idle service.\n\n",
				a.Identities, float64(a.BodyBytes)/1e6, a.PostMS, a.CancelMS)
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
	p("Peak RSS of the bench process (VmHWM of /proc/self/status): **%.0f MB**. It holds the API, the worker replicas, "+
		"the Graph simulators with every seeded user, and the load generators, so it bounds what the API and a worker "+
		"need from above.\n\n", m.PeakRSSMB)
	if len(m.PeakRSSAfterMB) > 0 {
		p("| after | peak RSS so far |\n|---|---|\n")
		for _, k := range rssOrder(m.PeakRSSAfterMB) {
			p("| %s | %.0f MB |\n", k, m.PeakRSSAfterMB[k])
		}
		p("\n")
	}
	p("Redis: **%.0f bytes of used_memory per queued item task**, measured by enqueueing %d item tasks with the "+
		"real queue client into a Redis database no worker reads. Redis used_memory_peak over the run: %.1f MB.\n\n",
		m.RedisBytesPerItem, m.QueuedItems, m.RedisUsedMemoryPeakM)
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
	order := []string{"setup", "overhead", "quota", "burst baseline", "bulk mfa", "accept"}
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
		"(pg_stat_activity state / wait event, average number of sessions):\n\n| state / wait | sessions |\n|---|---|\n")
	for _, w := range waits {
		fmt.Fprintf(b, "| %s | %.1f |\n", w.State, w.Sessions)
	}
	b.WriteString("\n")
}
