package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-redis/redis_rate/v10"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
)

// startRedis starts redis-server on a unix socket in a temporary
// directory (noeviction, no snapshots), as internal/testenv does.
func startRedis() (*redisServer, error) {
	dir, err := os.MkdirTemp("", "rbench")
	if err != nil {
		return nil, err
	}
	s := &redisServer{dir: dir, socket: filepath.Join(dir, "redis.sock")}
	s.cmd = exec.Command("redis-server", "--port", "0", "--unixsocket", s.socket, "--unixsocketperm", "700",
		"--dir", dir, "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.socket})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server did not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisServer is the redis-server process the bench owns.
type redisServer struct {
	dir, socket string
	cmd         *exec.Cmd
}

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

// createDatabase creates a fresh database on the PostgreSQL cluster at
// admin and returns its name and URL.
func createDatabase(ctx context.Context, admin string) (string, string, error) {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return "", "", fmt.Errorf("PostgreSQL not reachable (run scripts/test-services.sh start): %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

// pgVersion returns the server version of the database at url.
func pgVersion(ctx context.Context, url string) string {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	_ = db.QueryRowContext(ctx, "SHOW server_version").Scan(&v)
	return v
}

func dropDatabase(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return
	}
	defer db.Close()
	_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// rateLimiter is cmd/remediator's per-API-key request limit (GCRA in
// Redis, burst twice the rate).
type rateLimiter struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

func newRateLimiter(rdb redis.UniversalClient, perSecond int) *rateLimiter {
	return &rateLimiter{l: redis_rate.NewLimiter(rdb), limit: redis_rate.Limit{Rate: perSecond, Burst: 2 * perSecond, Period: time.Second}}
}

// Allow implements api.RateLimiter.
func (r *rateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := r.l.Allow(ctx, "apikey:"+key, r.limit)
	if err != nil {
		return true, 0, err
	}
	return res.Allowed > 0, res.RetryAfter, nil
}
