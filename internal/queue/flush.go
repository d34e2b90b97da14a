package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/remediation"
)

// TypePolicyFlush is the task type of a policy flush: apply the pending
// policy requests of one tenant and policy kind. Append-only.
const TypePolicyFlush = "remediation:policy_flush"

// Defaults of Options for policy flushes.
const (
	DefaultPolicyFlushWindow  = 2 * time.Second
	DefaultPolicyFlushTimeout = 10 * time.Minute
)

// PolicyFlushPayload is the payload of a policy flush task.
type PolicyFlushPayload struct {
	TenantID string                 `json:"tenant_id"`
	Kind     remediation.PolicyKind `json:"kind"`
}

// PolicyFlushTaskID returns the TaskID of the scheduled flush of a tenant
// and kind for requests made at at, with time buckets of width window:
// "flush:<tenant>:<kind>:<bucket>", bucket being at in window units since
// the Unix epoch.
func PolicyFlushTaskID(tenantID string, kind remediation.PolicyKind, at time.Time, window time.Duration) string {
	return "flush:" + tenantID + ":" + string(kind) + ":" + strconv.FormatInt(at.UnixNano()/int64(window), 10)
}

// RecoveryFlushTaskID returns the TaskID of the reconciler's flush of a
// tenant and kind: one such task exists at a time, however often the
// reconciler asks, even while it waits for a retry.
func RecoveryFlushTaskID(tenantID string, kind remediation.PolicyKind) string {
	return "flush:" + tenantID + ":" + string(kind) + ":recover"
}

// NewPolicyFlushTask returns the flush task of a tenant and kind.
func NewPolicyFlushTask(tenantID string, kind remediation.PolicyKind) (*asynq.Task, error) {
	if tenantID == "" || kind == "" {
		return nil, fmt.Errorf("queue: policy flush task: empty tenant %q or kind %q", tenantID, kind)
	}
	b, err := json.Marshal(PolicyFlushPayload{TenantID: tenantID, Kind: kind})
	if err != nil {
		return nil, fmt.Errorf("queue: policy flush payload: %w", err)
	}
	return asynq.NewTask(TypePolicyFlush, b), nil
}

// ParsePolicyFlush decodes a flush task's payload. A malformed payload can
// never succeed: the error wraps asynq.SkipRetry.
func ParsePolicyFlush(t *asynq.Task) (PolicyFlushPayload, error) {
	var p PolicyFlushPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == "" || p.Kind == "" {
		return p, fmt.Errorf("queue: malformed %s payload: %v: %w", TypePolicyFlush, err, asynq.SkipRetry)
	}
	return p, nil
}

// SchedulePolicyFlush makes sure a flush of the tenant's kind runs after
// the request just recorded: it enqueues the flush task of the current
// time bucket (Options.PolicyFlushWindow wide, see PolicyFlushTaskID) to
// run when the bucket ends, so that the requests of every item made
// meanwhile are applied by one flush. A task of that bucket that already
// exists makes this a no-op; as it cannot have started before the bucket
// ended, it will see the request.
func (c *Client) SchedulePolicyFlush(ctx context.Context, tenantID string, kind remediation.PolicyKind) error {
	now := time.Now()
	win := c.opts.PolicyFlushWindow
	end := time.Unix(0, (now.UnixNano()/int64(win)+1)*int64(win))
	// asynq keeps schedule times in whole seconds, truncated: round up so
	// that the task never runs before its bucket ends.
	if t := end.Truncate(time.Second); t.Before(end) {
		end = t.Add(time.Second)
	}
	return c.enqueueFlush(ctx, tenantID, kind, PolicyFlushTaskID(tenantID, kind, now, win), asynq.ProcessAt(end))
}

// RecoverPolicyFlush enqueues the reconciler's flush of a tenant and kind
// to run now (see RecoveryFlushTaskID). While that task exists, this is a
// no-op.
func (c *Client) RecoverPolicyFlush(ctx context.Context, tenantID string, kind remediation.PolicyKind) error {
	return c.enqueueFlush(ctx, tenantID, kind, RecoveryFlushTaskID(tenantID, kind))
}

// ContinuePolicyFlush enqueues a new flush of a tenant and kind to run
// now, with a TaskID of its own ("flush:<tenant>:<kind>:next:<uuid>"):
// a flush that stops with requests left (its time or retry budget spent)
// hands them over.
func (c *Client) ContinuePolicyFlush(ctx context.Context, tenantID string, kind remediation.PolicyKind) error {
	return c.enqueueFlush(ctx, tenantID, kind, "flush:"+tenantID+":"+string(kind)+":next:"+uuid.NewString())
}

// enqueueFlush enqueues a flush task on the control queue. Its retry
// budget is the items' (the worker counts only Graph errors of the flush
// as failures, never a lock held by another flush), plus RetryReserve.
func (c *Client) enqueueFlush(ctx context.Context, tenantID string, kind remediation.PolicyKind, id string, more ...asynq.Option) error {
	t, err := NewPolicyFlushTask(tenantID, kind)
	if err != nil {
		return err
	}
	opts := append([]asynq.Option{
		asynq.TaskID(id),
		asynq.Queue(QueueControl),
		asynq.MaxRetry(c.opts.MaxRetry + RetryReserve),
		asynq.Timeout(c.opts.PolicyFlushTimeout),
	}, more...)
	_, err = c.c.EnqueueContext(ctx, t, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: enqueue policy flush of tenant %s (%s): %w", tenantID, kind, err)
	}
	return nil
}
