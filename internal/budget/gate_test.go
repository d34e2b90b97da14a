package budget

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

var (
	bg    = context.Background()
	write = Cost{RU: 1, Write: true}
)

// Each window is honoured: concurrent callers (three processes' worth of
// connections) never get more than the budget into any window, and get
// close to the budget's pace.
func TestAcquireHonoursEachWindow(t *testing.T) {
	e := newEnv(t)
	opts := Options{BurstFraction: 0.2, CAMargin: -1, MaxWait: 5 * time.Second}
	cases := []struct {
		name      string
		limits    Limits
		cost      Cost
		perWindow int // calls per window
		window    time.Duration
		minTime   time.Duration // the budget's fastest time for all calls
		calls     int
	}{
		// 20 RU/s at 2 RU a call: burst 4 RU, then 16 RU/s.
		{"resource_units", Limits{ResourceUnits: 20, ResourceUnitsWindow: time.Second}, Cost{RU: 2},
			10, time.Second, 2 * time.Second, 18},
		// 10 writes per 500 ms: burst 2, then 16/s.
		{"writes", Limits{Writes: 10, WritesWindow: 500 * time.Millisecond}, write,
			10, 500 * time.Millisecond, 1750 * time.Millisecond, 30},
		// 12 tenant writes per second: burst 3, then 9/s.
		{"tenant_writes", Limits{TenantWrites: 12, TenantWritesWindow: time.Second}, write,
			12, time.Second, 1888 * time.Millisecond, 20},
		// 10 CA requests per second: one every 100 ms.
		{"ca", Limits{CARequestsPerSecond: 10}, Cost{RU: 1, CA: true},
			10, time.Second, 1500 * time.Millisecond, 16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ten := tenant(t)
			var (
				mu    sync.Mutex
				times []time.Time
				left  atomic.Int64
				wg    sync.WaitGroup
			)
			left.Store(int64(tc.calls))
			start := time.Now()
			for range 3 {
				g, _ := e.gate(opts)
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if _, err := g.Acquire(bg, ten, tc.limits, tc.cost, Urgent); err != nil {
							t.Errorf("Acquire: %v", err)
							return
						}
						mu.Lock()
						times = append(times, time.Now())
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.SortFunc(times, time.Time.Compare)
			if len(times) != tc.calls {
				t.Fatalf("%d calls granted, want %d", len(times), tc.calls)
			}
			// 10 % of the window absorbs the callers' own scheduling jitter.
			if n := maxInWindow(times, tc.window*9/10); n > tc.perWindow {
				t.Errorf("%d calls in one window, budget %d per %s", n, tc.perWindow, tc.window)
			}
			if elapsed < tc.minTime*8/10 || elapsed > 2*tc.minTime+time.Second {
				t.Errorf("%d calls took %s, the budget's pace is %s", tc.calls, elapsed, tc.minTime)
			}
		})
	}
}

// A call takes every bucket it needs or none: refused writes lose no
// resource units, and the shared state is redis_rate's own.
func TestAcquireTakesAllOrNothing(t *testing.T) {
	e := newEnv(t)
	g, _ := e.gate(Options{BurstFraction: 0.5, MaxWait: -1})
	ten := tenant(t)
	// RU: burst 10, then 10 per 100 s; writes: burst 2, then 1 per 100 s.
	l := Limits{ResourceUnits: 20, ResourceUnitsWindow: 100 * time.Second, Writes: 3, WritesWindow: 100 * time.Second}
	for range 2 {
		if _, err := g.Acquire(bg, ten, l, write, Urgent); err != nil {
			t.Fatal(err)
		}
	}
	for _, lane := range []Lane{Urgent, Bulk, Urgent, Bulk} {
		_, err := g.Acquire(bg, ten, l, write, lane)
		if we := waitErr(t, err); we.Budget != BudgetWrites || we.Delay < 90*time.Second {
			t.Errorf("refusal in lane %s = %+v, want the writes budget, ~100 s", lane, we)
		}
	}
	// 8 RU are left: none went to the refused calls.
	if _, err := g.Acquire(bg, ten, l, Cost{RU: 8}, Urgent); err != nil {
		t.Fatalf("Acquire of the 8 RU left: %v", err)
	}
	lim := redis_rate.NewLimiter(e.rdb)
	res, err := lim.Allow(bg, g.limiterKey(ten, BudgetResourceUnits), windowLimit(20, 100*time.Second, 1, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	if res.Allowed != 0 {
		t.Errorf("redis_rate on the same bucket allowed %d, want 0 (the gate took all 10 RU)", res.Allowed)
	}
	// Refused bulk calls never touched their bulk buckets.
	if n := e.rdb.Exists(bg, g.bucketKey(ten, BudgetResourceUnits+bulkSuffix)).Val(); n != 0 {
		t.Errorf("refused bulk calls left resource units taken from the bulk bucket")
	}
}

// A caller whose context ends while it sleeps gives its booking back.
func TestAcquireCanceledReturnsBooking(t *testing.T) {
	e := newEnv(t)
	never, _ := e.gate(Options{MaxWait: -1})
	for _, lane := range []Lane{Urgent, Bulk} {
		t.Run(lane.String(), func(t *testing.T) {
			ten := tenant(t)
			g, _ := e.gate(Options{MaxWait: 30 * time.Second, BulkShare: 0.5})
			// One write at once, then one per 10 s (bulk: the same).
			l := Limits{Writes: 2, WritesWindow: 10 * time.Second}
			if _, err := g.Acquire(bg, ten, l, write, lane); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			var slept time.Duration
			_, err := g.acquire(ctx, ten, l, write, lane, func(_ string, d time.Duration) {
				slept = d
				cancel() // ends the sleep that follows
			})
			if !errors.Is(err, context.Canceled) || slept < 9*time.Second {
				t.Fatalf("Acquire = %v after booking %s ahead, want context.Canceled after ~10 s", err, slept)
			}
			// Without the refund the next caller would be booked 20 s ahead.
			_, err = never.Acquire(bg, ten, l, write, lane)
			if we := waitErr(t, err); we.Delay < 9*time.Second || we.Delay > 10*time.Second {
				t.Errorf("next caller waits %s, want ~10 s (the canceled booking returned)", we.Delay)
			}
		})
	}
}

// Beyond MaxWait (or the context's deadline) Acquire refuses at once with
// the delay; within it, it waits.
func TestAcquireWaitError(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	g, _ := e.gate(Options{MaxWait: 200 * time.Millisecond})
	l := Limits{Writes: 2, WritesWindow: 10 * time.Second} // 1 at once, then 1 per 10 s
	if _, err := g.Acquire(bg, ten, l, write, Urgent); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := g.Acquire(bg, ten, l, write, Urgent)
	we := waitErr(t, err)
	if we.Delay < 9*time.Second || we.Delay > 10*time.Second || we.Budget != BudgetWrites || we.TenantID != ten {
		t.Errorf("WaitError = %+v, want writes, ~10 s", we)
	}
	if time.Since(start) > time.Second {
		t.Errorf("refusal took %s: Acquire must not sleep past MaxWait", time.Since(start))
	}
	// The context's deadline bounds the wait too.
	long, _ := e.gate(Options{MaxWait: time.Minute})
	ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer cancel()
	if _, err := long.Acquire(ctx, ten, l, write, Urgent); waitErr(t, err).Delay < 9*time.Second {
		t.Errorf("WaitError = %v", err)
	}
	// Within MaxWait, Acquire sleeps and goes.
	fast := Limits{Writes: 10, WritesWindow: time.Second} // 2 at once, then 8/s
	for i := range 3 {
		w, err := g.Acquire(bg, ten+"-fast", fast, write, Urgent)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if i == 2 && (w <= 0 || w > 200*time.Millisecond) {
			t.Errorf("third call waited %s, want (0, 200 ms]", w)
		}
	}
}

// Redis round trips per call: one script run when granted, two with one
// wait; commands run inside the script are counted from commandstats.
func TestRedisCommandsPerAcquire(t *testing.T) {
	e := newEnv(t)
	g, hook := e.gate(Options{BurstFraction: 0.2, MaxWait: 5 * time.Second})
	l := Limits{ResourceUnits: 1000, ResourceUnitsWindow: time.Second, Writes: 10, WritesWindow: time.Second}
	if _, err := g.Acquire(bg, "warm-up", l, write, Urgent); err != nil { // loads the script
		t.Fatal(err)
	}
	for _, lane := range []Lane{Urgent, Bulk} {
		ten := tenant(t) + "-" + lane.String()
		for i, wantWait := range []bool{false, false, true} { // burst 2, then a wait
			sent, inner := hook.n.Load(), commandCalls(t, e.rdb)
			w, err := g.Acquire(bg, ten, l, write, lane)
			if err != nil {
				t.Fatal(err)
			}
			sent, inner = hook.n.Load()-sent, commandCalls(t, e.rdb)-inner
			t.Logf("%s call %d: waited %s, %d commands sent, %d run in Redis", lane, i, w, sent, inner)
			maxSent, maxInner := int64(1), int64(12)
			if wantWait {
				maxSent, maxInner = 2, 16
				if w == 0 {
					t.Errorf("%s call %d did not wait", lane, i)
				}
			}
			if sent > maxSent || inner > maxInner {
				t.Errorf("%s call %d: %d commands sent (max %d), %d run (max %d)", lane, i, sent, maxSent, inner, maxInner)
			}
		}
	}
}

// A cost larger than a bucket's burst can never be granted: it is an
// error, not an endless wait.
func TestAcquireRejectsImpossibleCalls(t *testing.T) {
	e := newEnv(t)
	g, _ := e.gate(Options{})
	l := Limits{ResourceUnits: 20, ResourceUnitsWindow: time.Second} // burst 2
	if _, err := g.Acquire(bg, tenant(t), l, Cost{RU: 3}, Urgent); !errors.Is(err, errCost) {
		t.Errorf("Acquire of 3 RU with a burst of 2 = %v, want errCost", err)
	}
	if _, err := g.Acquire(bg, "", l, Cost{RU: 1}, Urgent); err == nil {
		t.Error("Acquire without a tenant succeeded")
	}
	if _, err := g.Acquire(bg, tenant(t), l, Cost{RU: -1}, Urgent); err == nil {
		t.Error("Acquire of a negative cost succeeded")
	}
}
