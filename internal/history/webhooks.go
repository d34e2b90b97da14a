package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/entraremediator/remediator/internal/remediation"
)

const webhookCols = `id, tenant_id, url, events, secret_ciphertext, secret_key_id, created_at, created_by`

// DeliveryPending is the status of a delivery not yet delivered, the
// default of EnqueueDelivery.
const DeliveryPending = "pending"

// CreateWebhook stores w for its tenant, setting CreatedAt to now when
// zero. The signing secret is stored as given (already sealed). ENOTFOUND
// for an unknown or deleted tenant; ECONFLICT for an existing id; EINVALID
// without id or URL.
func (s *Store) CreateWebhook(ctx context.Context, w *remediation.Webhook) (err error) {
	defer wrap(&err, "history.CreateWebhook(%s)", w.ID)
	if w.ID == "" || w.URL == "" {
		return remediation.Errorf(remediation.EINVALID, "webhook needs an id and a url")
	}
	events := w.Events
	if events == nil {
		events = []string{}
	}
	doc, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = s.now()
	}
	return s.transact(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveTenant(ctx, tx, w.TenantID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			w.ID, w.TenantID, w.URL, string(doc), w.SecretCiphertext, w.SecretKeyID, micros(w.CreatedAt), w.CreatedBy)
		if s.d.isUnique(err) {
			return remediation.Errorf(remediation.ECONFLICT, "webhook %s already exists", w.ID)
		}
		return err
	})
}

func scanWebhook(sc interface{ Scan(...any) error }) (*remediation.Webhook, error) {
	var (
		w       remediation.Webhook
		events  string
		secret  []byte
		created int64
	)
	if err := sc.Scan(&w.ID, &w.TenantID, &w.URL, &events, &secret, &w.SecretKeyID, &created, &w.CreatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: decode events: %w", w.ID, err)
	}
	if len(secret) > 0 {
		w.SecretCiphertext = secret
	}
	w.CreatedAt = fromMicros(created)
	return &w, nil
}

// ListWebhooks returns the webhooks of a tenant, or of all tenants when
// tenantID is "", in creation order (created_at, then id).
func (s *Store) ListWebhooks(ctx context.Context, tenantID string) (_ []*remediation.Webhook, err error) {
	defer wrap(&err, "history.ListWebhooks(%s)", tenantID)
	q, a := `SELECT `+webhookCols+` FROM webhooks`, args{}
	if tenantID != "" {
		q += ` WHERE tenant_id = ` + a.add(tenantID)
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY created_at, id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*remediation.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// GetWebhook returns one webhook. ENOTFOUND.
func (s *Store) GetWebhook(ctx context.Context, id string) (_ *remediation.Webhook, err error) {
	defer wrap(&err, "history.GetWebhook(%s)", id)
	w, err := scanWebhook(s.rdb.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "webhook %s not found", id)
	}
	return w, err
}

// DeleteWebhook deletes a webhook with its deliveries. ENOTFOUND.
func (s *Store) DeleteWebhook(ctx context.Context, id string) (err error) {
	defer wrap(&err, "history.DeleteWebhook(%s)", id)
	return s.transact(ctx, func(tx *sql.Tx) error {
		// Locking the webhook first makes a concurrent EnqueueDelivery
		// either finish before (its delivery is deleted below) or find
		// no webhook.
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = $1`+s.d.forUpdate, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "webhook %s not found", id)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		return err
	})
}

const deliveryCols = `id, webhook_id, tenant_id, event, payload, status, attempts, last_status, last_error,
	created_at, delivered_at`

// EnqueueDelivery records a delivery to send. TenantID is taken from the
// webhook; Status defaults to pending and CreatedAt to now. It is
// idempotent on ID: a repeat is a no-op that keeps the first delivery.
// ENOTFOUND for an unknown webhook; EINVALID without id or event.
func (s *Store) EnqueueDelivery(ctx context.Context, d *remediation.WebhookDelivery) (err error) {
	defer wrap(&err, "history.EnqueueDelivery(%s)", d.ID)
	if d.ID == "" || d.Event == "" {
		return remediation.Errorf(remediation.EINVALID, "delivery needs an id and an event")
	}
	if d.Status == "" {
		d.Status = DeliveryPending
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	return s.transact(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM webhooks WHERE id = $1`+s.d.keyShare, d.WebhookID).
			Scan(&d.TenantID)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "webhook %s not found", d.WebhookID)
		} else if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
			d.ID, d.WebhookID, d.TenantID, d.Event, jsonArg(d.Payload), d.Status, d.Attempts, d.LastStatus,
			d.LastError, micros(d.CreatedAt), nullMicros(d.DeliveredAt))
		return err
	})
}

// UpdateDelivery records the result of an attempt: Status, Attempts,
// LastStatus, LastError and DeliveredAt are stored as given. ENOTFOUND;
// EINVALID for an empty status.
func (s *Store) UpdateDelivery(ctx context.Context, d *remediation.WebhookDelivery) (err error) {
	defer wrap(&err, "history.UpdateDelivery(%s)", d.ID)
	if d.Status == "" {
		return remediation.Errorf(remediation.EINVALID, "delivery status is empty")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = $3, last_status = $4,
		last_error = $5, delivered_at = $6 WHERE id = $1`,
		d.ID, d.Status, d.Attempts, d.LastStatus, d.LastError, nullMicros(d.DeliveredAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return remediation.Errorf(remediation.ENOTFOUND, "delivery %s not found", d.ID)
	}
	return nil
}

func scanDelivery(sc interface{ Scan(...any) error }) (*remediation.WebhookDelivery, error) {
	var (
		d         remediation.WebhookDelivery
		payload   sql.NullString
		created   int64
		delivered sql.NullInt64
	)
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.TenantID, &d.Event, &payload, &d.Status, &d.Attempts,
		&d.LastStatus, &d.LastError, &created, &delivered); err != nil {
		return nil, err
	}
	d.Payload = jsonValue(payload)
	d.CreatedAt, d.DeliveredAt = fromMicros(created), timePtr(delivered)
	return &d, nil
}

// GetDelivery returns one delivery. ENOTFOUND.
func (s *Store) GetDelivery(ctx context.Context, id string) (_ *remediation.WebhookDelivery, err error) {
	defer wrap(&err, "history.GetDelivery(%s)", id)
	d, err := scanDelivery(s.rdb.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "delivery %s not found", id)
	}
	return d, err
}

// ListDeliveries returns up to limit deliveries of a webhook, newest first
// (created_at, then id, descending). Limit defaults to 100 and is capped
// at 1000. ENOTFOUND for an unknown webhook.
func (s *Store) ListDeliveries(ctx context.Context, webhookID string, limit int) (_ []*remediation.WebhookDelivery, err error) {
	defer wrap(&err, "history.ListDeliveries(%s)", webhookID)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, webhookID, clampLimit(limit))
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		var one int
		err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = $1`, webhookID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, remediation.Errorf(remediation.ENOTFOUND, "webhook %s not found", webhookID)
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}
