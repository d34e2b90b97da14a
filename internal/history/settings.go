package history

import (
	"context"
	"database/sql"

	"github.com/entraremediator/remediator/internal/remediation"
)

// UpdateTenantSettings replaces a tenant's settings (stored as given, read
// back with defaults applied), sets its UpdatedAt and returns the updated
// tenant. Credentials and policies are not touched. ENOTFOUND, also for a
// deleted tenant.
func (s *Store) UpdateTenantSettings(ctx context.Context, tenantID string, st remediation.TenantSettings) (_ *remediation.Tenant, err error) {
	defer wrap(&err, "history.UpdateTenantSettings(%s)", tenantID)
	defer func() { s.tenantChanged(ctx, tenantID, err) }()
	doc, err := settingsArg(st)
	if err != nil {
		return nil, err
	}
	var t *remediation.Tenant
	err = s.transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET settings = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL`,
			tenantID, doc, micros(s.now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", tenantID)
		}
		t, err = getTenant(ctx, tx, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// SetPolicyRef stores (inserts or replaces) the managed policy and group
// of one kind for a tenant. Each kind is a row of its own, so that it
// never races with UpdateTenantSettings or with another kind. ENOTFOUND
// for an unknown tenant, EINVALID for an empty kind.
func (s *Store) SetPolicyRef(ctx context.Context, tenantID string, kind remediation.PolicyKind, ref remediation.PolicyRef) (err error) {
	defer wrap(&err, "history.SetPolicyRef(%s, %s)", tenantID, kind)
	defer func() { s.tenantChanged(ctx, tenantID, err) }()
	if kind == "" {
		return remediation.Errorf(remediation.EINVALID, "policy kind is empty")
	}
	return s.transact(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		return upsertPolicyRef(ctx, tx, tenantID, kind, ref, micros(s.now()))
	})
}

func upsertPolicyRef(ctx context.Context, tx *sql.Tx, tenantID string, kind remediation.PolicyKind, ref remediation.PolicyRef, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO tenant_policies (tenant_id, kind, policy_id, group_id, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, kind) DO UPDATE SET policy_id = excluded.policy_id, group_id = excluded.group_id,
			updated_at = excluded.updated_at`,
		tenantID, string(kind), ref.PolicyID, ref.GroupID, now)
	return err
}
