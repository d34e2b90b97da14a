package budget

import (
	"testing"
	"time"
)

// Calls refused together (in flight when the first refusal paused the
// tenant) back off once: the pause neither grows with their number nor
// is extended; the next refusal after the pause ends counts as the next
// consecutive one.
func TestThrottledBurstBacksOffOnce(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	g, _ := e.gate(Options{BackoffBase: 400 * time.Millisecond, BackoffMax: 10 * time.Second})
	first, err := g.Throttled(bg, ten, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if first < 200*time.Millisecond || first > 400*time.Millisecond {
		t.Fatalf("first pause %s, want [200ms, 400ms]", first)
	}
	for i := range 10 {
		d, err := g.Throttled(bg, ten, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d > first || d <= 0 {
			t.Fatalf("refusal %d in the same burst: pause %s, want what is left of %s", i+2, d, first)
		}
	}
	if n := e.rdb.Get(bg, g.counterKey(ten, scopeTenant)).Val(); n != "1" {
		t.Errorf("consecutive refusals counted %s, want 1", n)
	}
	// Graph's Retry-After still extends the pause.
	if d, err := g.Throttled(bg, ten, false, 2*time.Second); err != nil || d != 2*time.Second {
		t.Errorf("Retry-After 2s during the pause: pause %s (%v), want 2s", d, err)
	}
	// After the pause, the next refusal is the second consecutive one.
	if err := e.rdb.Del(bg, g.pauseKey(ten, BudgetPause)).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := g.Throttled(bg, ten, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d < 400*time.Millisecond || d > 800*time.Millisecond {
		t.Errorf("pause after the burst's pause ended %s, want [400ms, 800ms]", d)
	}
}
