package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// urgentUsers bounds the single-identity jobs of scenario 3 per tenant
// (one per second).
const urgentUsers = 1800

// run builds the stack, runs every scenario and writes the report.
func run(ctx context.Context, cfg config, out io.Writer) error {
	t0 := time.Now()
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
	fastLimits := budget.Limits{CARequestsPerSecond: 1}
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

	var none remediation.TenantSettings
	for _, x := range []struct {
		sim      *graphsim.Server
		t        *graphsim.Tenant
		settings remediation.TenantSettings
		limits   budget.Limits
	}{
		{fast, ov, none, fastLimits}, {fast, acc, none, fastLimits}, {fast, mfaU, none, fastLimits},
		{fast, mfaG, remediation.TenantSettings{MFATargeting: remediation.MFATargetGroup}, fastLimits},
		{slow, e.bulk, none, scaledLimits(cfg.quotaN+urgentUsers, cfg.timeScale)},
		{slow, e.other, none, scaledLimits(urgentUsers, cfg.timeScale)},
	} {
		if err := s.register(ctx, x.sim, x.t, x.t.Domain(), x.settings, x.limits); err != nil {
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

	step(out, t0, "1. overhead: %d-identity revoke_sessions job, then bare asynq", cfg.overheadN)
	if rep.Overhead, err = runOverhead(ctx, s, c, ov.ID(), ovIDs, func() int { return ov.Stats().Requests }); err != nil {
		fail("1. overhead", err)
	} else {
		step(out, t0, "   ours %.0f items/s, bare asynq %.0f tasks/s", rep.Overhead.ItemsPerS, rep.Overhead.Bare.TasksPerS)
	}
	rep.Memory.PeakRSSAfterMB["overhead"] = peakRSSMB()

	step(out, t0, "6. Redis memory per queued item task (%d tasks)", cfg.overheadN)
	rep.Memory.QueuedItems = cfg.overheadN
	if rep.Memory.RedisBytesPerItem, err = redisBytesPerItem(ctx, s, cfg.overheadN); err != nil {
		fail("6. redis memory", err)
	}

	step(out, t0, "5. accepting a %d-identity job", cfg.acceptN)
	if rep.Accept, err = runAccept(ctx, c, acc.ID(), cfg.acceptN); err != nil {
		fail("5. accept", err)
	}
	rep.Memory.PeakRSSAfterMB["accept"] = peakRSSMB()

	step(out, t0, "2/3/5/7. %d-identity disable_user job under the write quota (time scale %g, latency %s), urgent jobs, polling, sequential baseline (%d users)",
		cfg.quotaN, cfg.timeScale, cfg.latency, cfg.seqN)
	var seq *baselineResult
	if rep.Quota, rep.Urgency, rep.Poll, seq, err = runQuota(ctx, c, e); err != nil {
		fail("2. quota", err)
	} else {
		step(out, t0, "   %.1f s (best %.1f s), %d × 429", rep.Quota.Seconds, rep.Quota.BestSeconds, rep.Quota.Throttled)
		if seq.ItemsPerS > 0 {
			seq.ProjectedFor, seq.ProjectedS = cfg.quotaN, float64(cfg.quotaN)/seq.ItemsPerS
		}
		rep.Baseline = append(rep.Baseline, seq)
	}
	rep.Memory.PeakRSSAfterMB["quota"] = peakRSSMB()

	step(out, t0, "7. baseline: one goroutine per identity (%d)", cfg.quotaN)
	rep.Baseline = append(rep.Baseline, runBurstBaseline(ctx, slow, burst, burstAdded, burstIDs))
	rep.Memory.PeakRSSAfterMB["burst baseline"] = peakRSSMB()

	step(out, t0, "4. enforce_mfa for %d users (mfa_targeting users, then group)", cfg.mfaN)
	rep.MFA = append(rep.MFA, runMFA(ctx, c, mfaU, remediation.MFATargetUsers, mfaUIDs))
	rep.MFA = append(rep.MFA, runMFA(ctx, c, mfaG, remediation.MFATargetGroup, mfaGIDs))
	rep.Memory.PeakRSSAfterMB["bulk mfa"] = peakRSSMB()

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

// scaledLimits are Graph's default budgets for a tenant of users at the
// simulator's time scale (for -budget).
func scaledLimits(users int, scale float64) budget.Limits {
	l := budget.DefaultLimits(users)
	if scale > 0 {
		div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / scale) }
		l.ResourceUnitsWindow, l.WritesWindow, l.TenantWritesWindow = div(l.ResourceUnitsWindow), div(l.WritesWindow), div(l.TenantWritesWindow)
		l.CARequestsPerSecond *= scale
	}
	return l
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
		"replica(s) of %d concurrency (each with its own store pool, queue client, Graph connector through msgraph-sdk-go "+
		"and CA pacer), built as cmd/remediator builds `remediator api` and `remediator worker`, with its defaults "+
		"(MaxRetry 12, Graph time-out 30 s, reconcile every 10 s). The history store is PostgreSQL (scripts/test-services.sh, "+
		"fsync off); Redis is a redis-server the bench starts on a unix socket (no AOF). Graph is the project's simulator "+
		"over HTTPS in the same process: one unthrottled with no latency (sections 1, 4, 5), one with quotas at time "+
		"scale %g and %s latency (sections 2, 3, 7).", cfg.workers, cfg.concurrency, cfg.timeScale, cfg.latency)
	if cfg.budget {
		st.Budget = "On (-budget): every worker's Directories are wrapped with budget.Wrap and a budget.Gate on the same " +
			"Redis, with Graph's default limits scaled to the simulator's time scale. cmd/remediator does not wire " +
			"internal/budget yet, so this is not what the service runs today."
	} else {
		st.Budget = "Off: cmd/remediator does not wire internal/budget yet, so the service was measured as it runs " +
			"today, without it (the worker's own 429 handling and Conditional Access pacer only). `-budget` measures " +
			"with it."
	}
	return st
}
