package budget

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/internal/testenv"
)

// env is one real redis-server and a way to make "workers" (Gates with
// their own connections) on it.
type env struct {
	t   *testing.T
	srv *testenv.RedisServer
	rdb *redis.Client // for inspection
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := testenv.Redis(t)
	return &env{t: t, srv: srv, rdb: srv.Client()}
}

// gate returns a Gate with its own connection, and the hook counting the
// commands that connection sends.
func (e *env) gate(opts Options) (*Gate, *countHook) {
	c := e.srv.Client()
	h := &countHook{}
	c.AddHook(h)
	return NewGate(c, opts), h
}

// tenant returns a tenant id unique to the test.
func tenant(t *testing.T) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
}

// countHook counts the commands a client sends (one per command, pipelines
// included).
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// commandCalls sums the "calls" of every command in INFO commandstats
// (commands run inside scripts included), except INFO itself.
func commandCalls(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	s, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info:") {
			continue
		}
		_, rest, _ := strings.Cut(line, "calls=")
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			t.Fatalf("commandstats line %q: %v", line, err)
		}
		total += v
	}
	return total
}

// waitErr asserts err is a *WaitError and returns it.
func waitErr(t *testing.T, err error) *WaitError {
	t.Helper()
	var we *WaitError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want a *WaitError", err)
	}
	return we
}

// maxInWindow is the largest number of times falling in any window of
// length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	best := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < w; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

// redisNow is the Redis clock in redis_rate's epoch (s since 2017-01-01).
func redisNow(t *testing.T, rdb *redis.Client) float64 {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return float64(now.UnixMicro())/1e6 - 1483228800
}
