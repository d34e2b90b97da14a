package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// PostgresServer is a private PostgreSQL cluster owned by one test, for
// tests that stop and start the server (fault tests). It runs as the
// unprivileged "postgres" user when the test runs as root.
type PostgresServer struct {
	tb   testing.TB
	bin  string
	dir  string
	Port int
}

// NewPostgresServer initialises and starts a private cluster; it is
// stopped and removed when the test ends.
func NewPostgresServer(tb testing.TB) *PostgresServer {
	tb.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		tb.Fatal("testenv: PostgreSQL server binaries not installed (run scripts/test-services.sh start)")
	}
	sort.Strings(bins)
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		tb.Fatal(err)
	}
	s := &PostgresServer{tb: tb, bin: filepath.Dir(bins[len(bins)-1]), dir: dir, Port: freePort(tb)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("testenv: no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	s.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
	s.Start()
	return s
}

// URL is the connection URL of the cluster's postgres database.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Start starts (or restarts) the server and waits until it accepts connections.
func (s *PostgresServer) Start() {
	s.tb.Helper()
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.Port, s.dir))
}

// Stop stops the server (fast shutdown: open connections are closed).
func (s *PostgresServer) Stop() {
	cmd := s.cmd("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
	_ = cmd.Run()
}

func (s *PostgresServer) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *PostgresServer) run(name string, args ...string) {
	s.tb.Helper()
	if out, err := s.cmd(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.tb.Fatalf("testenv: %s: %v\n%s\n%s", name, err, out, log)
	}
}
