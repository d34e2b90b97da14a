package main

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// redisRateLimiter is the API's per-key request limit, shared by every API
// replica through Redis (GCRA from go-redis/redis_rate).
type redisRateLimiter struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

func newRedisRateLimiter(rdb redis.UniversalClient, perSecond int) *redisRateLimiter {
	return &redisRateLimiter{l: redis_rate.NewLimiter(rdb), limit: redis_rate.Limit{Rate: perSecond, Burst: 2 * perSecond, Period: time.Second}}
}

// Allow implements api.RateLimiter.
func (r *redisRateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := r.l.Allow(ctx, "apikey:"+key, r.limit)
	if err != nil {
		return true, 0, err
	}
	return res.Allowed > 0, res.RetryAfter, nil
}
