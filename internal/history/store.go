// Package history is the history store, the system of record of Entra
// Remediator: tenants, jobs, items, their Graph call logs and the
// per-identity outcome history, plus API keys, the append-only audit log
// and webhooks. It implements remediation.Store and remediation.AccessStore
// on PostgreSQL (pgx through database/sql) and on SQLite
// (modernc.org/sqlite, pure Go) with one SQL implementation; the few
// dialect differences live in postgres.go and sqlite.go.
//
// Times are stored as unix microseconds and returned as UTC; JSON documents
// are stored as text, byte for byte. Item counts of a job are counter
// columns maintained by every transition in the same transaction.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Store is the SQL history store. It is safe for concurrent use.
type Store struct {
	// db runs writes: on SQLite a single connection (one writer), on
	// PostgreSQL the shared pool.
	db *sql.DB
	// rdb runs reads: a pool of read-only connections on SQLite, db itself
	// on PostgreSQL.
	rdb *sql.DB
	d   *dialect
	grp groups

	// Now returns the current time; tests may replace it before use.
	Now func() time.Time
	// TenantChanged, when set, is called with a tenant's id after a
	// committed change of its row (settings, credentials, policy refs,
	// deletion), so that caches of it elsewhere can be dropped (see
	// queue.PublishTenantChanged). Set it before use.
	TenantChanged func(ctx context.Context, tenantID string)
}

// tenantChanged reports a committed change of tenant id (TenantChanged).
func (s *Store) tenantChanged(ctx context.Context, id string, err error) {
	if err == nil && s.TenantChanged != nil {
		s.TenantChanged(context.WithoutCancel(ctx), id)
	}
}

var (
	_ remediation.Store       = (*Store)(nil)
	_ remediation.AccessStore = (*Store)(nil)
)

// Open opens the store at url and applies the pending migrations.
//
// postgres:// and postgresql:// URLs select PostgreSQL; sqlite:PATH,
// file:PATH and plain paths select SQLite (the parent directory is
// created). On PostgreSQL the migration takes an advisory lock, so that
// replicas starting together migrate once.
func Open(ctx context.Context, url string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		s, err = openPostgres(ctx, url)
	} else {
		s, err = openSQLite(ctx, url)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Dialect returns "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.d.name }

// Ping checks that the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("history.Ping: %w", err)
	}
	return nil
}

// Close closes the database handles.
func (s *Store) Close() error {
	s.stopGroups()
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// transact runs fn in a write transaction, committed when fn returns nil
// and rolled back otherwise (or on panic).
func (s *Store) transact(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// wrap prefixes infrastructure errors with the operation; domain errors
// (*remediation.Error) are returned unchanged so that callers see their
// code and caller-safe message.
func wrap(errp *error, format string, args ...any) {
	if *errp == nil {
		return
	}
	var de *remediation.Error
	if errors.As(*errp, &de) {
		return
	}
	*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx share.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
