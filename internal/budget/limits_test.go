package budget

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestDefaultLimits(t *testing.T) {
	for _, tc := range []struct {
		size, ru int
	}{{0, 3500}, {1, 3500}, {49, 3500}, {50, 5000}, {500, 5000}, {501, 8000}, {100000, 8000}} {
		l := DefaultLimits(tc.size)
		want := Limits{
			ResourceUnits: tc.ru, ResourceUnitsWindow: 10 * time.Second,
			Writes: 3000, WritesWindow: 150 * time.Second,
			TenantWrites: 18000, TenantWritesWindow: 300 * time.Second,
			CARequestsPerSecond: 1,
		}
		if l != want {
			t.Errorf("DefaultLimits(%d) = %+v, want %+v", tc.size, l, want)
		}
	}
}

func TestMerge(t *testing.T) {
	def := DefaultLimits(600)
	if got := Merge(def, nil); got != def {
		t.Errorf("Merge(nil) = %+v, want the defaults", got)
	}
	if got := Merge(def, &remediation.GraphLimits{}); got != def {
		t.Errorf("Merge(empty) = %+v, want the defaults", got)
	}

	partial := Merge(def, &remediation.GraphLimits{Writes: 1500, CARequestsPerS: 0.5})
	want := def
	want.Writes, want.CARequestsPerSecond = 1500, 0.5
	if partial != want {
		t.Errorf("Merge(partial) = %+v, want %+v", partial, want)
	}

	// The JSON names a tenant's settings carry.
	var o remediation.GraphLimits
	body := `{"resource_units": 1000, "resource_units_window_s": 5, "writes": 100, "writes_window_s": 60,
		"tenant_writes": 900, "tenant_writes_window_s": 120.5, "ca_requests_per_s": 0.25}`
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	full := Merge(def, &o)
	want = Limits{
		ResourceUnits: 1000, ResourceUnitsWindow: 5 * time.Second,
		Writes: 100, WritesWindow: time.Minute,
		TenantWrites: 900, TenantWritesWindow: 120500 * time.Millisecond,
		CARequestsPerSecond: 0.25,
	}
	if full != want {
		t.Errorf("Merge(all) = %+v, want %+v", full, want)
	}
	if back := Merge(Limits{}, ptr(full.GraphLimits())); back != full {
		t.Errorf("GraphLimits round trip = %+v, want %+v", back, full)
	}
	b, err := json.Marshal(remediation.GraphLimits{Writes: 7})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"writes":7}` {
		t.Errorf("JSON of a partial override = %s, want only the set field", b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestGraphLimitsValidate(t *testing.T) {
	ok := []*remediation.GraphLimits{nil, {}, {ResourceUnits: 8000, ResourceUnitsWindowS: 10, CARequestsPerS: 1}}
	for _, l := range ok {
		if err := l.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", l, err)
		}
	}
	bad := []remediation.GraphLimits{
		{ResourceUnits: -1}, {Writes: -5}, {TenantWrites: 20_000_000}, {WritesWindowS: -1},
		{TenantWritesWindowS: 7200}, {CARequestsPerS: -0.5}, {CARequestsPerS: math.NaN()}, {ResourceUnitsWindowS: math.NaN()},
	}
	for _, l := range bad {
		if err := l.Validate(); remediation.ErrorCode(err) != remediation.EINVALID {
			t.Errorf("Validate(%+v) = %v, want %s", l, err, remediation.EINVALID)
		}
	}
}

// The GCRA limit of "n per window" never lets more than n into a window:
// burst + rate ≤ n (for n ≥ 2), with a burst of at least 2 (n ≥ 3) and a rate of
// at least 1.
func TestWindowLimitStaysWithinBudget(t *testing.T) {
	for _, share := range []float64{1, 0.98, 0.97, 0.95, 0.5} {
		for _, f := range []float64{0.02, 0.2, 0.5} {
			for n := 1; n <= 400; n++ {
				l := windowLimit(n, time.Second, share, f)
				eff := max(int(math.Floor(float64(n)*share+1e-9)), 1)
				if l.Rate < 1 || l.Burst < 1 || l.Period != time.Second {
					t.Fatalf("windowLimit(%d, %v, %v) = %v", n, share, f, l)
				}
				if eff >= 2 && (l.Burst+l.Rate > eff || l.Burst < min(2, eff-1)) {
					t.Fatalf("windowLimit(%d, %v, %v) = %v: burst+rate must be ≤ %d, burst ≥ 2 when it fits", n, share, f, l, eff)
				}
			}
		}
	}
	// Production numbers: 3,000 writes per 150 s → 60 at once, then 19.6/s.
	got := windowLimit(3000, 150*time.Second, 1, DefaultBurstFraction)
	if want := (redis_rate.Limit{Rate: 2940, Burst: 60, Period: 150 * time.Second}); got != want {
		t.Errorf("writes limit = %v, want %v", got, want)
	}
}

func TestPace(t *testing.T) {
	g := NewGate(nil, Options{})
	l := DefaultLimits(0)
	// Bulk (97 %): writes_bulk allows (2910−59)/150 s = 19.01/s; RU bulk
	// (3395−68)/10 s = 332.7 RU/s = 166 items at 2 RU.
	if got := g.Pace(l, 2, 1, Bulk); math.Abs(got-2851.0/150) > 1e-9 {
		t.Errorf("bulk pace = %v, want %v", got, 2851.0/150)
	}
	if got := g.Pace(l, 2, 1, Urgent); math.Abs(got-2940.0/150) > 1e-9 {
		t.Errorf("urgent pace = %v, want %v", got, 2940.0/150)
	}
	// Read-only items are bound by resource units.
	if got := g.Pace(l, 4, 0, Urgent); math.Abs(got-3430.0/10/4) > 1e-9 {
		t.Errorf("read pace = %v, want %v", got, 3430.0/10/4)
	}
	if got := g.Pace(Limits{}, 4, 1, Bulk); !math.IsInf(got, 1) {
		t.Errorf("pace without limits = %v, want +Inf", got)
	}
}
