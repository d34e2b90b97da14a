package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeWebhook is the task type of one webhook delivery: send a pending
// delivery recorded by the history store's outbox. Append-only.
const TypeWebhook = "remediation:webhook"

// Webhook task defaults.
const (
	// DefaultWebhookMaxRetry is the number of retries a delivery gets
	// after its first attempt fails.
	DefaultWebhookMaxRetry = 10
	// WebhookTimeout bounds one run of a webhook task: one HTTP attempt
	// (at most 10 s) and the store writes around it.
	WebhookTimeout = time.Minute
)

// WebhookPayload is the payload of a webhook task: the delivery's id only
// (the event body and the webhook's URL and sealed secret stay in the
// store).
type WebhookPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// WebhookTaskID returns the TaskID of a delivery's task.
func WebhookTaskID(deliveryID string) string { return "webhook:" + deliveryID }

// NewWebhookTask returns the task of one delivery.
func NewWebhookTask(deliveryID string) (*asynq.Task, error) {
	if deliveryID == "" {
		return nil, fmt.Errorf("queue: webhook task: empty delivery id")
	}
	b, err := json.Marshal(WebhookPayload{DeliveryID: deliveryID})
	if err != nil {
		return nil, fmt.Errorf("queue: webhook payload: %w", err)
	}
	return asynq.NewTask(TypeWebhook, b), nil
}

// ParseWebhook decodes a webhook task's payload. A malformed payload can
// never succeed: the error wraps asynq.SkipRetry.
func ParseWebhook(t *asynq.Task) (WebhookPayload, error) {
	var p WebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return p, fmt.Errorf("queue: malformed %s payload: %v: %w", TypeWebhook, err, asynq.SkipRetry)
	}
	return p, nil
}

// EnqueueWebhook enqueues the task of a delivery on the control queue,
// with maxRetry retries (DefaultWebhookMaxRetry when not positive) plus
// RetryReserve, so that the worker records the delivery failed itself
// before asynq could archive the task. A task of the delivery that
// already exists (waiting, running or waiting for a retry) makes this a
// no-op.
func (c *Client) EnqueueWebhook(ctx context.Context, deliveryID string, maxRetry int) error {
	t, err := NewWebhookTask(deliveryID)
	if err != nil {
		return err
	}
	if maxRetry <= 0 {
		maxRetry = DefaultWebhookMaxRetry
	}
	_, err = c.c.EnqueueContext(ctx, t,
		asynq.TaskID(WebhookTaskID(deliveryID)),
		asynq.Queue(QueueControl),
		asynq.MaxRetry(maxRetry+RetryReserve),
		asynq.Timeout(WebhookTimeout),
	)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: enqueue webhook delivery %s: %w", deliveryID, err)
	}
	return nil
}
