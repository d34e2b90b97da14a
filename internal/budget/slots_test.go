package budget

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// Slots booked concurrently from two workers never overlap, keep their
// spacing and follow each other without gaps.
func TestScheduleSlotsAcrossGates(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	g1, _ := e.gate(Options{})
	g2, _ := e.gate(Options{})
	const (
		perSecond = 50.0
		step      = 20 * time.Millisecond
		calls     = 5
		n         = 7
	)
	start := time.Now()
	var (
		mu  sync.Mutex
		all []time.Time
		wg  sync.WaitGroup
	)
	for i := range 4 {
		g := []*Gate{g1, g2}[i%2]
		wg.Go(func() {
			for range calls {
				slots, err := g.ScheduleSlots(bg, ten, n, perSecond, Bulk)
				if err != nil {
					t.Error(err)
					return
				}
				for j := 1; j < len(slots); j++ {
					if d := slots[j].Sub(slots[j-1]); d < step-time.Microsecond || d > step+time.Microsecond {
						t.Errorf("slots %d and %d of one call are %s apart, want %s", j-1, j, d, step)
					}
				}
				mu.Lock()
				all = append(all, slots...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(all) != 4*calls*n {
		t.Fatalf("%d slots, want %d", len(all), 4*calls*n)
	}
	slices.SortFunc(all, time.Time.Compare)
	for j := 1; j < len(all); j++ {
		if d := all[j].Sub(all[j-1]); d < step-2*time.Microsecond {
			t.Fatalf("slots %s and %s overlap (%s apart, want ≥ %s)", all[j-1], all[j], d, step)
		}
	}
	if d := all[0].Sub(start); d < -time.Second || d > time.Second {
		t.Errorf("first slot is %s from now, want about now", d)
	}
	span := all[len(all)-1].Sub(all[0])
	if want := time.Duration(len(all)-1) * step; span < want-time.Millisecond || span > want+100*time.Millisecond {
		t.Errorf("slots span %s, want ~%s (no gaps)", span, want)
	}

	// Sequential calls from alternating workers start where the last ended.
	prev := all[len(all)-1]
	for i := range 4 {
		slots, err := []*Gate{g1, g2}[i%2].ScheduleSlots(bg, ten, 3, perSecond, Bulk)
		if err != nil {
			t.Fatal(err)
		}
		if d := slots[0].Sub(prev); d < step-2*time.Microsecond || d > step+time.Millisecond {
			t.Errorf("call %d starts %s after the previous slot, want %s", i, d, step)
		}
		prev = slots[2]
	}

	// The urgent lane has its own schedule: it starts now.
	urgent, err := g1.ScheduleSlots(bg, ten, 1, perSecond, Urgent)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(urgent[0]); d > 500*time.Millisecond {
		t.Errorf("urgent slot is %s ahead, want now (behind no bulk schedule)", d)
	}
}

func TestScheduleSlotsEdges(t *testing.T) {
	e := newEnv(t)
	ten := tenant(t)
	g, _ := e.gate(Options{})
	for _, tc := range []struct {
		n    int
		rate float64
	}{{-1, 10}, {maxSlots + 1, 10}, {3, 0}, {3, -2}, {3, math.NaN()}} {
		if _, err := g.ScheduleSlots(bg, ten, tc.n, tc.rate, Bulk); err == nil {
			t.Errorf("ScheduleSlots(n=%d, rate=%v) succeeded", tc.n, tc.rate)
		}
	}
	if _, err := g.ScheduleSlots(bg, "", 3, 1, Bulk); err == nil {
		t.Error("ScheduleSlots without a tenant succeeded")
	}
	if s, err := g.ScheduleSlots(bg, ten, 0, 1, Bulk); err != nil || len(s) != 0 {
		t.Errorf("ScheduleSlots(0) = %v, %v", s, err)
	}
	// An unlimited rate puts every slot now.
	s, err := g.ScheduleSlots(bg, ten, 5, math.Inf(1), Bulk)
	if err != nil {
		t.Fatal(err)
	}
	if !s[0].Equal(s[4]) || time.Until(s[0]).Abs() > time.Second {
		t.Errorf("unlimited slots = %v, want all now", s)
	}
	// A schedule left in the past starts over at now, not at its stale
	// next slot.
	old, err := g.ScheduleSlots(bg, ten+"-idle", 2, 100, Bulk) // next free: old[1] + 10 ms
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the schedule to fall in the past", func() bool { return time.Since(old[1]) > 50*time.Millisecond })
	s, err = g.ScheduleSlots(bg, ten+"-idle", 1, 100, Bulk)
	if err != nil {
		t.Fatal(err)
	}
	if d := s[0].Sub(old[1]); d < 40*time.Millisecond {
		t.Errorf("slot after an idle schedule is %s after the last one, want now (≥ 50 ms later)", d)
	}
	if d := time.Until(s[0]); d > 5*time.Millisecond {
		t.Errorf("slot after an idle schedule is %s ahead, want now", d)
	}
}
