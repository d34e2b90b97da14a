package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/entraremediator/remediator/internal/remediation"
)

const tenantCols = `id, display_name, client_id, cloud, graph_endpoint, authority_host,
	secret_ciphertext, secret_key_id, created_at, updated_at, settings`

// tenantSelect reads the tenants that are not deleted with their managed
// policies (one row per policy, or one row with NULL policy columns), in
// one statement so that a tenant and its policies come from one snapshot.
const tenantSelect = `SELECT t.id, t.display_name, t.client_id, t.cloud, t.graph_endpoint, t.authority_host,
	t.secret_ciphertext, t.secret_key_id, t.created_at, t.updated_at, t.settings, p.kind, p.policy_id, p.group_id
	FROM tenants t LEFT JOIN tenant_policies p ON p.tenant_id = t.id
	WHERE t.deleted_at IS NULL`

// CreateTenant inserts t with its settings and policies, setting CreatedAt
// and UpdatedAt when zero. The secret is stored as given (already sealed
// by the caller). ECONFLICT if the tenant id exists.
//
// A tenant deleted by DeleteTenant can be registered again: its row is
// replaced by t (new credentials, settings, policies and times) and it is
// no longer deleted. The jobs and history it had before its deletion
// belong to the new registration again.
func (s *Store) CreateTenant(ctx context.Context, t *remediation.Tenant) (err error) {
	defer wrap(&err, "history.CreateTenant(%s)", t.ID)
	if t.ID == "" {
		return remediation.Errorf(remediation.EINVALID, "tenant id is empty")
	}
	settings, err := settingsArg(t.Settings)
	if err != nil {
		return err
	}
	now := s.now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	return s.transact(ctx, func(tx *sql.Tx) error {
		// A live tenant of the same id is left alone (no row changes), a
		// deleted one is revived.
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`, deleted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)
			ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, client_id = excluded.client_id,
				cloud = excluded.cloud, graph_endpoint = excluded.graph_endpoint,
				authority_host = excluded.authority_host, secret_ciphertext = excluded.secret_ciphertext,
				secret_key_id = excluded.secret_key_id, created_at = excluded.created_at,
				updated_at = excluded.updated_at, settings = excluded.settings, deleted_at = NULL
			WHERE tenants.deleted_at IS NOT NULL`,
			t.ID, t.DisplayName, t.ClientID, t.Cloud, t.GraphEndpoint, t.AuthorityHost,
			t.SecretCiphertext, t.SecretKeyID, micros(t.CreatedAt), micros(t.UpdatedAt), settings)
		if s.d.isUnique(err) {
			return remediation.Errorf(remediation.ECONFLICT, "tenant %s already exists", t.ID)
		} else if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return remediation.Errorf(remediation.ECONFLICT, "tenant %s already exists", t.ID)
		}
		for kind, ref := range t.Policies {
			if err := upsertPolicyRef(ctx, tx, t.ID, kind, ref, micros(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateTenant replaces the mutable fields of an existing tenant (display
// name, client id, secret, cloud, endpoints) and sets t.UpdatedAt to now.
// Settings and policies are left as stored (see UpdateTenantSettings and
// SetPolicyRef). ENOTFOUND, also for a deleted tenant.
func (s *Store) UpdateTenant(ctx context.Context, t *remediation.Tenant) (err error) {
	defer wrap(&err, "history.UpdateTenant(%s)", t.ID)
	defer func() { s.tenantChanged(ctx, t.ID, err) }()
	t.UpdatedAt = s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET display_name = $2, client_id = $3, cloud = $4,
		graph_endpoint = $5, authority_host = $6, secret_ciphertext = $7, secret_key_id = $8, updated_at = $9
		WHERE id = $1 AND deleted_at IS NULL`,
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

// GetTenant returns one tenant with its settings (defaults applied) and
// policies. ENOTFOUND, also for a deleted tenant.
func (s *Store) GetTenant(ctx context.Context, id string) (_ *remediation.Tenant, err error) {
	defer wrap(&err, "history.GetTenant(%s)", id)
	return getTenant(ctx, s.rdb, id)
}

func getTenant(ctx context.Context, q queryer, id string) (*remediation.Tenant, error) {
	list, err := queryTenants(ctx, q, tenantSelect+` AND t.id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", id)
	}
	return list[0], nil
}

// lockLiveTenant checks that a tenant exists and is not deleted, and keeps
// DeleteTenant from deleting it until tx ends (on PostgreSQL a key-share
// lock, which DeleteTenant's FOR UPDATE waits for; SQLite transactions
// are serialized). ENOTFOUND.
func (s *Store) lockLiveTenant(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL`+s.d.keyShare, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return remediation.Errorf(remediation.ENOTFOUND, "tenant %s not found", id)
	}
	return err
}

// ListTenants returns all tenants (not deleted) ordered by id, with settings (defaults
// applied) and policies.
func (s *Store) ListTenants(ctx context.Context) (_ []*remediation.Tenant, err error) {
	defer wrap(&err, "history.ListTenants")
	return queryTenants(ctx, s.rdb, tenantSelect)
}

// queryTenants runs a tenantSelect query (ordered here by tenant id) and
// folds the policy rows of each tenant into Policies.
func queryTenants(ctx context.Context, q queryer, query string, a ...any) ([]*remediation.Tenant, error) {
	rows, err := q.QueryContext(ctx, query+` ORDER BY t.id, p.kind`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*remediation.Tenant
	for rows.Next() {
		var (
			t                       remediation.Tenant
			created, updated        int64
			secret                  []byte
			settings                sql.NullString
			kind, policyID, groupID sql.NullString
		)
		if err := rows.Scan(&t.ID, &t.DisplayName, &t.ClientID, &t.Cloud, &t.GraphEndpoint, &t.AuthorityHost,
			&secret, &t.SecretKeyID, &created, &updated, &settings, &kind, &policyID, &groupID); err != nil {
			return nil, err
		}
		cur := &t
		if n := len(out); n > 0 && out[n-1].ID == t.ID {
			cur = out[n-1]
		} else {
			if len(secret) > 0 {
				t.SecretCiphertext = append([]byte(nil), secret...)
			}
			t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
			if t.Settings, err = settingsValue(settings); err != nil {
				return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
			}
			t.Policies = map[remediation.PolicyKind]remediation.PolicyRef{}
			out = append(out, &t)
		}
		if kind.Valid {
			cur.Policies[remediation.PolicyKind(kind.String)] = remediation.PolicyRef{PolicyID: policyID.String, GroupID: groupID.String}
		}
	}
	return out, rows.Err()
}

// settingsArg stores settings as a JSON document, or NULL when all fields
// are empty (all defaults).
func settingsArg(st remediation.TenantSettings) (any, error) {
	if len(st.ProtectedIdentities) == 0 && st.MFAPolicyState == "" && st.MFATargeting == "" && st.GraphLimits == nil {
		return nil, nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	return string(b), nil
}

// settingsValue decodes stored settings and applies the defaults.
func settingsValue(v sql.NullString) (remediation.TenantSettings, error) {
	var st remediation.TenantSettings
	if v.Valid && v.String != "" {
		if err := json.Unmarshal([]byte(v.String), &st); err != nil {
			return st, fmt.Errorf("decode settings: %w", err)
		}
	}
	return st.WithDefaults(), nil
}
