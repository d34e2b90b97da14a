package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSharedReadsShareOneReadForTheirTTL(t *testing.T) {
	s := newSharedReads(5 * time.Second)
	now := time.Now()
	s.now = func() time.Time { return now }
	var reads atomic.Int32
	release := make(chan struct{})
	read := func(context.Context) (any, error) {
		reads.Add(1)
		<-release
		return "policy v1", nil
	}

	// Concurrent callers wait for one read (or, coming later, find its
	// result kept).
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Go(func() { got[i], _ = s.do(t.Context(), "t1/ca", read) })
	}
	time.Sleep(20 * time.Millisecond) // most join the read in flight
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != "policy v1" {
			t.Fatalf("caller %d got %v", i, v)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads for 8 concurrent callers, want 1", n)
	}

	// Within the TTL: kept; another key: read; after the TTL: read again.
	if v, _ := s.do(t.Context(), "t1/ca", read); v != "policy v1" || reads.Load() != 1 {
		t.Fatalf("within the TTL: %v after %d reads", v, reads.Load())
	}
	if _, _ = s.do(t.Context(), "t2/ca", read); reads.Load() != 2 {
		t.Fatalf("another key: %d reads, want 2", reads.Load())
	}
	now = now.Add(5 * time.Second)
	if _, _ = s.do(t.Context(), "t1/ca", read); reads.Load() != 3 {
		t.Fatalf("after the TTL: %d reads, want 3", reads.Load())
	}
}

func TestSharedReadsKeepNoErrorAndStayBounded(t *testing.T) {
	s := newSharedReads(time.Minute)
	boom := errors.New("throttled")
	calls := 0
	failing := func(context.Context) (any, error) { calls++; return nil, boom }
	for range 2 {
		if _, err := s.do(t.Context(), "k", failing); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the read's", err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d reads after two failures, want 2 (errors are not kept)", calls)
	}
	ok := func(context.Context) (any, error) { return 1, nil }
	for i := range sharedReadsMax + 10 {
		if _, err := s.do(t.Context(), fmt.Sprint(i), ok); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.size(); n > sharedReadsMax {
		t.Fatalf("%d results kept, want at most %d", n, sharedReadsMax)
	}
}

func (s *sharedReads) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kept)
}
