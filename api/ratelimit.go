package api

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/entraremediator/remediator/internal/remediation"
)

// RateLimiter decides whether one more request of a key may run now.
// key is the API key id ("bootstrap" for the bootstrap key). When it
// refuses, retryAfter says when to try again. An error lets the request
// through (logged): the limiter protects the service, it is no
// authorization.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error)
}

// rateLimitTimeout bounds one limiter decision (e.g. a Redis round trip).
const rateLimitTimeout = time.Second

// rateLimit answers 429 rate_limited with Retry-After (whole seconds,
// rounded up) when the limiter refuses the caller's key.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := PrincipalFrom(c.Request().Context())
		if s.cfg.RateLimiter == nil || !ok {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), rateLimitTimeout)
		allowed, after, err := s.cfg.RateLimiter.Allow(ctx, p.KeyID)
		cancel()
		if err != nil {
			s.log.WarnContext(c.Request().Context(), "api: rate limiter failed; request let through",
				slog.String("key_id", p.KeyID), slog.Any("err", err))
			return next(c)
		}
		if allowed {
			return next(c)
		}
		secs := int64(math.Ceil(after.Seconds()))
		if secs < 1 {
			secs = 1
		}
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.FormatInt(secs, 10))
		return &remediation.Error{
			Code:    remediation.ERATELIMITED,
			Message: "Too many requests for this API key; retry after " + strconv.FormatInt(secs, 10) + " s.",
			Details: map[string]any{"retry_after_seconds": secs},
		}
	}
}

// MemoryRateLimiter is a RateLimiter keeping one token bucket per key in
// memory (for one API process; tests and the embedded default).
type MemoryRateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// maxMemoryBuckets bounds the keys a MemoryRateLimiter remembers; past
// it, the buckets are forgotten (all keys start full again).
const maxMemoryBuckets = 10000

// NewMemoryRateLimiter allows each key perSecond requests per second on
// average, and bursts of up to burst requests.
func NewMemoryRateLimiter(perSecond float64, burst int) *MemoryRateLimiter {
	return &MemoryRateLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*rate.Limiter{}}
}

// Allow takes a token from key's bucket, or says when one will be there.
func (m *MemoryRateLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	m.mu.Lock()
	b, ok := m.buckets[key]
	if !ok {
		if len(m.buckets) >= maxMemoryBuckets {
			clear(m.buckets)
		}
		b = rate.NewLimiter(m.limit, m.burst)
		m.buckets[key] = b
	}
	m.mu.Unlock()
	now := time.Now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}
