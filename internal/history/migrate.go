package history

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema change, named by its file.
type migration struct {
	version string
	stmts   []string
}

// Migrate applies the embedded migrations that are not yet recorded in
// schema_migrations, in file name order, each in its own transaction.
// Open calls it; it is safe to call again and from several processes.
func (s *Store) Migrate(ctx context.Context) (err error) {
	defer wrap(&err, "history.Migrate")
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	unlock, err := s.d.lockMigrations(ctx, conn)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.version, err)
		}
	}
	return nil
}

// apply runs m unless it is already recorded (checked inside the
// transaction, which holds the write lock).
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return tx.Rollback()
	}
	for _, stmt := range m.stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\n%s", err, stmt)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, micros(s.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// migrations reads the embedded files, substitutes the dialect tokens and
// splits them into statements (each ends with ";" at the end of a line).
func (s *Store) migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for _, name := range names {
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		text := string(b)
		for k, v := range s.d.tokens {
			text = strings.ReplaceAll(text, "{{"+k+"}}", v)
		}
		if i := strings.Index(text, "{{"); i >= 0 {
			return nil, fmt.Errorf("%s: unknown token near %q", name, text[i:min(len(text), i+20)])
		}
		ms = append(ms, migration{
			version: strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql"),
			stmts:   splitStatements(text),
		})
	}
	return ms, nil
}

// splitStatements splits a migration file into statements, dropping
// comment-only lines.
func splitStatements(text string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}
