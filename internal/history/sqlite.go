package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = &dialect{
	name:      "sqlite",
	forUpdate: "",
	keyShare:  "",
	tokens: map[string]string{
		"id":   "INTEGER PRIMARY KEY AUTOINCREMENT",
		"blob": "BLOB",
		// Each statement is on one line: migrations split at a ";" ending a line.
		"audit_append_only": `CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
	},
	isUnique: func(err error) bool {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
		return false
	},
	// Migrations run in BEGIN IMMEDIATE transactions, which already
	// serialize writers across processes.
	lockMigrations: func(context.Context, *sql.Conn) (func(), error) { return func() {}, nil },
	insertItems:    insertItemsValues,
}

// pingSQLite opens the first connection. Switching a new database file to
// WAL needs an exclusive lock and fails with SQLITE_BUSY, without waiting
// for busy_timeout, while another process opens the same file: such a
// failure is retried for up to 10 s.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqlitePath extracts the file path (and any query string) from url.
func sqlitePath(url string) string {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return strings.TrimPrefix(url, "sqlite://")
	case strings.HasPrefix(url, "sqlite:"):
		return strings.TrimPrefix(url, "sqlite:")
	case strings.HasPrefix(url, "file://"):
		return strings.TrimPrefix(url, "file://")
	case strings.HasPrefix(url, "file:"):
		return strings.TrimPrefix(url, "file:")
	}
	return url
}

// openSQLite opens one writer connection (BEGIN IMMEDIATE, so that a
// transaction never has to upgrade its lock) and a small pool of read-only
// connections; WAL lets the readers run beside the writer, busy_timeout
// makes other processes wait instead of failing.
func openSQLite(ctx context.Context, url string) (*Store, error) {
	path, query, _ := strings.Cut(sqlitePath(url), "?")
	if path == "" {
		return nil, fmt.Errorf("history: empty sqlite path in %q", url)
	}
	memory := path == ":memory:"
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("history: create sqlite directory: %w", err)
		}
	}
	params := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	if !memory {
		params += "&_pragma=journal_mode(WAL)"
	}
	if query != "" {
		params += "&" + query
	}
	db, err := sql.Open("sqlite", path+"?"+params+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("history: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: open sqlite %s: %w", path, err)
	}
	s := &Store{db: db, rdb: db, d: sqliteDialect}
	if memory {
		return s, nil
	}
	rdb, err := sql.Open("sqlite", path+"?"+params+"&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history: open sqlite: %w", err)
	}
	rdb.SetMaxOpenConns(4)
	s.rdb = rdb
	return s, nil
}
