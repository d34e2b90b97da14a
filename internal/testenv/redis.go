package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// RedisOptions tunes a test redis-server.
type RedisOptions struct {
	// TCP also listens on a loopback TCP port (for subprocesses that take
	// a redis:// URL); the unix socket is always there.
	TCP bool
	// AOF turns on the append-only file (appendfsync always), so a restart
	// keeps every acknowledged write.
	AOF bool
}

// RedisServer is a real redis-server process owned by one test.
type RedisServer struct {
	tb   testing.TB
	dir  string
	opts RedisOptions
	cmd  *exec.Cmd
	// Socket is the unix socket path; Port the TCP port (0 without TCP).
	Socket string
	Port   int
}

// Redis starts a redis-server for the test (noeviction, no RDB snapshots)
// and stops it when the test ends.
func Redis(tb testing.TB) *RedisServer { return RedisWith(tb, RedisOptions{}) }

// RedisWith starts a redis-server with options.
func RedisWith(tb testing.TB, opts RedisOptions) *RedisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("testenv: redis-server not installed (run scripts/test-services.sh start): %v", err)
	}
	dir, err := os.MkdirTemp("", "rtest")
	if err != nil {
		tb.Fatal(err)
	}
	s := &RedisServer{tb: tb, dir: dir, opts: opts, Socket: filepath.Join(dir, "redis.sock")}
	if opts.TCP {
		s.Port = freePort(tb)
	}
	tb.Cleanup(func() {
		s.Kill()
		os.RemoveAll(dir)
	})
	s.Start()
	return s
}

// Start (re)starts the server on the same socket, port and data directory.
func (s *RedisServer) Start() {
	s.tb.Helper()
	args := []string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--dir", s.dir, "--save", "", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if s.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("testenv: start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.tb.Fatalf("testenv: redis-server did not answer: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (SHUTDOWN, which flushes the AOF).
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
	_ = c.Shutdown(context.Background()).Err()
	c.Close()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Kill ends the server with SIGKILL.
func (s *RedisServer) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Opt is the asynq connection option for the server's unix socket.
func (s *RedisServer) Opt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Network: "unix", Addr: s.Socket}
}

// Client returns a go-redis client, closed when the test ends.
func (s *RedisServer) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// URL returns a URL for the server: redis://127.0.0.1:PORT with TCP,
// otherwise unix://SOCKET.
func (s *RedisServer) URL() string {
	if s.Port != 0 {
		return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port)
	}
	return "unix://" + s.Socket
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
