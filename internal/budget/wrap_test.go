package budget

import (
	"context"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// wrapped returns tenant ten's metered Directory over inner.
func wrapped(t *testing.T, g *Gate, inner remediation.Directory, l Limits, ten string, opts WrapOptions) remediation.Directory {
	t.Helper()
	d, err := Wrap(fakeDirs{inner}, g, func(*remediation.Tenant) Limits { return l }, opts).For(bg, &remediation.Tenant{ID: ten})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWrapKeepsInterfaces(t *testing.T) {
	e := newEnv(t)
	g, _ := e.gate(Options{})
	full := newFakeDir()
	for _, tc := range []struct {
		name                string
		inner               remediation.Directory
		policy, role, group bool
	}{
		{"full", full, true, true, true},
		{"directory only", struct{ remediation.Directory }{full}, false, false, false},
		{"roles", struct {
			remediation.Directory
			remediation.RoleDirectory
		}{full, full}, false, true, false},
		{"policies and groups", struct {
			remediation.Directory
			remediation.PolicyDirectory
			remediation.GroupDirectory
		}{full, full, full}, true, false, true},
	} {
		d := wrapped(t, g, tc.inner, DefaultLimits(0), "t", WrapOptions{})
		_, p := d.(remediation.PolicyDirectory)
		_, r := d.(remediation.RoleDirectory)
		_, gr := d.(remediation.GroupDirectory)
		_, f := d.(remediation.FullDirectory)
		if p != tc.policy || r != tc.role || gr != tc.group || f != (tc.policy && tc.role && tc.group) {
			t.Errorf("%s: policy %v role %v group %v full %v, want %v %v %v", tc.name, p, r, gr, f, tc.policy, tc.role, tc.group)
		}
	}
}

// Every FullDirectory method is metered with its cost and reaches the
// inner Directory once.
func TestWrapCostsEveryMethod(t *testing.T) {
	e := newEnv(t)
	g, _ := e.gate(Options{})
	l := Limits{ResourceUnits: 1000, ResourceUnitsWindow: 1000 * time.Second, Writes: 1000, WritesWindow: 1000 * time.Second,
		TenantWrites: 1000, TenantWritesWindow: 1000 * time.Second, CARequestsPerSecond: 0.001}
	ru := windowLimit(1000, 1000*time.Second, 1, DefaultBurstFraction)

	iface := reflect.TypeFor[remediation.FullDirectory]()
	if iface.NumMethod() != len(MethodCosts) {
		t.Errorf("MethodCosts has %d entries, FullDirectory %d methods", len(MethodCosts), iface.NumMethod())
	}
	ctx := WithLane(bg, Urgent)
	for i := range iface.NumMethod() {
		name := iface.Method(i).Name
		cost, ok := MethodCosts[name]
		if !ok {
			t.Errorf("%s has no cost", name)
			continue
		}
		ten := tenant(t) + "-" + name
		inner := newFakeDir()
		d := wrapped(t, g, inner, l, ten, WrapOptions{})
		m := reflect.ValueOf(d).MethodByName(name)
		args := []reflect.Value{reflect.ValueOf(ctx)}
		for j := 1; j < m.Type().NumIn(); j++ {
			args = append(args, reflect.Zero(m.Type().In(j)))
		}
		out := m.Call(args)
		if err, _ := out[len(out)-1].Interface().(error); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if n := inner.count(name); n != 1 {
			t.Errorf("%s reached the inner directory %d times", name, n)
		}
		tat, err := e.rdb.Get(bg, g.bucketKey(ten, BudgetResourceUnits)).Float64()
		if err != nil {
			t.Fatalf("%s: RU bucket: %v", name, err)
		}
		if got := int(math.Round((tat - redisNow(t, e.rdb)) / emission(ru))); got != cost.RU {
			t.Errorf("%s took %d RU, want %d", name, got, cost.RU)
		}
		for budget, want := range map[string]bool{BudgetWrites: cost.Write, BudgetTenantWrites: cost.Write, BudgetCA: cost.CA} {
			if got := e.rdb.Exists(bg, g.bucketKey(ten, budget)).Val() == 1; got != want {
				t.Errorf("%s: took from %s = %v, want %v", name, budget, got, want)
			}
		}
	}
	// Spot-check the table against Graph's price list.
	for name, want := range map[string]Cost{
		"GetUser": {RU: 1}, "SetAccountEnabled": {RU: 1, Write: true}, "TransitiveRoleTemplateIDs": {RU: 2},
		"ListMemberOfGroups": {RU: 2}, "UpdateCAPolicyUsers": {RU: 1, Write: true, CA: true},
	} {
		if MethodCosts[name] != want {
			t.Errorf("cost of %s = %+v, want %+v", name, MethodCosts[name], want)
		}
	}
}

// A call the budget refuses does not reach Graph; reads do not spend
// writes; waits are reported with the budget of the call's lane.
func TestWrapMetersCalls(t *testing.T) {
	e := newEnv(t)
	never, _ := e.gate(Options{MaxWait: -1})
	ten := tenant(t)
	inner := newFakeDir()
	d := wrapped(t, never, inner, Limits{Writes: 2, WritesWindow: 10 * time.Second}, ten, WrapOptions{})
	if err := d.SetAccountEnabled(bg, "u", false); err != nil {
		t.Fatal(err)
	}
	err := d.SetAccountEnabled(bg, "u", false)
	if we := waitErr(t, err); we.Budget == "" {
		t.Errorf("WaitError without a budget: %+v", we)
	}
	if n := inner.count("SetAccountEnabled"); n != 1 {
		t.Errorf("inner SetAccountEnabled called %d times, want 1 (the refused call must not reach Graph)", n)
	}
	if _, err := d.GetUser(bg, "u"); err != nil {
		t.Errorf("a read after the writes ran out: %v", err)
	}

	patient, _ := e.gate(Options{MaxWait: 2 * time.Second})
	var (
		mu    sync.Mutex
		waits = map[string]int{}
	)
	onWait := func(budget string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d > 0 {
			waits[budget]++
		}
	}
	l := Limits{Writes: 10, WritesWindow: time.Second} // urgent: 2 at once then 8/s; bulk: 2, then 7/s
	for _, ctx := range []context.Context{WithLane(bg, Urgent), bg} {
		d := wrapped(t, patient, newFakeDir(), l, ten+"-"+LaneFrom(ctx).String(), WrapOptions{OnWait: onWait})
		for range 3 {
			if err := d.RevokeSignInSessions(ctx, "u"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if waits[BudgetWrites] != 1 || waits[BudgetWrites+bulkSuffix] != 1 || len(waits) != 2 {
		t.Errorf("OnWait saw %v, want one wait on writes (urgent) and one on writes_bulk (default lane)", waits)
	}
}

// Graph's throttling answers pause the tenant for every worker; a call
// Graph answers afterwards resets the backoff.
func TestWrapThrottling(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	opts := Options{BackoffBase: 200 * time.Millisecond, MaxWait: 2 * time.Second}
	g, _ := e.gate(opts)
	other, _ := e.gate(Options{MaxWait: -1})
	l := DefaultLimits(0)
	inner := newFakeDir()
	var errs []error
	d := wrapped(t, g, inner, l, ten, WrapOptions{OnError: func(err error) { errs = append(errs, err) }})
	watch := wrapped(t, other, inner, l, ten, WrapOptions{})
	counter := g.counterKey(ten, scopeTenant)

	// 429 with Retry-After: the error comes back as is, and the tenant is
	// paused for the other worker too.
	throttle := &remediation.GraphError{Operation: "GET /users/u", Status: 429, Code: "TooManyRequests", RetryAfter: 300 * time.Millisecond}
	inner.failNext("GetUser", throttle)
	if _, err := d.GetUser(bg, "u"); err != throttle {
		t.Fatalf("GetUser = %v, want Graph's own error", err)
	}
	if left := e.rdb.PTTL(bg, g.pauseKey(ten, BudgetPause)).Val(); left <= 0 || left > 300*time.Millisecond {
		t.Errorf("pause left %s, want (0, 300 ms]", left)
	}
	if _, err := watch.GetUser(bg, "u"); waitErr(t, err).Budget != BudgetPause {
		t.Errorf("other worker during the pause: %v", err)
	}
	if n := e.rdb.Exists(bg, counter).Val(); n != 1 {
		t.Fatal("no consecutive-refusal count after a 429")
	}
	// The next call waits the pause out, succeeds, and resets the count.
	start := time.Now()
	if _, err := d.GetUser(bg, "u"); err != nil {
		t.Fatal(err)
	}
	if w := time.Since(start); w < 150*time.Millisecond {
		t.Errorf("call after the 429 went after %s, want the pause waited out", w)
	}
	if n := e.rdb.Exists(bg, counter).Val(); n != 0 {
		t.Error("a success did not reset the consecutive-refusal count")
	}

	// 503 without Retry-After on a write: exponential backoff (base 200 ms).
	inner.failNext("RevokeSignInSessions", &remediation.GraphError{Status: 503})
	if err := d.RevokeSignInSessions(bg, "u"); err == nil {
		t.Fatal("RevokeSignInSessions hid the 503")
	}
	if left := e.rdb.PTTL(bg, g.pauseKey(ten, BudgetPause)).Val(); left <= 0 || left > 200*time.Millisecond {
		t.Errorf("backoff pause %s, want (0, 200 ms]", left)
	}
	e.rdb.Del(bg, g.pauseKey(ten, BudgetPause))
	// No answer (network error): no pause, the count stays.
	inner.failNext("GetUser", &remediation.GraphError{Status: 0, Code: "network_error"})
	if _, err := d.GetUser(bg, "u"); err == nil {
		t.Fatal("GetUser hid the network error")
	}
	if e.rdb.Exists(bg, g.pauseKey(ten, BudgetPause)).Val() != 0 || e.rdb.Exists(bg, counter).Val() != 1 {
		t.Error("a network error paused the tenant or reset the count")
	}
	// A 404 is an answer: the count resets.
	inner.failNext("GetGroup", &remediation.GraphError{Status: 404, Code: "Request_ResourceNotFound"})
	if _, err := d.(remediation.GroupDirectory).GetGroup(bg, "g"); err == nil {
		t.Fatal("GetGroup hid the 404")
	}
	if e.rdb.Exists(bg, counter).Val() != 0 {
		t.Error("a 404 did not reset the count")
	}

	// A Conditional Access 429 (no Retry-After) pauses CA calls only.
	inner.failNext("GetCAPolicy", &remediation.GraphError{Status: 429, Code: "TooManyRequests"})
	if _, err := d.(remediation.PolicyDirectory).GetCAPolicy(bg, "p"); err == nil {
		t.Fatal("GetCAPolicy hid the 429")
	}
	if _, err := watch.GetUser(bg, "u"); err != nil {
		t.Errorf("identity call during a CA pause: %v", err)
	}
	before := inner.count("GetCAPolicy")
	_, err := watch.(remediation.PolicyDirectory).GetCAPolicy(bg, "p")
	if we := waitErr(t, err); we.Budget != BudgetPauseCA {
		t.Errorf("CA call during the CA pause: %+v", we)
	}
	if inner.count("GetCAPolicy") != before {
		t.Error("a CA call refused by the pause reached Graph")
	}
	if len(errs) != 0 {
		t.Errorf("OnError: %v", errs)
	}
}
