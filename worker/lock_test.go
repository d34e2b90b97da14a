package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/testenv"
)

func TestLock(t *testing.T) {
	r := testenv.Redis(t)
	rdb := r.Client()
	ctx := context.Background()
	const ttl = 600 * time.Millisecond

	l, lctx, err := acquireLock(ctx, rdb, "k", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := acquireLock(ctx, rdb, "k", ttl); !errors.Is(err, errLockHeld) {
		t.Fatalf("second acquire = %v, want errLockHeld", err)
	}
	// Renewal keeps the lock well past its time-to-live.
	<-time.After(2 * ttl)
	if lctx.Err() != nil {
		t.Fatal("the lock's context ended while it was held")
	}
	if _, _, err := acquireLock(ctx, rdb, "k", ttl); !errors.Is(err, errLockHeld) {
		t.Fatalf("acquire after %s = %v, want errLockHeld (renewed)", 2*ttl, err)
	}
	if err := l.release(ctx); err != nil {
		t.Fatal(err)
	}
	if lctx.Err() == nil {
		t.Error("the lock's context is alive after release")
	}

	// Released: the next holder takes it. When its key is taken over (it
	// expired while the holder stalled), the holder's context ends and its
	// release leaves the new holder's key alone.
	l2, lctx2, err := acquireLock(ctx, rdb, "k", ttl)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := rdb.Set(ctx, lockPrefix+"k", "other-holder", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lctx2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a lost lock's context did not end")
	}
	if err := l2.release(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, lockPrefix+"k").Result(); err != nil || v != "other-holder" {
		t.Errorf("after releasing a lost lock the key is %q (%v), want the other holder's", v, err)
	}
}

func TestLockReportsRedisDown(t *testing.T) {
	r := testenv.Redis(t)
	rdb := r.Client()
	r.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := acquireLock(ctx, rdb, "k", time.Second); err == nil || errors.Is(err, errLockHeld) {
		t.Fatalf("acquire with Redis down = %v, want an infrastructure error", err)
	}
}

func TestCAPacer(t *testing.T) {
	r := testenv.Redis(t)
	const interval = 200 * time.Millisecond
	// Two pacers on one Redis: two worker processes.
	p1, p2 := newCAPacer(r.Client(), interval), newCAPacer(r.Client(), interval)
	ctx := withPaceTenant(context.Background(), "tenant-a")

	start := time.Now()
	var at []time.Duration
	for i := range 6 {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		if err := p.Pace(ctx); err != nil {
			t.Fatal(err)
		}
		at = append(at, time.Since(start))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i] - at[i-1]; gap < interval-20*time.Millisecond {
			t.Errorf("turns %d and %d of one tenant %s apart, want at least %s", i-1, i, gap, interval)
		}
	}
	if total := at[len(at)-1]; total > 5*interval+time.Second {
		t.Errorf("6 turns took %s, want about %s", total, 5*interval)
	}

	// Another tenant does not wait for tenant-a.
	t0 := time.Now()
	if err := p1.PaceTenant(context.Background(), "tenant-b"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > interval/2 {
		t.Errorf("tenant-b waited %s for tenant-a's pace", d)
	}

	// Waiting ends with the context.
	if err := p1.Pace(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := p1.Pace(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Pace past its deadline = %v, want DeadlineExceeded", err)
	}
	if err := p1.Pace(context.Background()); err == nil {
		t.Error("Pace without a tenant in the context succeeded")
	}
}
