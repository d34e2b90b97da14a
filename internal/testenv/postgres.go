// Package testenv gives tests real servers: a PostgreSQL database (fresh
// per test, on the cluster started by scripts/test-services.sh) and
// redis-server processes started per test on a unix socket.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// DefaultPostgresURL is where scripts/test-services.sh starts PostgreSQL.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable"

// PostgresURL returns the admin URL of the test cluster:
// REMEDIATOR_TEST_DATABASE_URL, or DefaultPostgresURL.
func PostgresURL() string {
	if u := os.Getenv("REMEDIATOR_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// Postgres creates a fresh, empty database on the test cluster and returns
// its URL; the database is dropped when the test ends. The test fails (it
// is never skipped) when no server is reachable: run
// `scripts/test-services.sh start` or `make test`.
func Postgres(tb testing.TB) string {
	tb.Helper()
	admin := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("testenv: open %s: %v", redact(admin), err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		tb.Fatalf("testenv: PostgreSQL not reachable at %s (run scripts/test-services.sh start): %v", redact(admin), err)
	}
	name := "t_" + randomHex(8)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("testenv: parse %s: %v", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("testenv: random: %v", err))
	}
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<url>"
	}
	return u.Redacted()
}
