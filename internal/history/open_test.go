package history_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestOpenSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, path string }{
		{"sqlite:" + filepath.Join(dir, "a", "b", "one.db"), filepath.Join(dir, "a", "b", "one.db")},
		{"file:" + filepath.Join(dir, "c", "two.db"), filepath.Join(dir, "c", "two.db")},
		{filepath.Join(dir, "d", "three.db"), filepath.Join(dir, "d", "three.db")},
	} {
		s, err := history.Open(t.Context(), tc.url)
		if err != nil {
			t.Fatalf("Open(%s): %v", tc.url, err)
		}
		if s.Dialect() != "sqlite" {
			t.Fatalf("Open(%s).Dialect() = %s", tc.url, s.Dialect())
		}
		if err := s.CreateTenant(t.Context(), &remediation.Tenant{ID: "t1"}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := os.Stat(tc.path); err != nil {
			t.Fatalf("Open(%s) did not create %s: %v", tc.url, tc.path, err)
		}
		// Reopening keeps the data and applies no migration twice.
		s, err = history.Open(t.Context(), tc.url)
		if err != nil {
			t.Fatalf("reopen %s: %v", tc.url, err)
		}
		if _, err := s.GetTenant(t.Context(), "t1"); err != nil {
			t.Fatalf("reopen %s: %v", tc.url, err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
		s.Close()
		wantMigrations(t, "sqlite", tc.path)
	}
}

func TestOpenBadURL(t *testing.T) {
	if _, err := history.Open(t.Context(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable PostgreSQL succeeded")
	}
}

// wantMigrations checks that every embedded migration is recorded once.
func wantMigrations(t *testing.T, driver, dsn string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	var n, distinct int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).
		Scan(&n, &distinct); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n != len(files) || distinct != len(files) {
		t.Fatalf("schema_migrations has %d rows (%d distinct), want %d", n, distinct, len(files))
	}
}

// TestConcurrentOpen starts several stores at once on one empty database,
// as replicas do: each must open, and the schema must be migrated once.
func TestConcurrentOpen(t *testing.T) {
	for _, tc := range []struct{ name, driver, url, dsn string }{
		{name: "postgres", driver: "pgx"},
		{name: "sqlite", driver: "sqlite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "postgres" {
				tc.url = testenv.Postgres(t)
				tc.dsn = tc.url
			} else {
				tc.dsn = filepath.Join(t.TempDir(), "h.db")
				tc.url = "sqlite:" + tc.dsn
			}
			var wg sync.WaitGroup
			errs := make([]error, 6)
			for i := range errs {
				wg.Go(func() {
					s, err := history.Open(t.Context(), tc.url)
					if err == nil {
						err = s.Close()
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Open %d: %v", i, err)
				}
			}
			wantMigrations(t, tc.driver, tc.dsn)
		})
	}
}

// TestTwoStoresShareCounts runs transitions of one job from two Store
// values on the same database (two processes) and checks the counts.
func TestTwoStoresShareCounts(t *testing.T) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			url := "sqlite:" + filepath.Join(t.TempDir(), "h.db")
			if name == "postgres" {
				url = testenv.Postgres(t)
			}
			var stores []*history.Store
			for range 2 {
				s, err := history.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores = append(stores, s)
			}
			ctx := t.Context()
			if err := stores[0].CreateTenant(ctx, &remediation.Tenant{ID: "t1"}); err != nil {
				t.Fatal(err)
			}
			ids := make([]string, 120)
			for i := range ids {
				ids[i] = "u" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@contoso.com"
			}
			job, _, err := stores[1].CreateJob(ctx, &remediation.Job{ID: "j1", TenantID: "t1",
				Action: remediation.ActionDisableUser, CreatedAt: time.Now()}, ids)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			applied := 0
			for w := range 6 {
				s := stores[w%2]
				wg.Go(func() {
					for seq := range len(ids) {
						for _, tr := range []remediation.Transition{
							{JobID: job.ID, Seq: seq, From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning},
							{JobID: job.ID, Seq: seq, From: []remediation.ItemStatus{remediation.ItemRunning}, To: remediation.ItemSucceeded},
						} {
							_, ok, err := s.TransitionItem(context.Background(), tr)
							if err != nil {
								t.Errorf("TransitionItem: %v", err)
								return
							}
							if ok {
								mu.Lock()
								applied++
								mu.Unlock()
							}
						}
					}
				})
			}
			wg.Wait()
			got, err := stores[0].GetJob(ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if applied != 2*len(ids) || got.Counts[remediation.ItemSucceeded] != len(ids) ||
				got.Status != remediation.JobCompleted {
				t.Fatalf("applied %d transitions, job %s counts %v; want %d, completed, all succeeded",
					applied, got.Status, got.Counts, 2*len(ids))
			}
			outs, _, err := stores[1].History(ctx, remediation.HistoryFilter{Limit: 1000})
			if err != nil || len(outs) != len(ids) {
				t.Fatalf("History = %d outcomes, %v; want %d", len(outs), err, len(ids))
			}
		})
	}
}
