package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
)

// outcome is a bulk job followed to its end or stopped at a deadline.
type outcome struct {
	view    jobView       // the job when it finished (or after the cancel drained)
	elapsed time.Duration // from t0 to finished_at, or to the deadline
	stopped bool          // the deadline came first: the job was canceled
	done    int           // items terminal at the end (or at the deadline)
	counts  map[string]int
}

// terminal counts the items in a final status.
func terminal(c map[string]int) int {
	return c["succeeded"] + c["failed"] + c["skipped"] + c["canceled"]
}

// follow polls job id every interval, printing progress every 15 s, until
// it is finished or deadline after t0 has passed; then it cancels the job
// and waits (at most 2 min) for it to drain so that it does not disturb
// what runs next. atEnd runs when the job finished or was stopped (to
// snapshot the simulator's counters at that moment).
func follow(ctx context.Context, c *apiClient, out io.Writer, label, id string, t0 time.Time,
	interval, deadline time.Duration, atEnd func()) (outcome, error) {
	lastPrint := time.Now()
	for {
		j, err := c.job(ctx, id)
		if err != nil {
			return outcome{}, err
		}
		if j.done() {
			atEnd()
			end := time.Now()
			if j.FinishedAt != nil && j.FinishedAt.Before(end) {
				end = *j.FinishedAt
			}
			return outcome{view: j, elapsed: end.Sub(t0), done: terminal(j.Counts), counts: nonZero(j.Counts)}, nil
		}
		if time.Since(t0) >= deadline {
			atEnd()
			o := outcome{elapsed: time.Since(t0), stopped: true, done: terminal(j.Counts), counts: nonZero(j.Counts)}
			fmt.Fprintf(out, "           %s: deadline %s reached at %d/%d items: canceling the job\n", label, deadline, o.done, j.Total)
			if _, err := c.cancel(ctx, id); err != nil {
				return o, err
			}
			o.view, err = c.wait(ctx, id, 500*time.Millisecond, 2*time.Minute)
			return o, err
		}
		if time.Since(lastPrint) >= 15*time.Second {
			lastPrint = time.Now()
			fmt.Fprintf(out, "           %s: %d/%d items done after %.0f s\n", label, terminal(j.Counts), j.Total, time.Since(t0).Seconds())
		}
		select {
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// pgWaits samples, every second, what the sessions of the bench database
// are doing (pg_stat_activity: state, wait event and the start of the
// statement) until stop is called,
// and returns the average number of sessions per state, most first.
func pgWaits(ctx context.Context, dbURL, dbName string) (stop func() []pgWait) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu      sync.Mutex
		sums    = map[string]int{}
		samples int
		wg      sync.WaitGroup
	)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		cancel()
		return func() []pgWait { return nil }
	}
	wg.Go(func() {
		defer db.Close()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			rows, err := db.QueryContext(ctx, `SELECT state || ' / ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU')
				|| ' / ' || left(regexp_replace(query, '\s+', ' ', 'g'), 70), count(*)
				FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle' GROUP BY 1`, dbName)
			if err == nil {
				mu.Lock()
				for rows.Next() {
					var k string
					var n int
					if rows.Scan(&k, &n) == nil {
						sums[k] += n
					}
				}
				samples++
				mu.Unlock()
				rows.Close()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() []pgWait {
		cancel()
		wg.Wait()
		var out []pgWait
		for k, v := range sums {
			out = append(out, pgWait{State: k, Sessions: float64(v) / float64(max(samples, 1))})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Sessions > out[j].Sessions })
		return out[:min(len(out), 6)]
	}
}

// pgWait is the average number of sessions in one state.
type pgWait struct {
	State    string  `json:"state"`
	Sessions float64 `json:"avg_sessions"`
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// loadAvg is the first field of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// drainResult is what was left in the bulk queue after a job was stopped
// at its deadline and canceled.
type drainResult struct {
	LeftoverTasks int     `json:"leftover_tasks"`
	DrainedPerS   float64 `json:"drained_per_s"`
	Deleted       int     `json:"deleted_by_bench"`
}

// drainBulkQueue measures how fast the workers drop the item tasks a
// canceled job left in the bulk queue (each runs, finds its item
// canceled and ends), for at most 5 s, then deletes what is left so that
// the next scenario starts on an empty queue, and waits for the tasks
// still running.
func drainBulkQueue(s *stack) drainResult {
	in := asynq.NewInspector(s.ropt)
	defer in.Close()
	waiting := func() int {
		qi, err := in.GetQueueInfo(queue.QueueBulk)
		if err != nil {
			return 0
		}
		return qi.Pending + qi.Scheduled + qi.Retry
	}
	var r drainResult
	r.LeftoverTasks = waiting()
	t0 := time.Now()
	for time.Since(t0) < 5*time.Second && waiting() > 0 {
		time.Sleep(250 * time.Millisecond)
	}
	r.DrainedPerS = float64(r.LeftoverTasks-waiting()) / time.Since(t0).Seconds()
	for _, del := range []func(string) (int, error){in.DeleteAllPendingTasks, in.DeleteAllScheduledTasks, in.DeleteAllRetryTasks} {
		n, _ := del(queue.QueueBulk)
		r.Deleted += n
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if qi, err := in.GetQueueInfo(queue.QueueBulk); err != nil || qi.Active == 0 {
			break
		}
	}
	return r
}

// cpuSample is the CPU time (user + system, seconds) used so far by this
// process, by the PostgreSQL server processes and by redis-server.
type cpuSample struct{ self, postgres, redis float64 }

// sampleCPU reads /proc. A server process that exits between two samples
// takes its time with it: the bench's pools keep their backends for the
// whole run, so this undercounts PostgreSQL only by what short-lived
// connections used.
func sampleCPU() cpuSample {
	c := cpuSample{self: cpuSeconds()}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 14 and 15, counted
		// after the closing parenthesis of comm (which may hold spaces).
		open, end := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || end < open {
			continue
		}
		comm, f := string(b[open+1:end]), strings.Fields(string(b[end+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		secs := (u + s) / clockTicks
		switch {
		case comm == "postgres":
			c.postgres += secs
		case strings.HasPrefix(comm, "redis-server"):
			c.redis += secs
		}
	}
	return c
}

// clockTicks is USER_HZ, the unit of /proc/[pid]/stat times (100 on
// Linux for every architecture Go supports here).
const clockTicks = 100

// cpuPerK is CPU seconds per 1,000 items between two samples.
type cpuPerK struct {
	Self     float64 `json:"process"`
	Postgres float64 `json:"postgres"`
	Redis    float64 `json:"redis"`
	Total    float64 `json:"total"`
}

func (c cpuSample) perK(since cpuSample, items int) cpuPerK {
	k := float64(max(items, 1)) / 1000
	r := cpuPerK{Self: (c.self - since.self) / k, Postgres: (c.postgres - since.postgres) / k, Redis: (c.redis - since.redis) / k}
	r.Total = r.Self + r.Postgres + r.Redis
	return r
}
