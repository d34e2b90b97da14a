package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestTenantChangeNotices(t *testing.T) {
	r := testenv.Redis(t)
	sub, pub := r.Client(), r.Client()
	defer sub.Close()
	defer pub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		changed []string
		resets  int
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		queue.WatchTenantChanges(ctx, sub, func(id string) {
			mu.Lock()
			changed = append(changed, id)
			mu.Unlock()
		}, func() {
			mu.Lock()
			resets++
			mu.Unlock()
		})
	}()
	state := func() ([]string, int) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), changed...), resets
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, r := state(); r == 0; _, r = state() { // subscribed
		if time.Now().After(deadline) {
			t.Fatal("no reset when the subscription started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := queue.PublishTenantChanged(ctx, pub, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	for c, _ := state(); len(c) == 0; c, _ = state() {
		if time.Now().After(deadline) {
			t.Fatal("the notice did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c, _ := state(); len(c) != 1 || c[0] != "tenant-1" {
		t.Fatalf("changed %v", c)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchTenantChanges did not return when its context ended")
	}
}
