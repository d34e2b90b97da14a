package budget

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// prepaidLimits meter every bucket (RU, writes, tenant writes) with room.
var prepaidLimits = Limits{ResourceUnits: 1000, ResourceUnitsWindow: 10 * time.Second, Writes: 1000,
	WritesWindow: 10 * time.Second, TenantWrites: 1000, TenantWritesWindow: 10 * time.Second}

// bucketAhead is how far (s) a bucket's state is ahead of Redis's clock:
// the budget it holds booked.
func bucketAhead(t *testing.T, e *env, g *Gate, ten, name string) float64 {
	t.Helper()
	v, err := e.rdb.Get(bg, g.bucketKey(ten, name)).Result()
	if err != nil {
		return 0 // no key: full
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatal(err)
	}
	return math.Max(f-redisNow(t, e.rdb), 0)
}

// An item's calls cost one script run when prepaid, and book the same
// budget as metered one by one.
func TestPrepaidOneTakePerWork(t *testing.T) {
	e := newEnv(t)
	g, h := e.gate(Options{})
	inner := newFakeDir()
	per := wrapped(t, g, inner, prepaidLimits, tenant(t)+"-per-call", WrapOptions{})
	pre := wrapped(t, g, inner, prepaidLimits, tenant(t)+"-prepaid", WrapOptions{})
	if _, err := per.GetUser(bg, "warm-up"); err != nil { // loads the script
		t.Fatal(err)
	}
	before := h.n.Load()
	if _, err := per.GetUser(bg, "u"); err != nil {
		t.Fatal(err)
	}
	if err := per.SetAccountEnabled(bg, "u", false); err != nil {
		t.Fatal(err)
	}
	perCall := h.n.Load() - before
	// Each tenant's buckets are read right after its own bookings.
	names := []string{BudgetResourceUnits, BudgetWrites, BudgetTenantWrites, BudgetWrites + bulkSuffix}
	booked := func(ten string) map[string]float64 {
		m := map[string]float64{}
		for _, name := range names {
			m[name] = bucketAhead(t, e, g, ten, name)
		}
		return m
	}
	perBooked := booked(tenant(t) + "-per-call")

	ctx, p := WithPrepaid(bg, Cost{RU: 2, Writes: 1})
	before = h.n.Load()
	if _, err := pre.GetUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if err := pre.SetAccountEnabled(ctx, "u", false); err != nil {
		t.Fatal(err)
	}
	p.Release(ctx) // nothing left: no command
	prepaid := h.n.Load() - before
	preBooked := booked(tenant(t) + "-prepaid")
	if perCall != 2 || prepaid != 1 {
		t.Fatalf("commands: %d metered call by call, %d prepaid; want 2 and 1", perCall, prepaid)
	}
	if inner.count("GetUser") != 3 || inner.count("SetAccountEnabled") != 2 {
		t.Fatalf("inner calls: GetUser %d, SetAccountEnabled %d", inner.count("GetUser"), inner.count("SetAccountEnabled"))
	}
	// The per-call tenant spent one more GetUser (the warm-up).
	ru := windowLimit(1000, 10*time.Second, 1, DefaultBurstFraction)
	oneRU := emission(ru)
	for _, name := range names {
		a, b := perBooked[name], preBooked[name]
		if name == BudgetResourceUnits {
			a -= oneRU
		}
		// What is booked drains in tens of milliseconds: on a loaded
		// machine both may read 0, but the prepaid take must have
		// written the bucket.
		if n, err := e.rdb.Exists(bg, g.bucketKey(tenant(t)+"-prepaid", name)).Result(); err != nil || n != 1 {
			t.Errorf("bucket %s of the prepaid tenant: exists %d, %v; want it booked", name, n, err)
		}
		if math.Abs(a-b) > 0.05 {
			t.Errorf("bucket %s: %.3f s booked call by call, %.3f s prepaid; want the same", name, a, b)
		}
	}
}

// What the work did not spend goes back; calls beyond the allowance are
// metered on their own.
func TestPrepaidReleaseAndOverflow(t *testing.T) {
	e := newEnv(t)
	g, h := e.gate(Options{})
	inner := newFakeDir()
	ten := tenant(t)
	d := wrapped(t, g, inner, prepaidLimits, ten, WrapOptions{})
	ctx, p := WithPrepaid(bg, Cost{RU: 2, Writes: 1})
	if _, err := d.GetUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if w := bucketAhead(t, e, g, ten, BudgetWrites); w <= 0 {
		t.Fatalf("writes bucket not booked by the first call (%.3f s ahead)", w)
	}
	p.Release(ctx)
	for _, name := range []string{BudgetWrites, BudgetTenantWrites, BudgetWrites + bulkSuffix} {
		if w := bucketAhead(t, e, g, ten, name); w > 0 {
			t.Errorf("bucket %s still %.3f s ahead after the release of an unspent write", name, w)
		}
	}
	oneRU := emission(windowLimit(1000, 10*time.Second, 1, DefaultBurstFraction))
	if r := bucketAhead(t, e, g, ten, BudgetResourceUnits); math.Abs(r-oneRU) > 0.05 {
		t.Errorf("RU bucket %.3f s ahead after release, want one RU (%.3f s)", r, oneRU)
	}

	// An allowance of one GET: the second GET is metered on its own.
	ctx, p = WithPrepaid(bg, Cost{RU: 1})
	before := h.n.Load()
	for range 2 {
		if _, err := d.GetUser(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	p.Release(ctx)
	if n := h.n.Load() - before; n != 2 {
		t.Fatalf("%d commands for a prepaid GET and one beyond it, want 2", n)
	}
}

// A tenant this process paused is not called from the allowance: the call
// waits out the pause like any other.
func TestPrepaidHonoursPause(t *testing.T) {
	e := newEnv(t)
	g, _ := e.gate(Options{MaxWait: 20 * time.Millisecond})
	inner := newFakeDir()
	ten := tenant(t)
	d := wrapped(t, g, inner, prepaidLimits, ten, WrapOptions{})
	ctx, p := WithPrepaid(bg, Cost{RU: 2, Writes: 1})
	defer p.Release(bg)
	if _, err := d.GetUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Throttled(bg, ten, false, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	err := d.SetAccountEnabled(ctx, "u", false)
	if we := waitErr(t, err); we.Budget != BudgetPause {
		t.Fatalf("budget %q, want %q", we.Budget, BudgetPause)
	}
	if n := inner.count("SetAccountEnabled"); n != 0 {
		t.Fatalf("SetAccountEnabled reached Graph %d times during the pause", n)
	}
}
