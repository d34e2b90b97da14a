package budget

import (
	"testing"
	"time"
)

// A pause set by one worker holds every other worker's calls.
func TestPauseSharedAcrossGates(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	a, _ := e.gate(Options{})
	b, _ := e.gate(Options{MaxWait: 2 * time.Second})
	impatient, _ := e.gate(Options{MaxWait: 50 * time.Millisecond})
	l := DefaultLimits(0)

	if err := a.Pause(bg, ten, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, err := impatient.Acquire(bg, ten, l, write, Urgent)
	if we := waitErr(t, err); we.Budget != BudgetPause || we.Delay <= 50*time.Millisecond || we.Delay > 400*time.Millisecond {
		t.Errorf("WaitError = %+v, want the pause, (50, 400] ms", we)
	}
	w, err := b.Acquire(bg, ten, l, write, Urgent)
	if err != nil {
		t.Fatal(err)
	}
	if w < 300*time.Millisecond || w > 400*time.Millisecond {
		t.Errorf("second worker waited %s, want the pause's ~400 ms", w)
	}
	// Another tenant is not paused.
	if w, err := b.Acquire(bg, ten+"-other", l, write, Urgent); err != nil || w != 0 {
		t.Errorf("other tenant: waited %s, %v", w, err)
	}

	// A shorter pause does not cut a longer one.
	if err := a.Pause(bg, ten, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Pause(bg, ten, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if left := e.rdb.PTTL(bg, a.pauseKey(ten, BudgetPause)).Val(); left < 800*time.Millisecond {
		t.Errorf("pause left %s after a shorter Pause, want ~1 s", left)
	}
}

// A Conditional Access pause holds CA calls only.
func TestPauseCA(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	g, _ := e.gate(Options{MaxWait: -1})
	l := DefaultLimits(0)
	if err := g.PauseCA(bg, ten, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(bg, ten, l, write, Urgent); err != nil {
		t.Errorf("identity write during a CA pause: %v", err)
	}
	_, err := g.Acquire(bg, ten, l, Cost{RU: 1, Write: true, CA: true}, Urgent)
	if we := waitErr(t, err); we.Budget != BudgetPauseCA {
		t.Errorf("WaitError = %+v, want the CA pause", we)
	}
}

// Without Retry-After the pause doubles with each consecutive refusal
// (half of it random), up to BackoffMax, and starts over after Recovered.
func TestThrottledBackoff(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	a, _ := e.gate(Options{BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond})
	b, _ := e.gate(Options{BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond})
	ms := time.Millisecond
	steps := []struct {
		g        *Gate
		lo, hi   time.Duration
		recovery bool
	}{
		{a, 50 * ms, 100 * ms, false},
		{b, 100 * ms, 200 * ms, false}, // the count is shared by the workers
		{a, 200 * ms, 400 * ms, false},
		{b, 200 * ms, 400 * ms, false}, // capped
		{a, 50 * ms, 100 * ms, true},   // after a success
	}
	for i, s := range steps {
		if s.recovery {
			if err := b.Recovered(bg, ten, true); err != nil {
				t.Fatal(err)
			}
		}
		// Clear the previous pause so each step shows its own.
		if err := e.rdb.Del(bg, a.pauseKey(ten, BudgetPauseCA)).Err(); err != nil {
			t.Fatal(err)
		}
		d, err := s.g.Throttled(bg, ten, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d < s.lo || d > s.hi {
			t.Errorf("step %d: pause %s, want [%s, %s]", i, d, s.lo, s.hi)
		}
		if left := e.rdb.PTTL(bg, a.pauseKey(ten, BudgetPauseCA)).Val(); left <= 0 || left > d {
			t.Errorf("step %d: CA pause key has %s left, want (0, %s]", i, left, d)
		}
	}
	if n := e.rdb.Exists(bg, a.pauseKey(ten, BudgetPause)).Val(); n != 0 {
		t.Errorf("CA throttling paused the whole tenant")
	}

	// Graph's Retry-After wins over the backoff.
	d, err := a.Throttled(bg, ten, false, 700*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if d != 700*time.Millisecond {
		t.Errorf("pause with Retry-After 700 ms = %s", d)
	}
	if left := e.rdb.PTTL(bg, a.pauseKey(ten, BudgetPause)).Val(); left < 600*time.Millisecond {
		t.Errorf("tenant pause left %s, want ~700 ms", left)
	}
}
