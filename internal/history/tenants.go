package history

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entraremediator/remediator/internal/remediation"
)

const tenantCols = `id, display_name, client_id, cloud, graph_endpoint, authority_host,
	secret_ciphertext, secret_key_id, created_at, updated_at`

// CreateTenant inserts t, setting CreatedAt and UpdatedAt when zero. The
// secret is stored as given (already sealed by the caller). ECONFLICT if
// the tenant id exists.
func (s *Store) CreateTenant(ctx context.Context, t *remediation.Tenant) (err error) {
	defer wrap(&err, "history.CreateTenant(%s)", t.ID)
	if t.ID == "" {
		return remediation.Errorf(remediation.EINVALID, "tenant id is empty")
	}
	now := s.now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.ID, t.DisplayName, t.ClientID, t.Cloud, t.GraphEndpoint, t.AuthorityHost,
		t.SecretCiphertext, t.SecretKeyID, micros(t.CreatedAt), micros(t.UpdatedAt))
	if s.d.isUnique(err) {
		return remediation.Errorf(remediation.ECONFLICT, "tenant %s already exists", t.ID)
	}
	return err
}

// UpdateTenant replaces the mutable fields of an existing tenant (display
// name, client id, secret, cloud, endpoints) and sets t.UpdatedAt to now.
// ENOTFOUND.
func (s *Store) UpdateTenant(ctx context.Context, t *remediation.Tenant) (err error) {
	defer wrap(&err, "history.UpdateTenant(%s)", t.ID)
	t.UpdatedAt = s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET display_name = $2, client_id = $3, cloud = $4,
		graph_endpoint = $5, authority_host = $6, secret_ciphertext = $7, secret_key_id = $8, updated_at = $9
		WHERE id = $1`,
		t.ID, t.DisplayName, t.ClientID, t.Cloud, t.GraphEndpoint, t.AuthorityHost,
		t.SecretCiphertext, t.SecretKeyID, micros(t.UpdatedAt))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", t.ID)
	}
	return nil
}

// GetTenant returns one tenant. ENOTFOUND.
func (s *Store) GetTenant(ctx context.Context, id string) (_ *remediation.Tenant, err error) {
	defer wrap(&err, "history.GetTenant(%s)", id)
	t, err := scanTenant(s.rdb.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", id)
	}
	return t, err
}

// ListTenants returns all tenants ordered by id.
func (s *Store) ListTenants(ctx context.Context) (_ []*remediation.Tenant, err error) {
	defer wrap(&err, "history.ListTenants")
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*remediation.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func scanTenant(sc interface{ Scan(...any) error }) (*remediation.Tenant, error) {
	var (
		t                remediation.Tenant
		created, updated int64
		secret           []byte
	)
	if err := sc.Scan(&t.ID, &t.DisplayName, &t.ClientID, &t.Cloud, &t.GraphEndpoint, &t.AuthorityHost,
		&secret, &t.SecretKeyID, &created, &updated); err != nil {
		return nil, err
	}
	if len(secret) > 0 {
		t.SecretCiphertext = append([]byte(nil), secret...)
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &t, nil
}
