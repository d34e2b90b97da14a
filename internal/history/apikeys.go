package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

const apiKeyCols = `id, name, prefix, role, tenants, hash, created_at, created_by, last_used_at, revoked_at`

// CreateAPIKey stores k as given by the caller (ID, Hash, Prefix, Name,
// Role, Tenants, CreatedBy), setting CreatedAt to now when zero. An empty
// Tenants is stored as "all tenants". ECONFLICT when the id or the hash
// exists (revoked keys included); EINVALID without id or hash, or for an
// unknown role.
func (s *Store) CreateAPIKey(ctx context.Context, k *remediation.APIKey) (err error) {
	defer wrap(&err, "history.CreateAPIKey(%s)", k.ID)
	if k.ID == "" || len(k.Hash) == 0 {
		return remediation.Errorf(remediation.EINVALID, "api key needs an id and a hash")
	}
	if !k.Role.Valid() {
		return remediation.Errorf(remediation.EINVALID, "unknown role %q", k.Role)
	}
	var tenants any
	if len(k.Tenants) > 0 {
		b, err := json.Marshal(k.Tenants)
		if err != nil {
			return fmt.Errorf("encode tenants: %w", err)
		}
		tenants = string(b)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Name, k.Prefix, string(k.Role), tenants, k.Hash, micros(k.CreatedAt), k.CreatedBy,
		nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt))
	if s.d.isUnique(err) {
		// The message names the id only: the hash identifies a secret.
		return remediation.Errorf(remediation.ECONFLICT, "api key %s already exists", k.ID)
	}
	return err
}

func scanAPIKey(sc interface{ Scan(...any) error }) (*remediation.APIKey, error) {
	var (
		k             remediation.APIKey
		tenants       sql.NullString
		created       int64
		used, revoked sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.Role, &tenants, &k.Hash, &created, &k.CreatedBy,
		&used, &revoked); err != nil {
		return nil, err
	}
	if tenants.Valid && tenants.String != "" {
		if err := json.Unmarshal([]byte(tenants.String), &k.Tenants); err != nil {
			return nil, fmt.Errorf("api key %s: decode tenants: %w", k.ID, err)
		}
	}
	if len(k.Tenants) == 0 {
		k.Tenants = nil
	}
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt, k.RevokedAt = timePtr(used), timePtr(revoked)
	return &k, nil
}

// APIKeyByHash returns the key whose secret hashes to hash, unless it is
// revoked. ENOTFOUND (also for a revoked key).
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (_ *remediation.APIKey, err error) {
	defer wrap(&err, "history.APIKeyByHash")
	k, err := scanAPIKey(s.rdb.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "api key not found")
	}
	return k, err
}

// ListAPIKeys returns every key in creation order (created_at, then id),
// revoked keys included with their RevokedAt.
func (s *Store) ListAPIKeys(ctx context.Context) (_ []*remediation.APIKey, err error) {
	defer wrap(&err, "history.ListAPIKeys")
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*remediation.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey marks a key revoked now; from then on APIKeyByHash does not
// find it. Revoking a revoked key is a no-op that keeps the first
// revocation time. ENOTFOUND.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (err error) {
	defer wrap(&err, "history.RevokeAPIKey(%s)", id)
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`,
		id, micros(s.now()))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return remediation.Errorf(remediation.ENOTFOUND, "api key %s not found", id)
	}
	return nil
}

// TouchAPIKey records a use of a key at at. LastUsedAt never moves
// backwards, so that concurrent requests may touch in any order.
// ENOTFOUND.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) (err error) {
	defer wrap(&err, "history.TouchAPIKey(%s)", id)
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, id, micros(at))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return remediation.Errorf(remediation.ENOTFOUND, "api key %s not found", id)
	}
	return err
}
