package history

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// The webhook outbox: a transition that finishes a job or fails an item
// records, in its own transaction, one pending delivery per webhook of the
// tenant subscribed to the event. The worker sends the pending deliveries
// (PendingDeliveries) through the queue.

var _ remediation.DeliveryStore = (*Store)(nil)

// DeliveryID returns the id of the delivery of an event about a job to a
// webhook: the first 128 bits of SHA-256 over the webhook id, the event
// and the job id (and the item's seq for item events, seq >= 0), in hex.
// Recording the same event twice therefore records one delivery.
func DeliveryID(webhookID, event, jobID string, seq int) string {
	h := sha256.New()
	for _, part := range []string{webhookID, event, jobID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if seq >= 0 {
		h.Write([]byte(strconv.Itoa(seq)))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// outboxJobFinished records the job.finished deliveries of a job that tx
// has just finished (finishJob, which does it once per job).
func (s *Store) outboxJobFinished(ctx context.Context, tx *sql.Tx, jobID, tenantID string, now int64) error {
	hooks, err := s.subscribedWebhooks(ctx, tx, tenantID, remediation.EventJobFinished)
	if err != nil || len(hooks) == 0 {
		return err
	}
	j, err := getJob(ctx, tx, jobID, "")
	if err != nil {
		return err
	}
	payload, err := json.Marshal(remediation.JobFinishedPayload{Event: remediation.EventJobFinished,
		Job: remediation.WebhookJob{
			ID: j.ID, TenantID: j.TenantID, Action: j.Action, Status: j.Status, Total: j.Total, Counts: j.Counts,
			Reason: j.Reason, Actor: j.Actor, RequestedBy: j.RequestedBy, CreatedAt: j.CreatedAt,
			FinishedAt: j.FinishedAt, DryRun: j.DryRun, UndoOf: j.UndoOf, RetryOf: j.RetryOf,
		}})
	if err != nil {
		return fmt.Errorf("encode job.finished payload: %w", err)
	}
	for _, id := range hooks {
		err := insertDelivery(ctx, tx, DeliveryID(id, remediation.EventJobFinished, jobID, -1), id, tenantID,
			remediation.EventJobFinished, payload, now)
		if err != nil {
			return err
		}
	}
	return nil
}

// outboxItemFailed records the item.failed deliveries of an item that tx
// has just moved to failed.
func (s *Store) outboxItemFailed(ctx context.Context, tx *sql.Tx, job *lockedJob, it *remediation.Item, now int64) error {
	hooks, err := s.subscribedWebhooks(ctx, tx, job.tenantID, remediation.EventItemFailed)
	if err != nil || len(hooks) == 0 {
		return err
	}
	payload, err := json.Marshal(remediation.ItemFailedPayload{Event: remediation.EventItemFailed,
		Item: remediation.WebhookItem{
			JobID: it.JobID, TenantID: job.tenantID, Action: job.action, Identity: it.Identity, Error: it.Error,
			Attempts: it.Attempts, GraphRequestID: it.GraphRequestID, FailedAt: fromMicros(now),
		}})
	if err != nil {
		return fmt.Errorf("encode item.failed payload: %w", err)
	}
	for _, id := range hooks {
		err := insertDelivery(ctx, tx, DeliveryID(id, remediation.EventItemFailed, it.JobID, it.Seq), id, job.tenantID,
			remediation.EventItemFailed, payload, now)
		if err != nil {
			return err
		}
	}
	return nil
}

// subscribedWebhooks returns the ids of the tenant's webhooks subscribed to
// event. On PostgreSQL their rows are key-share locked until tx ends, so
// that a concurrent DeleteWebhook either waits and then deletes the new
// deliveries with the webhook, or has deleted it before it is read.
func (s *Store) subscribedWebhooks(ctx context.Context, tx *sql.Tx, tenantID, event string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM webhooks WHERE tenant_id = $1
		ORDER BY created_at, id`+s.d.keyShare, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, err
		}
		var events []string
		if err := json.Unmarshal([]byte(doc), &events); err != nil {
			return nil, fmt.Errorf("webhook %s: decode events: %w", id, err)
		}
		if slices.Contains(events, event) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}

// insertDelivery records a pending delivery, due at once; an existing id
// makes it a no-op.
func insertDelivery(ctx context.Context, tx *sql.Tx, id, webhookID, tenantID, event string, payload []byte, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, 0, '', $7, NULL, $7) ON CONFLICT (id) DO NOTHING`,
		id, webhookID, tenantID, event, string(payload), remediation.DeliveryPending, now)
	return err
}

// PendingDeliveries returns up to limit pending deliveries whose next
// attempt time has come, the longest due first (next_attempt_at, then id).
// Limit defaults to 100 and is capped at 1000.
func (s *Store) PendingDeliveries(ctx context.Context, limit int) (_ []*remediation.WebhookDelivery, err error) {
	defer wrap(&err, "history.PendingDeliveries")
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2`,
		micros(s.now()), clampLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*remediation.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeferDelivery sets the next attempt time of a pending delivery to until;
// a delivery that is no longer pending is left alone. ENOTFOUND.
func (s *Store) DeferDelivery(ctx context.Context, id string, until time.Time) (err error) {
	defer wrap(&err, "history.DeferDelivery(%s)", id)
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $2
		WHERE id = $1 AND status = 'pending'`, id, micros(until))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err = s.rdb.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return remediation.Errorf(remediation.ENOTFOUND, "delivery %s not found", id)
	}
	return err
}
