package budget

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// saturate runs n bulk callers (over four connections) until ctx ends and
// returns their grant times.
func saturate(ctx context.Context, t *testing.T, e *env, opts Options, ten string, l Limits, n int) (wait func() []time.Time, grants *atomic.Int64) {
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	grants = &atomic.Int64{}
	gates := make([]*Gate, 4)
	for i := range gates {
		gates[i], _ = e.gate(opts)
	}
	for i := range n {
		g := gates[i%len(gates)]
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := g.Acquire(ctx, ten, l, write, Bulk); err != nil {
					if ctx.Err() == nil {
						t.Errorf("bulk Acquire: %v", err)
					}
					return
				}
				grants.Add(1)
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		})
	}
	return func() []time.Time {
		wg.Wait()
		slices.SortFunc(times, time.Time.Compare)
		return times
	}, grants
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// While 16 bulk callers saturate a tenant's writes (at the default 97 %
// share), a single urgent call gets its token within about one emission
// interval, and a late bulk call queues behind the bulk backlog.
func TestUrgentLaneWhileBulkSaturates(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	opts := Options{BurstFraction: 0.2, MaxWait: 5 * time.Second}
	l := Limits{Writes: 40, WritesWindow: time.Second} // shared: 8 + 32/s; bulk: 8 + 30/s
	ctx, stop := context.WithCancel(bg)
	defer stop()
	wait, grants := saturate(ctx, t, e, opts, ten, l, 16)
	waitFor(t, "the bulk backlog", func() bool { return grants.Load() >= 20 })

	urgent, _ := e.gate(opts)
	var worst time.Duration
	for range 8 {
		w, err := urgent.Acquire(bg, ten, l, write, Urgent)
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, w)
		time.Sleep(50 * time.Millisecond) // a trickle of single-identity jobs
	}
	late, _ := e.gate(opts)
	bulkWait, err := late.Acquire(bg, ten, l, write, Bulk)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	times := wait()
	t.Logf("urgent worst wait %s, late bulk call waited %s, %d bulk grants", worst, bulkWait, len(times))
	if worst > 150*time.Millisecond {
		t.Errorf("an urgent call waited %s behind bulk work, want ≤ 150 ms", worst)
	}
	if bulkWait < 250*time.Millisecond {
		t.Errorf("a bulk call waited only %s: the bulk lane was not saturated", bulkWait)
	}
	if n := maxInWindow(times, 900*time.Millisecond); n > 38 {
		t.Errorf("%d bulk writes in one window, bulk budget 38 per second", n)
	}
}

// Bulk work alone never takes more than its share of a window budget.
func TestBulkShare(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	opts := Options{BurstFraction: 0.2, BulkShare: 0.5, MaxWait: 5 * time.Second}
	l := Limits{Writes: 40, WritesWindow: time.Second} // bulk: 20 per second (4 + 16/s)
	ctx, stop := context.WithCancel(bg)
	defer stop()
	wait, grants := saturate(ctx, t, e, opts, ten, l, 8)
	waitFor(t, "1.2 s of bulk work", func() bool { return grants.Load() >= 23 })
	stop()
	times := wait()
	if n := maxInWindow(times, 900*time.Millisecond); n > 20 || n < 12 {
		t.Errorf("%d bulk writes in one window, want about half of the 40 budget (≤ 20)", n)
	}
	// The other half is there for urgent work at once.
	urgent, _ := e.gate(Options{BurstFraction: 0.2, MaxWait: -1})
	for i := range 4 {
		if _, err := urgent.Acquire(bg, ten, l, write, Urgent); err != nil {
			t.Errorf("urgent call %d after bulk saturation: %v", i, err)
		}
	}
}
