package remediation

import (
	"context"
	"time"
)

// Statuses of a WebhookDelivery. Append-only contract.
const (
	// DeliveryPending: not delivered yet; attempts may follow.
	DeliveryPending = "pending"
	// DeliveryDelivered: the endpoint answered 2xx.
	DeliveryDelivered = "delivered"
	// DeliveryFailed: given up (retries spent, or the target is refused).
	DeliveryFailed = "failed"
)

// JobFinishedPayload is the body of a job.finished delivery. The store
// writes it in the transaction that finishes the job (transactional
// outbox), so it carries the job as it finished.
type JobFinishedPayload struct {
	Event string     `json:"event"` // EventJobFinished
	Job   WebhookJob `json:"job"`
}

// WebhookJob is the job of a job.finished event.
type WebhookJob struct {
	ID          string             `json:"id"`
	TenantID    string             `json:"tenant_id"`
	Action      Action             `json:"action"`
	Status      JobStatus          `json:"status"`
	Total       int                `json:"total"`
	Counts      map[ItemStatus]int `json:"counts"`
	Reason      string             `json:"reason"`
	Actor       string             `json:"actor"`
	RequestedBy string             `json:"requested_by"`
	CreatedAt   time.Time          `json:"created_at"`
	FinishedAt  *time.Time         `json:"finished_at"`
	DryRun      bool               `json:"dry_run"`
	UndoOf      string             `json:"undo_of,omitempty"`
	RetryOf     string             `json:"retry_of,omitempty"`
}

// ItemFailedPayload is the body of an item.failed delivery, written in
// the transaction that fails the item.
type ItemFailedPayload struct {
	Event string      `json:"event"` // EventItemFailed
	Item  WebhookItem `json:"item"`
}

// WebhookItem is the item of an item.failed event.
type WebhookItem struct {
	JobID          string     `json:"job_id"`
	TenantID       string     `json:"tenant_id"`
	Action         Action     `json:"action"`
	Identity       string     `json:"identity"`
	Error          *ItemError `json:"error"`
	Attempts       int        `json:"attempts"`
	GraphRequestID string     `json:"graph_request_id"`
	FailedAt       time.Time  `json:"failed_at"`
}

// DeliveryStore is the outbox side of the webhook deliveries (implemented
// by internal/history next to AccessStore).
//
// The store itself records deliveries, in the transaction of the change
// they report: when a job finishes (completed or canceled, once) one
// pending job.finished delivery per webhook of the tenant subscribed to
// it, and when an item becomes failed one item.failed delivery per
// subscribed webhook. Their ids are derived from the webhook, the event
// and the job (and item), so that a repeat records nothing. The worker
// sends them.
type DeliveryStore interface {
	// PendingDeliveries returns up to limit pending deliveries whose next
	// attempt is due (see DeferDelivery), the longest due first. Limit
	// defaults to 100 and is capped at 1000.
	PendingDeliveries(ctx context.Context, limit int) ([]*WebhookDelivery, error)
	// DeferDelivery makes PendingDeliveries leave a pending delivery out
	// until the time until (the worker's lease while a task owns it). It
	// does nothing to a delivery that is no longer pending. ENOTFOUND.
	DeferDelivery(ctx context.Context, id string, until time.Time) error
}
