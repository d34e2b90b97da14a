package worker

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// sharedReadTTL is how long a shared read (remediation.Exec.Shared) is
// reused: long enough for a dry run's items to share one Conditional
// Access read per tenant instead of waiting for one request/s each,
// short enough that a preview reflects a change made meanwhile.
const sharedReadTTL = 5 * time.Second

// sharedReadsMax bounds the results kept; older ones are dropped first
// when it is reached.
const sharedReadsMax = 1024

// sharedReads is the process-wide memo behind remediation.Exec.Shared:
// concurrent reads of a key share one call (singleflight), and its
// result is reused for ttl. Errors are not kept.
type sharedReads struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu   sync.Mutex
	kept map[string]sharedRead
}

type sharedRead struct {
	v  any
	at time.Time
}

func newSharedReads(ttl time.Duration) *sharedReads {
	return &sharedReads{ttl: ttl, now: time.Now, kept: map[string]sharedRead{}}
}

// do returns the kept result of key, or runs read (once for all the
// callers waiting for key) and keeps its result.
func (s *sharedReads) do(ctx context.Context, key string, read func(context.Context) (any, error)) (any, error) {
	s.mu.Lock()
	r, ok := s.kept[key]
	s.mu.Unlock()
	if ok && s.now().Sub(r.at) < s.ttl {
		return r.v, nil
	}
	v, err, _ := s.group.Do(key, func() (any, error) {
		v, err := read(ctx)
		if err != nil {
			return nil, err
		}
		s.keep(key, v)
		return v, nil
	})
	return v, err
}

// keep stores a result, first dropping the expired ones (and, at the
// bound, the oldest).
func (s *sharedReads) keep(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.kept) >= sharedReadsMax {
		oldest, at := "", now
		for k, r := range s.kept {
			if now.Sub(r.at) >= s.ttl {
				delete(s.kept, k)
			} else if r.at.Before(at) {
				oldest, at = k, r.at
			}
		}
		if len(s.kept) >= sharedReadsMax {
			delete(s.kept, oldest)
		}
	}
	s.kept[key] = sharedRead{v: v, at: now}
}
