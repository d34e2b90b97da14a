package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// quotaEnv is what scenarios 2, 3, 5 (polling) and the sequential
// baseline need: the throttled simulator and its tenants.
type quotaEnv struct {
	sim       *graphsim.Server
	timeScale float64
	latency   time.Duration
	// bulk is the tenant of the bulk job (ids) and of the same-tenant
	// urgent jobs (urgentSame); other is another tenant (urgentOther).
	bulk, other              *graphsim.Tenant
	bulkAdded                time.Time
	ids, urgentSame, urgentO []string
	// seq is the sequential baseline's tenant and users.
	seq      *graphsim.Tenant
	seqAdded time.Time
	seqIDs   []string
	getRPS   int
}

// quotaResult is scenario 2.
type quotaResult struct {
	Identities       int            `json:"identities"`
	Done             int            `json:"items_done"`
	Stopped          bool           `json:"stopped_at_deadline"`
	PGWaits          []pgWait       `json:"postgres_sessions"`
	Drain            *drainResult   `json:"after_cancel,omitempty"`
	Seconds          float64        `json:"seconds"`
	Counts           map[string]int `json:"counts"`
	Writes           int            `json:"graph_writes"`
	AllowedWritesPS  float64        `json:"allowed_writes_per_s"`
	WritesPS         float64        `json:"achieved_writes_per_s"`
	BurstWrites      int            `json:"burst_writes_allowed_at_start"`
	BestSeconds      float64        `json:"best_seconds"`
	Efficiency       float64        `json:"completion_over_best"`
	Requests         int            `json:"graph_requests"`
	Throttled        int            `json:"graph_429"`
	ThrottledShare   float64        `json:"share_429"`
	TimeScale        float64        `json:"time_scale"`
	LatencyMS        float64        `json:"latency_ms"`
	WritesPerSecond  []int          `json:"writes_per_second"`
	QuotaWindowSecs  float64        `json:"write_window_s"`
	QuotaWindowLimit int            `json:"write_window_limit"`
	// RedisCmdsPerItem is every Redis command during the job (its items,
	// the urgent jobs, the polling's API rate limiter, idle polling) per
	// bulk item done: bounces through Redis would show here.
	RedisCmdsPerItem float64            `json:"redis_commands_per_item_all_included"`
	RedisByCommand   map[string]float64 `json:"redis_commands_per_item_by_name"`
}

// urgencyResult is scenario 3: POST → succeeded for single-identity jobs.
type urgencyResult struct {
	LatencyMS   float64    `json:"latency_ms"`
	TargetMS    float64    `json:"target_p99_ms"`
	SameTenant  latencySet `json:"same_tenant"`
	OtherTenant latencySet `json:"other_tenant"`
}

// latencySet summarizes samples in milliseconds.
type latencySet struct {
	N      int     `json:"n"`
	Failed int     `json:"failed"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	// Phases split the samples by the job's timestamps (store clock):
	// the POST, created_at to started_at (queue, dequeue, the start's
	// group transaction), started_at to finished_at (Graph calls, the
	// finish's group transaction) and finished_at to its observation
	// (commit, polling). Percentiles of each phase are taken on their own.
	Phases   []phaseStat `json:"phases,omitempty"`
	samples  []float64
	phases   [4][]float64
	failures atomic.Int64
	mu       sync.Mutex
}

// phaseStat is one phase of the urgent jobs' latency.
type phaseStat struct {
	Name  string  `json:"name"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

var phaseNames = [4]string{"POST", "created to started", "started to finished", "finished to seen"}

func (l *latencySet) add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, ms(d))
	l.mu.Unlock()
}

// addPhased adds a sample with its phases.
func (l *latencySet) addPhased(d time.Duration, phases [4]time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, ms(d))
	for i, p := range phases {
		l.phases[i] = append(l.phases[i], ms(p))
	}
	l.mu.Unlock()
}

// finish computes the summary.
func (l *latencySet) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.samples)
	slices.Sort(s)
	l.N, l.Failed = len(s), int(l.failures.Load())
	if len(s) > 0 {
		l.P50MS, l.P99MS, l.MaxMS = percentile(s, 0.50), percentile(s, 0.99), s[len(s)-1]
	}
	l.Phases = nil
	for i, ps := range l.phases {
		if len(ps) == 0 {
			continue
		}
		ps = slices.Clone(ps)
		slices.Sort(ps)
		l.Phases = append(l.Phases, phaseStat{Name: phaseNames[i], P50MS: percentile(ps, 0.50),
			P99MS: percentile(ps, 0.99), MaxMS: ps[len(ps)-1]})
	}
}

// percentile of sorted s (nearest rank).
func percentile(s []float64, p float64) float64 {
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// pollResult is scenario 5's polling part.
type pollResult struct {
	TargetRPS   int        `json:"target_rps"`
	AchievedRPS float64    `json:"achieved_rps"`
	Errors      int64      `json:"errors"`
	Skipped     int64      `json:"skipped_in_flight_cap"`
	Latency     latencySet `json:"get_job"`
}

// runQuota runs the bulk disable_user job under the write quota while
// single-identity jobs arrive every second, the job is polled at getRPS
// and the sequential baseline runs on its own tenant.
func runQuota(ctx context.Context, s *stack, c *apiClient, out io.Writer, e *quotaEnv) (*quotaResult, *urgencyResult, *pollResult, *baselineResult, error) {
	seqDone := make(chan *baselineResult, 1)
	go func() { seqDone <- runSequentialBaseline(ctx, e.sim, e.seq, e.seqAdded, e.seqIDs) }()

	before := e.bulk.Stats()
	cmds0, err := commandStats(ctx, s.rdb)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	stopWaits := pgWaits(ctx, s.cfg.dbURL, s.dbName)
	t0 := time.Now()
	j, _, err := c.submit(ctx, e.bulk.ID(), submission{Action: "disable_user", Identities: e.ids, Reason: "bench: quota"})
	if err != nil {
		stopWaits()
		return nil, nil, nil, nil, err
	}
	sideCtx, stopSide := context.WithCancel(ctx)
	urg := &urgencyResult{LatencyMS: ms(e.latency), TargetMS: 1000 + 2*ms(e.latency)}
	poll := &pollResult{TargetRPS: e.getRPS}
	var side sync.WaitGroup
	side.Go(func() { urgentLoop(sideCtx, c, e, urg) })
	side.Go(func() { pollLoop(sideCtx, c, j.ID, poll) })

	var (
		after graphsim.TenantStats
		cmds1 cmdStats
	)
	o, err := follow(ctx, c, out, "quota", j.ID, t0, 500*time.Millisecond, s.cfg.jobDeadline, func() {
		after = e.bulk.Stats()
		cmds1, _ = commandStats(ctx, s.rdb)
		stopSide()
	})
	stopSide()
	side.Wait()
	waits := stopWaits()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	r := &quotaResult{
		Identities: len(e.ids), Done: o.done, Stopped: o.stopped, Seconds: o.elapsed.Seconds(), Counts: o.counts,
		Writes: after.Writes - before.Writes, Requests: after.Requests - before.Requests,
		Throttled: after.Throttled - before.Throttled, TimeScale: e.timeScale, LatencyMS: ms(e.latency), PGWaits: waits,
	}
	if o.stopped {
		d := drainBulkQueue(s)
		r.Drain = &d
	}
	if cmds1.byName != nil {
		r.RedisCmdsPerItem = float64(cmds1.calls-cmds0.calls) / float64(max(o.done, 1))
		r.RedisByCommand = cmds1.perItem(cmds0, o.done)
	}
	r.AllowedWritesPS, r.BurstWrites, r.QuotaWindowSecs = allowedWriteRate(e.timeScale)
	r.QuotaWindowLimit = r.BurstWrites
	r.BestSeconds = float64(r.Writes) / r.AllowedWritesPS
	r.WritesPS = float64(r.Writes) / max(r.Seconds, 1e-9)
	if r.BestSeconds > 0 {
		r.Efficiency = r.Seconds / r.BestSeconds
	}
	if r.Requests > 0 {
		r.ThrottledShare = float64(r.Throttled) / float64(r.Requests)
	}
	r.WritesPerSecond = timelineFrom(e.bulk.WriteTimeline(), t0.Sub(e.bulkAdded), o.elapsed)
	urg.SameTenant.finish()
	urg.OtherTenant.finish()
	poll.Latency.finish()
	if r.Seconds > 0 {
		poll.AchievedRPS = float64(poll.Latency.N+int(poll.Errors)) / r.Seconds
	}
	return r, urg, poll, <-seqDone, nil
}

// allowedWriteRate is the sustained write rate Graph's write quotas allow
// one app in one tenant (at the simulator's time scale), the writes one
// window admits at once, and that window's length in seconds.
func allowedWriteRate(scale float64) (perSecond float64, burst int, window float64) {
	if scale <= 0 {
		scale = 1
	}
	quotas := []struct {
		n   int
		win float64
	}{{3000, 150}, {18000, 300}, {70000, 300}} // app+tenant, tenant, app
	perSecond = -1
	for _, q := range quotas {
		r := float64(q.n) / (q.win / scale)
		if perSecond < 0 || r < perSecond {
			perSecond, burst, window = r, q.n, q.win/scale
		}
	}
	return perSecond, burst, window
}

// timelineFrom cuts a tenant's writes-per-second timeline (index 0 = the
// second the tenant was added) to the seconds of a run that started off
// after the tenant was added and lasted d.
func timelineFrom(tl []int, off, d time.Duration) []int {
	from := int(off / time.Second)
	to := from + int(d/time.Second) + 1
	out := make([]int, 0, max(0, to-from))
	for i := from; i < to; i++ {
		v := 0
		if i >= 0 && i < len(tl) {
			v = tl[i]
		}
		out = append(out, v)
	}
	return out
}

// urgentLoop submits one single-identity disable_user job per second on
// the bulk job's tenant and one on the other tenant, and records the time
// from the POST to the job's finish when its item succeeded.
func urgentLoop(ctx context.Context, c *apiClient, e *quotaEnv, r *urgencyResult) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; i < len(e.urgentSame) && i < len(e.urgentO); i++ {
		wg.Go(func() { urgentOne(c, e.bulk.ID(), e.urgentSame[i], &r.SameTenant) })
		wg.Go(func() { urgentOne(c, e.other.ID(), e.urgentO[i], &r.OtherTenant) })
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// urgentOne submits and follows one single-identity job. It is not
// canceled with the loop: a job in flight is followed to its end.
func urgentOne(c *apiClient, tenantID, id string, set *latencySet) {
	ctx := context.Background()
	t0 := time.Now()
	j, post, err := c.submit(ctx, tenantID, submission{Action: "disable_user", Identities: []string{id}, Reason: "bench: urgent"})
	if err != nil {
		set.failures.Add(1)
		return
	}
	j, err = c.wait(ctx, j.ID, 20*time.Millisecond, 2*time.Minute)
	if err != nil || j.Counts["succeeded"] != 1 {
		set.failures.Add(1)
		return
	}
	seen := time.Now()
	end := seen
	if j.FinishedAt != nil && j.FinishedAt.Before(end) {
		end = *j.FinishedAt
	}
	var phases [4]time.Duration
	phases[0] = post
	if j.StartedAt != nil && j.FinishedAt != nil {
		phases[1] = j.StartedAt.Sub(j.CreatedAt)
		phases[2] = j.FinishedAt.Sub(*j.StartedAt)
		phases[3] = seen.Sub(*j.FinishedAt)
	}
	set.addPhased(end.Sub(t0), phases)
}

// pollLoop reads the job at rps (open loop: a request starts every 1/rps
// whatever the previous ones do, with at most 256 in flight).
func pollLoop(ctx context.Context, c *apiClient, jobID string, r *pollResult) {
	if r.TargetRPS <= 0 {
		return
	}
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second / time.Duration(r.TargetRPS))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			atomic.AddInt64(&r.Skipped, 1)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t := time.Now()
			_, err := c.job(context.WithoutCancel(ctx), jobID)
			if err != nil && !errors.Is(err, context.Canceled) {
				atomic.AddInt64(&r.Errors, 1)
				return
			}
			r.Latency.add(time.Since(t))
		})
	}
}
