package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// run builds the stack, runs every scenario and writes the report.
func run(ctx context.Context, cfg config, out io.Writer) error {
	t0 := time.Now()
	// Users for the single-identity jobs of scenario 3 (one per second per
	// tenant while the bulk job runs).
	urgentUsers := int(cfg.jobDeadline.Seconds()) + 60
	rep := &report{Started: t0, Mode: "full"}
	if cfg.quick {
		rep.Mode = "quick"
	}
	step(out, t0, "starting redis-server, a PostgreSQL database and two Graph simulators")
	s, err := newStack(ctx, cfg, newLogger(cfg.logLevel))
	if err != nil {
		return err
	}
	defer s.close()
	fast, err := newSimulator(graphsim.Options{})
	if err != nil {
		return err
	}
	defer fast.Close()
	slow, err := newSimulator(graphsim.Options{Latency: cfg.latency, Quotas: &graphsim.Quotas{}, TimeScale: cfg.timeScale})
	if err != nil {
		return err
	}
	defer slow.Close()
	s.trust(fast)
	s.trust(slow)

	step(out, t0, "seeding users")
	ov := fast.AddTenant(graphsim.TenantSpec{DisplayName: "Bench overhead"})
	ovIDs := seedUsers(ov, "ov", cfg.overheadN)
	acc := fast.AddTenant(graphsim.TenantSpec{DisplayName: "Bench accept"})
	mfaU := fast.AddTenant(graphsim.TenantSpec{DisplayName: "Bench MFA users"})
	mfaUIDs := seedUsers(mfaU, "mu", cfg.mfaN)
	mfaG := fast.AddTenant(graphsim.TenantSpec{DisplayName: "Bench MFA group"})
	mfaGIDs := seedUsers(mfaG, "mg", cfg.mfaN)

	e := &quotaEnv{sim: slow, timeScale: cfg.timeScale, latency: cfg.latency, getRPS: cfg.getRPS}
	e.bulk, e.bulkAdded = slow.AddTenant(graphsim.TenantSpec{DisplayName: "Bench bulk"}), time.Now()
	e.ids = seedUsers(e.bulk, "b", cfg.quotaN)
	e.urgentSame = seedUsers(e.bulk, "bu", urgentUsers)
	e.other = slow.AddTenant(graphsim.TenantSpec{DisplayName: "Bench other"})
	e.urgentO = seedUsers(e.other, "o", urgentUsers)
	e.seq, e.seqAdded = slow.AddTenant(graphsim.TenantSpec{DisplayName: "Bench sequential"}), time.Now()
	e.seqIDs = seedUsers(e.seq, "s", cfg.seqN)
	burst, burstAdded := slow.AddTenant(graphsim.TenantSpec{DisplayName: "Bench burst"}), time.Now()
	burstIDs := seedUsers(burst, "g", cfg.quotaN)

	// The simulator does not throttle the overhead and accept tenants:
	// their graph_limits say so. The MFA tenants get Graph's quotas in real
	// time (and its 1 CA request/s) with the default limits; the
	// throttled simulator's tenants get limits at its time scale.
	mfaU.SetQuotas(&graphsim.Quotas{})
	mfaG.SetQuotas(&graphsim.Quotas{})
	unlimited := remediation.TenantSettings{GraphLimits: unlimitedGraph()}
	scaled := remediation.TenantSettings{GraphLimits: scaledGraph(cfg.timeScale)}
	for _, x := range []struct {
		sim      *graphsim.Server
		t        *graphsim.Tenant
		settings remediation.TenantSettings
	}{
		{fast, ov, unlimited}, {fast, acc, unlimited}, {fast, mfaU, remediation.TenantSettings{}},
		{fast, mfaG, remediation.TenantSettings{MFATargeting: remediation.MFATargetGroup}},
		{slow, e.bulk, scaled}, {slow, e.other, scaled},
	} {
		if err := s.register(ctx, x.sim, x.t, x.t.Domain(), x.settings); err != nil {
			return err
		}
	}
	step(out, t0, "starting the API and %d worker(s) × %d concurrency", cfg.workers, cfg.concurrency)
	if err := s.start(ctx); err != nil {
		return err
	}
	c := &apiClient{base: s.baseURL(), key: s.apiKey, http: newHTTPClient()}
	rep.Machine = machineInfo(ctx, s)
	rep.Setup = setupInfo(cfg)
	rep.Memory.PeakRSSAfterMB = map[string]float64{"setup": peakRSSMB()}
	fail := func(what string, err error) {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, err))
		step(out, t0, "%s FAILED: %v", what, err)
	}

	if cfg.runs("overhead") {
		step(out, t0, "1. overhead: %d-identity revoke_sessions job, then bare asynq", cfg.overheadN)
		if rep.Overhead, err = runOverhead(ctx, s, c, out, ov.ID(), ovIDs, func() int { return ov.Stats().Requests }); err != nil {
			fail("1. overhead", err)
		} else {
			step(out, t0, "   ours %.0f items/s, bare asynq %.0f tasks/s", rep.Overhead.ItemsPerS, rep.Overhead.Bare.TasksPerS)
		}
		rep.Memory.PeakRSSAfterMB["overhead"] = peakRSSMB()
	}

	if cfg.runs("memory") {
		step(out, t0, "6. Redis memory per queued item task (%d tasks)", cfg.overheadN)
		rep.Memory.QueuedItems = cfg.overheadN
		if rep.Memory.RedisBytesPerItem, err = redisBytesPerItem(ctx, s, cfg.overheadN); err != nil {
			fail("6. redis memory", err)
		}
	}

	if cfg.runs("quota") {
		step(out, t0, "2/3/5/7. %d-identity disable_user job under the write quota (time scale %g, latency %s), urgent jobs, polling, sequential baseline (%d users)",
			cfg.quotaN, cfg.timeScale, cfg.latency, cfg.seqN)
		var seq *baselineResult
		if rep.Quota, rep.Urgency, rep.Poll, seq, err = runQuota(ctx, s, c, out, e); err != nil {
			fail("2. quota", err)
		} else {
			step(out, t0, "   %.1f s (best %.1f s), %d × 429", rep.Quota.Seconds, rep.Quota.BestSeconds, rep.Quota.Throttled)
			if seq.ItemsPerS > 0 {
				seq.ProjectedFor, seq.ProjectedS = cfg.quotaN, float64(cfg.quotaN)/seq.ItemsPerS
			}
			rep.Baseline = append(rep.Baseline, seq)
		}
		rep.Memory.PeakRSSAfterMB["quota"] = peakRSSMB()
	}

	if cfg.runs("mfa") {
		step(out, t0, "4. enforce_mfa for %d users (mfa_targeting users, then group)", cfg.mfaN)
		mfaDeadline := max(cfg.jobDeadline*2/5, 30*time.Second)
		rep.MFA = append(rep.MFA, runMFA(ctx, s, c, out, mfaU, remediation.MFATargetUsers, mfaUIDs, mfaDeadline))
		rep.MFA = append(rep.MFA, runMFA(ctx, s, c, out, mfaG, remediation.MFATargetGroup, mfaGIDs, mfaDeadline))
		rep.Memory.PeakRSSAfterMB["bulk mfa"] = peakRSSMB()
	}

	if cfg.runs("accept") {
		step(out, t0, "5. accepting a %d-identity job (then canceling it)", cfg.acceptN)
		if rep.Accept, err = runAccept(ctx, s, c, acc.ID(), cfg.acceptN); err != nil {
			fail("5. accept", err)
		}
		rep.Memory.PeakRSSAfterMB["accept"] = peakRSSMB()
	}

	rep.Memory.ServicePeakRSSMB = peakRSSMB()

	if cfg.runs("burst") {
		step(out, t0, "7. baseline: one goroutine per identity (%d)", cfg.quotaN)
		rep.Baseline = append(rep.Baseline, runBurstBaseline(ctx, slow, burst, burstAdded, burstIDs))
		rep.Memory.PeakRSSAfterMB["burst baseline"] = peakRSSMB()
	}

	rep.Memory.PeakRSSMB = peakRSSMB()
	if peak, err := usedMemory(ctx, s.rdb, "used_memory_peak"); err == nil {
		rep.Memory.RedisUsedMemoryPeakM = float64(peak) / 1e6
	}
	rep.Seconds = time.Since(t0).Seconds()
	rep.evaluate()
	if err := rep.write(cfg.out); err != nil {
		return err
	}
	fmt.Fprintln(out)
	rep.printTable(out)
	fmt.Fprintf(out, "\nreport: %s/report.md, report.json, writes.svg (%.0f s)\n", cfg.out, rep.Seconds)
	return ctx.Err()
}

// unlimitedGraph are graph_limits no call reaches (a tenant the
// simulator does not throttle).
func unlimitedGraph() *remediation.GraphLimits {
	const n = 10_000_000
	return &remediation.GraphLimits{ResourceUnits: n, ResourceUnitsWindowS: 1, Writes: n, WritesWindowS: 1,
		TenantWrites: n, TenantWritesWindowS: 1}
}

// scaledGraph are Graph's default limits with windows shortened (and the
// Conditional Access rate raised) by the simulator's time scale.
func scaledGraph(scale float64) *remediation.GraphLimits {
	if scale <= 0 {
		scale = 1
	}
	return &remediation.GraphLimits{ResourceUnitsWindowS: 10 / scale, WritesWindowS: 150 / scale,
		TenantWritesWindowS: 300 / scale, CARequestsPerS: min(scale, 100)}
}

func machineInfo(ctx context.Context, s *stack) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if info, err := s.rdb.Info(ctx, "server").Result(); err == nil {
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.Redis = v
			}
		}
	}
	m.Postgres = pgVersion(ctx, s.cfg.dbURL)
	return m
}

func setupInfo(cfg config) setup {
	st := setup{Workers: cfg.workers, Concurrency: cfg.concurrency, TimeScale: cfg.timeScale, LatencyMS: ms(cfg.latency)}
	st.InProcess = fmt.Sprintf("One process holds the API (its own history store pool and queue client) and %d worker "+
		"replica(s) of %d concurrency (each with its own store pool, queue client, and Graph connector through "+
		"msgraph-sdk-go behind a Graph budget gate), built as cmd/remediator builds `remediator api` and `remediator worker`, with its defaults "+
		"(MaxRetry 12, Graph time-out 30 s, reconcile every 10 s). The history store is PostgreSQL (scripts/test-services.sh, "+
		"fsync off); Redis is a redis-server the bench starts on a unix socket (no AOF). Graph is the project's simulator "+
		"over HTTPS in the same process: one with no latency (sections 1, 4, 5; unthrottled, except the section 4 tenants, throttled in real time), one with quotas at time "+
		"scale %g and %s latency (sections 2, 3, 7).", cfg.workers, cfg.concurrency, cfg.timeScale, cfg.latency)
	if cfg.budget {
		st.Budget = "On, as cmd/remediator wires it: each worker's Graph connector is wrapped with budget.Wrap around " +
			"a budget.Gate on the same Redis, and the worker gets the Gate and worker.DefaultLimits (Microsoft's " +
			"defaults with the tenant's graph_limits). Tenants the simulator does not throttle (sections 1 and 5) " +
			"have graph_limits no call reaches; the throttled simulator's tenants have Graph's default limits with " +
			"windows divided by the time scale (and CA requests/s multiplied by it); the MFA tenants of section 4 " +
			"have the defaults, and the simulator applies Graph's quotas to them in real time."
	} else {
		st.Budget = "Off (-budget=false): Graph calls are not metered; the worker's 429 handling and, for Conditional " +
			"Access, a worker.CAPacer only. This is not how cmd/remediator runs."
	}
	st.InProcess += fmt.Sprintf(" The API's per-key rate limit (REMEDIATOR_API_RATE_LIMIT) is %d requests/s so that the "+
		"polling of section 5 is not refused.", cfg.apiRateLimit)
	return st
}
