package testenv

import (
	"context"
	"database/sql"
	"testing"
)

func TestPostgresFreshDatabase(t *testing.T) {
	u := Postgres(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_schema='public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables", n)
	}
}

func TestRedisRestartKeepsAOFData(t *testing.T) {
	r := RedisWith(t, RedisOptions{AOF: true, TCP: true})
	ctx := context.Background()
	c := r.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r.Start()
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
	if r.URL() == "" || r.Port == 0 {
		t.Fatal("no TCP URL")
	}
}

func TestPostgresServerRestart(t *testing.T) {
	s := NewPostgresServer(t)
	db, err := sql.Open("pgx", s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE x(i int); INSERT INTO x VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := db.Ping(); err == nil {
		t.Fatal("ping succeeded while stopped")
	}
	s.Start()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM x").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: %d %v", n, err)
	}
}
