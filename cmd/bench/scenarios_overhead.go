package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/internal/queue"
)

// overheadResult is scenario 1: our end-to-end throughput next to bare
// asynq's on the same Redis with the same concurrency.
type overheadResult struct {
	Items            int            `json:"items"`
	Done             int            `json:"items_done"`
	Stopped          bool           `json:"stopped_at_deadline"`
	Workers          int            `json:"workers"`
	Concurrency      int            `json:"concurrency_per_worker"`
	PostMS           float64        `json:"post_ms"`
	Seconds          float64        `json:"seconds"`
	ItemsPerS        float64        `json:"items_per_s"`
	Counts           map[string]int `json:"counts"`
	GraphRequests    int            `json:"graph_requests"`
	RedisCmdsPerItem float64        `json:"redis_commands_per_item"`
	RedisEvalPerItem float64        `json:"redis_script_runs_per_item"`
	// RedisByCommand is RedisCmdsPerItem by command (0.05 per item or more).
	RedisByCommand map[string]float64 `json:"redis_commands_per_item_by_name"`
	// WritesPerTx is the item writes (transitions, attempt logs) per
	// history transaction of the workers (group commit).
	WritesPerTx float64    `json:"item_writes_per_transaction"`
	Bare        bareResult `json:"bare_asynq"`
	Ratio       float64    `json:"ratio"`
	// CPUSecondsPerKItem is this process's CPU time (API, workers,
	// simulator, load generator) per 1,000 items done.
	CPUSecondsPerKItem float64 `json:"process_cpu_s_per_1000_items"`
	// CPU is the CPU time per 1,000 items of this process, of
	// PostgreSQL and of redis-server.
	CPU     cpuPerK  `json:"cpu_s_per_1000_items"`
	PGWaits []pgWait `json:"postgres_sessions"`
	// Drain is set when the job was stopped at its deadline.
	Drain      *drainResult `json:"after_cancel,omitempty"`
	LoadBefore string       `json:"loadavg_before"`
	LoadAfter  string       `json:"loadavg_after"`
}

// bareResult is bare asynq: no-op handler, same Redis, same servers and
// concurrency, tasks enqueued from 16 goroutines while the servers run.
type bareResult struct {
	Tasks            int                `json:"tasks"`
	Seconds          float64            `json:"seconds"`
	TasksPerS        float64            `json:"tasks_per_s"`
	RedisCmdsPerItem float64            `json:"redis_commands_per_item"`
	RedisEvalPerItem float64            `json:"redis_script_runs_per_item"`
	RedisByCommand   map[string]float64 `json:"redis_commands_per_item_by_name"`
	CPU              cpuPerK            `json:"cpu_s_per_1000_tasks"`
}

// runOverhead submits an N-identity revoke_sessions job against the
// unthrottled, zero-latency simulator and follows it (to its end or to the
// deadline), then runs bare asynq with as many tasks.
func runOverhead(ctx context.Context, s *stack, c *apiClient, out io.Writer, tenantID string, ids []string,
	graphReqs func() int) (*overheadResult, error) {
	r := &overheadResult{Items: len(ids), Workers: s.cfg.workers, Concurrency: s.cfg.concurrency, LoadBefore: loadAvg()}
	before, err := commandStats(ctx, s.rdb)
	if err != nil {
		return nil, err
	}
	reqs0, cpu0 := graphReqs(), sampleCPU()
	txs0, ops0 := s.groupStats()
	stopWaits := pgWaits(ctx, s.cfg.dbURL, s.dbName)
	t0 := time.Now()
	j, took, err := c.submit(ctx, tenantID, submission{Action: "revoke_sessions", Identities: ids, Reason: "bench: overhead"})
	if err != nil {
		stopWaits()
		return nil, err
	}
	r.PostMS = ms(took)
	var (
		after cmdStats
		cpu1  cpuSample
		reqs1 int
	)
	o, err := follow(ctx, c, out, "overhead", j.ID, t0, 200*time.Millisecond, s.cfg.jobDeadline, func() {
		after, _ = commandStats(ctx, s.rdb)
		cpu1, reqs1 = sampleCPU(), graphReqs()
	})
	r.PGWaits = stopWaits()
	if err != nil {
		return nil, err
	}
	if o.stopped {
		d := drainBulkQueue(s)
		r.Drain = &d
	}
	r.LoadAfter = loadAvg()
	r.Seconds, r.Stopped, r.Done, r.Counts = o.elapsed.Seconds(), o.stopped, o.done, o.counts
	done := float64(max(o.done, 1))
	r.ItemsPerS = float64(o.done) / r.Seconds
	r.GraphRequests = reqs1 - reqs0
	r.CPU = cpu1.perK(cpu0, o.done)
	r.CPUSecondsPerKItem = r.CPU.Self
	r.RedisCmdsPerItem = float64(after.calls-before.calls) / done
	r.RedisEvalPerItem = float64(after.scripts-before.scripts) / done
	r.RedisByCommand = after.perItem(before, o.done)
	if txs, ops := s.groupStats(); txs > txs0 {
		r.WritesPerTx = float64(ops-ops0) / float64(txs-txs0)
	}

	b, err := runBareAsynq(ctx, s, len(ids))
	if err != nil {
		return nil, fmt.Errorf("bare asynq: %w", err)
	}
	r.Bare = *b
	if b.TasksPerS > 0 {
		r.Ratio = r.ItemsPerS / b.TasksPerS
	}
	return r, nil
}

// runBareAsynq runs n no-op tasks through as many asynq servers, with as
// much concurrency, as the bench's workers, on the same Redis. Tasks carry
// what our item tasks carry (TaskID, MaxRetry, Timeout, no Retention).
func runBareAsynq(ctx context.Context, s *stack, n int) (*bareResult, error) {
	const q = "bare"
	var handled atomic.Int64
	done := make(chan struct{})
	handler := asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if handled.Add(1) == int64(n) {
			close(done)
		}
		return nil
	})
	var servers []*asynq.Server
	defer func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
	}()
	for range s.cfg.workers {
		srv := asynq.NewServer(s.ropt, asynq.Config{
			Concurrency: s.cfg.concurrency, Queues: map[string]int{q: 1}, LogLevel: asynq.ErrorLevel,
		})
		if err := srv.Start(handler); err != nil {
			return nil, err
		}
		servers = append(servers, srv)
	}
	// Let the servers settle into their idle polling, as our workers are
	// idle before a job arrives.
	time.Sleep(1500 * time.Millisecond)
	client := asynq.NewClient(s.ropt)
	defer client.Close()
	before, err := commandStats(ctx, s.rdb)
	if err != nil {
		return nil, err
	}
	cpu0 := sampleCPU()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	t0 := time.Now()
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				t := asynq.NewTask("bench:noop", []byte(`{"job_id":"bench","seq":`+strconv.Itoa(i)+`}`))
				_, err := client.EnqueueContext(ctx, t, asynq.Queue(q), asynq.TaskID("bare:"+run+":"+strconv.Itoa(i)),
					asynq.MaxRetry(maxRetry+queue.RetryReserve), asynq.Timeout(queue.DefaultItemTimeout))
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, fmt.Errorf("enqueue: %w", err)
	default:
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("%d of %d tasks handled: %w", handled.Load(), n, errTimeout)
	}
	took := time.Since(t0)
	cpu1 := sampleCPU()
	after, err := commandStats(ctx, s.rdb)
	if err != nil {
		return nil, err
	}
	return &bareResult{
		Tasks: n, Seconds: took.Seconds(), TasksPerS: float64(n) / took.Seconds(),
		RedisCmdsPerItem: float64(after.calls-before.calls) / float64(n),
		RedisEvalPerItem: float64(after.scripts-before.scripts) / float64(n),
		RedisByCommand:   after.perItem(before, n),
		CPU:              cpu1.perK(cpu0, n),
	}, nil
}

// cmdStats sums INFO commandstats: every command (those run inside Lua
// scripts included, as Redis counts them) and script runs alone.
type cmdStats struct {
	calls, scripts int64
	byName         map[string]int64
}

// perItem returns the commands per item between two samples, by command
// name, those above 0.05 per item.
func (c cmdStats) perItem(since cmdStats, items int) map[string]float64 {
	out := map[string]float64{}
	for name, n := range c.byName {
		if v := float64(n-since.byName[name]) / float64(max(items, 1)); v >= 0.05 {
			out[name] = math.Round(v*100) / 100
		}
	}
	return out
}

func commandStats(ctx context.Context, rdb *redis.Client) (cmdStats, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return cmdStats{}, fmt.Errorf("INFO commandstats: %w", err)
	}
	st := cmdStats{byName: map[string]int64{}}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				st.calls += n
				st.byName[strings.TrimPrefix(name, "cmdstat_")] += n
				switch name {
				case "cmdstat_eval", "cmdstat_evalsha", "cmdstat_eval_ro", "cmdstat_evalsha_ro", "cmdstat_fcall":
					st.scripts += n
				}
			}
		}
	}
	return st, nil
}

// memoryResult is scenario 6.
type memoryResult struct {
	PeakRSSMB            float64            `json:"peak_rss_mb"`
	ServicePeakRSSMB     float64            `json:"peak_rss_mb_before_baselines"`
	PeakRSSAfterMB       map[string]float64 `json:"peak_rss_mb_after"`
	QueuedItems          int                `json:"queued_items_measured"`
	RedisBytesPerItem    float64            `json:"redis_bytes_per_queued_item"`
	RedisUsedMemoryPeakM float64            `json:"redis_used_memory_peak_mb"`
}

// redisBytesPerItem enqueues n item tasks of a made-up job into Redis
// logical database 1 (no worker reads it) with the real queue client and
// returns used_memory's growth per task, then empties database 1.
func redisBytesPerItem(ctx context.Context, s *stack, n int) (float64, error) {
	opt := s.ropt
	opt.DB = 1
	qc := queue.NewClient(opt, queue.Options{MaxRetry: maxRetry})
	defer qc.Close()
	db1 := redis.NewClient(&redis.Options{Network: "unix", Addr: s.redis.socket, DB: 1})
	defer db1.Close()
	before, err := usedMemory(ctx, s.rdb, "used_memory")
	if err != nil {
		return 0, err
	}
	seqs := make([]int, n)
	for i := range seqs {
		seqs[i] = i
	}
	jobID := "0199a000-0000-7000-8000-" + fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
	if err := qc.EnqueueItems(ctx, jobID, seqs, queue.QueueBulk); err != nil {
		return 0, err
	}
	after, err := usedMemory(ctx, s.rdb, "used_memory")
	if err != nil {
		return 0, err
	}
	if err := db1.FlushDB(ctx).Err(); err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}

// usedMemory reads one field of INFO memory.
func usedMemory(ctx context.Context, rdb *redis.Client, field string) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory: no %s", field)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// nonZero drops zero counts.
func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
