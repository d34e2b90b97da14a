package history

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DeleteTenant deletes a tenant's credentials, settings and managed state
// and marks it deleted, in one transaction: the secret (ciphertext and key
// id), client id and settings are cleared; its webhooks with their
// deliveries, its policy refs and its pending policy requests are deleted.
//
// Its jobs, items, calls and outcomes stay and remain readable (GetJob,
// ListJobs, ListItems, History). Afterwards GetTenant, UpdateTenant,
// UpdateTenantSettings, SetPolicyRef, CreateJob, CreateDerivedJob and
// CreateWebhook treat the tenant as unknown (ENOTFOUND) and ListTenants
// leaves it out, until CreateTenant registers the id again. API keys
// scoped to the tenant are not changed. Audit entries are never deleted.
//
// ECONFLICT while the tenant has a queued or running job (cancel it or let
// it finish first). ENOTFOUND for an unknown or already deleted tenant.
func (s *Store) DeleteTenant(ctx context.Context, id string) (err error) {
	defer wrap(&err, "history.DeleteTenant(%s)", id)
	defer func() { s.tenantChanged(ctx, id, err) }()
	return s.transact(ctx, func(tx *sql.Tx) error {
		// FOR UPDATE waits for, and then blocks, every transaction that
		// holds the tenant through lockLiveTenant (a job being created):
		// a job committed before is seen by the check below, a later one
		// finds the tenant deleted.
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL`+s.d.forUpdate, id).
			Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", id)
		} else if err != nil {
			return err
		}
		// The condition repeats the predicate of the partial index
		// jobs_tenant_active, so that both databases use it.
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM jobs
			WHERE tenant_id = $1 AND status IN ('queued', 'running') LIMIT 1`, id).Scan(&one)
		if err == nil {
			return remediation.Errorf(remediation.ECONFLICT,
				"tenant %s has queued or running jobs: cancel them or wait for them to finish", id)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := deleteTenantWebhooks(ctx, tx, id, s.d.forUpdate); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM tenant_policies WHERE tenant_id = $1`,
			`DELETE FROM policy_requests WHERE tenant_id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		now := micros(s.now())
		_, err = tx.ExecContext(ctx, `UPDATE tenants SET secret_ciphertext = NULL, secret_key_id = '', client_id = '',
			settings = NULL, updated_at = $2, deleted_at = $2 WHERE id = $1`, id, now)
		return err
	})
}

// deleteTenantWebhooks deletes the webhooks of a tenant and their
// deliveries. The webhook rows are locked first, as DeleteWebhook does.
func deleteTenantWebhooks(ctx context.Context, tx *sql.Tx, tenantID, forUpdate string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM webhooks WHERE tenant_id = $1`+forUpdate, tenantID)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, id); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM webhooks WHERE tenant_id = $1`, tenantID)
	return err
}
