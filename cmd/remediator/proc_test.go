package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"testing"
	"time"
)

// roleEnv names the role a re-executed test binary runs (see TestMain).
const roleEnv = "REMEDIATOR_TEST_ROLE"

// TestMain lets the test binary act as the real program: with
// REMEDIATOR_TEST_ROLE=worker it runs `remediator worker` from the
// environment and exits, so fault tests can SIGKILL real processes.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		ctx, stop := signalContext()
		defer stop()
		if err := Main(ctx, []string{role}, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "remediator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch, syscall.SIGTERM, os.Interrupt)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// proc is a role running as a separate process.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

// startProc runs role as a child process with the stack's environment.
func (s *stack) startProc(role string) *proc {
	s.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	env := []string{roleEnv + "=" + role, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+s.env[k])
	}
	cmd.Env = env
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	s.t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// term sends SIGTERM and waits for a clean exit.
func (p *proc) term(t *testing.T, within time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("process exited with %v after SIGTERM", err)
		}
	case <-time.After(within):
		t.Errorf("process did not exit within %s of SIGTERM", within)
		p.kill()
	}
}
