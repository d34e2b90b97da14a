package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// lockPrefix starts the Redis keys of policy flush locks.
const lockPrefix = "remediator:lock:"

// Scripts that act only while the caller's token still holds the lock.
var (
	renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1]) end
return 0`)
)

// errLockHeld: another flush holds the lock.
var errLockHeld = errors.New("lock held by another flush")

// lock is a held Redis lock (SET NX PX with a random token). It is renewed
// every ttl/3 while held; when a renewal finds the lock gone (expired and
// taken, or Redis unreachable for a whole ttl) the lock's context is
// canceled, so the holder stops before it can overlap the next holder.
type lock struct {
	rdb    redis.UniversalClient
	key    string
	token  string
	ttl    time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

// acquireLock takes the lock named key for ttl. It returns errLockHeld
// when another holder has it, and a context that ends when the lock is
// lost or released.
func acquireLock(ctx context.Context, rdb redis.UniversalClient, key string, ttl time.Duration) (*lock, context.Context, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	l := &lock{rdb: rdb, key: lockPrefix + key, token: hex.EncodeToString(b[:]), ttl: ttl, done: make(chan struct{})}
	ok, err := rdb.SetNX(ctx, l.key, l.token, ttl).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("worker: take lock %s: %w", key, err)
	}
	if !ok {
		return nil, nil, errLockHeld
	}
	lctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go l.renew(lctx)
	return l, lctx, nil
}

// renew extends the lock every ttl/3 until ctx ends; it cancels ctx when
// the lock is no longer ours or could not be renewed before it expired.
func (l *lock) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	expires := time.Now().Add(l.ttl)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		n, err := renewScript.Run(rctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
		cancel()
		switch {
		case err == nil && n == 1:
			expires = time.Now().Add(l.ttl)
		case err == nil, time.Until(expires) < l.ttl/3:
			l.cancel() // lost, or about to expire unrenewed
			return
		}
	}
}

// release stops the renewal and deletes the lock if it is still ours.
func (l *lock) release(ctx context.Context) error {
	l.cancel()
	<-l.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token).Err(); err != nil {
		return fmt.Errorf("worker: release lock %s: %w", l.key, err)
	}
	return nil
}
