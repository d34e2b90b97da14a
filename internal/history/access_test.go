package history_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

// rawStore opens a store and, beside it, a plain database/sql handle on
// the same database, for checks the store's API cannot make.
func rawStore(t *testing.T, dialect string) (*history.Store, *sql.DB) {
	t.Helper()
	driver, dsn, url := "pgx", "", ""
	if dialect == "postgres" {
		url = testenv.Postgres(t)
		dsn = url
	} else {
		driver, dsn = "sqlite", filepath.Join(t.TempDir(), "h.db")
		url = "sqlite:" + dsn
	}
	s, err := history.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, db
}

// TestAuditLogIsAppendOnly checks that the database itself refuses to
// change or remove audit entries, whoever connects to it.
func TestAuditLogIsAppendOnly(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			s, db := rawStore(t, dialect)
			ctx := t.Context()
			e := &remediation.AuditEntry{Action: "tenant.create", TenantID: "t1", Actor: "alice"}
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
			statements := []string{
				`UPDATE audit_log SET actor = 'mallory'`,
				`UPDATE audit_log SET action = 'nothing' WHERE id = 1`,
				`DELETE FROM audit_log`,
				`DELETE FROM audit_log WHERE id = 1`,
			}
			if dialect == "postgres" {
				statements = append(statements, `TRUNCATE audit_log`)
			}
			for _, q := range statements {
				_, err := db.ExecContext(ctx, q)
				if err == nil || !strings.Contains(err.Error(), "audit log is append-only") {
					t.Fatalf("%s: err = %v, want the append-only refusal", q, err)
				}
			}
			got, _, err := s.ListAudit(ctx, remediation.AuditFilter{})
			if err != nil || len(got) != 1 || got[0].Actor != "alice" || got[0].Action != "tenant.create" {
				t.Fatalf("ListAudit = %+v, %v; want the entry unchanged", got, err)
			}
			// Appending still works through raw SQL too.
			if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (at, action) VALUES (1, 'raw')`); err != nil {
				t.Fatalf("raw INSERT: %v", err)
			}
		})
	}
}

// TestDeleteTenantClearsSecrets checks the stored row of a deleted tenant:
// no secret, client id or settings remain, and deleted_at is set.
func TestDeleteTenantClearsSecrets(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			s, db := rawStore(t, dialect)
			ctx := t.Context()
			if err := s.CreateTenant(ctx, &remediation.Tenant{ID: "t1", ClientID: "app", SecretCiphertext: []byte("sealed"),
				SecretKeyID: "k1", Settings: remediation.TenantSettings{ProtectedIdentities: []string{"bg"}}}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTenant(ctx, "t1"); err != nil {
				t.Fatal(err)
			}
			var (
				secret          []byte
				keyID, clientID string
				settings        sql.NullString
				deletedAt       sql.NullInt64
			)
			if err := db.QueryRowContext(ctx, `SELECT secret_ciphertext, secret_key_id, client_id, settings, deleted_at
				FROM tenants WHERE id = 't1'`).Scan(&secret, &keyID, &clientID, &settings, &deletedAt); err != nil {
				t.Fatal(err)
			}
			if secret != nil || keyID != "" || clientID != "" || settings.Valid || !deletedAt.Valid {
				t.Fatalf("deleted row: secret %q key %q client %q settings %v deleted_at %v",
					secret, keyID, clientID, settings, deletedAt)
			}
		})
	}
}
