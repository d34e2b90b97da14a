package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// TenantChannel is the Redis Pub/Sub channel on which a tenant's id is
// published after a committed change of it (settings, credentials, policy
// refs, deletion): workers drop their cached copy at once instead of
// serving it until it expires.
const TenantChannel = "remediator:tenant-changed"

// PublishTenantChanged announces a change of tenant id on TenantChannel.
func PublishTenantChanged(ctx context.Context, rdb redis.UniversalClient, tenantID string) error {
	return rdb.Publish(ctx, TenantChannel, tenantID).Err()
}

// TenantChangeAnnouncer returns a history.Store.TenantChanged hook that
// publishes each change (PublishTenantChanged, within 2 s); a failure is
// logged: a lost notice only leaves a worker's copy for its cache TTL.
func TenantChangeAnnouncer(rdb redis.UniversalClient, log *slog.Logger) func(ctx context.Context, tenantID string) {
	return func(ctx context.Context, tenantID string) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := PublishTenantChanged(ctx, rdb, tenantID); err != nil {
			log.Warn("could not announce a tenant change", slog.String("tenant_id", tenantID), slog.Any("error", err))
		}
	}
}

// WatchTenantChanges calls changed with every tenant id published on
// TenantChannel until ctx ends. Pub/Sub keeps nothing for a subscriber
// that is away, so reset is called whenever the subscription starts or
// breaks: the caller drops everything it cached.
func WatchTenantChanges(ctx context.Context, rdb redis.UniversalClient, changed func(tenantID string), reset func()) {
	for ctx.Err() == nil {
		ps := rdb.Subscribe(ctx, TenantChannel)
		// A blocked Receive does not watch ctx: closing the subscription
		// ends it.
		stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
		for {
			msg, err := ps.Receive(ctx)
			if err != nil {
				break
			}
			switch m := msg.(type) {
			case *redis.Subscription:
				reset()
			case *redis.Message:
				changed(m.Payload)
			}
		}
		stop()
		_ = ps.Close()
		reset()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
