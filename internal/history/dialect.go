package history

import (
	"context"
	"database/sql"
)

// dialect holds what differs between PostgreSQL and SQLite. Everything else
// is shared SQL: both accept $n placeholders, RETURNING, row-value
// comparisons, partial indexes and BOOLEAN columns.
type dialect struct {
	name string
	// forUpdate is appended to a SELECT that must lock the rows it reads
	// (SQLite has one writer and needs none).
	forUpdate string
	// keyShare is appended to a SELECT of a tenant row that must not be
	// deleted (DeleteTenant locks it FOR UPDATE) before the transaction
	// ends; it does not block other readers or updates of other columns.
	keyShare string
	// tokens replace {{name}} in the migration files.
	tokens map[string]string
	// isUnique reports whether err is a unique or primary key violation.
	isUnique func(err error) bool
	// lockMigrations serializes migrations across processes on conn and
	// returns the function that releases the lock.
	lockMigrations func(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
	// insertItems bulk-inserts the pending items of a new job, with seq
	// 0..len(identities)-1 and updated_at at.
	insertItems func(ctx context.Context, tx *sql.Tx, jobID string, identities []string, at int64) error
}
