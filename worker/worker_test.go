package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

func TestNewValidatesConfig(t *testing.T) {
	b := setup(t, options{noStart: true})
	for name, mod := range map[string]func(*worker.Config){
		"no redis":       func(c *worker.Config) { c.Redis = nil },
		"no store":       func(c *worker.Config) { c.Store = nil },
		"no directories": func(c *worker.Config) { c.Directories = nil },
		"no queue":       func(c *worker.Config) { c.Queue = nil },
		"backoff":        func(c *worker.Config) { c.BaseBackoff, c.MaxBackoff = time.Second, time.Millisecond },
		"lock ttl":       func(c *worker.Config) { c.PolicyLockTTL = time.Millisecond },
	} {
		if _, err := b.newWorker(mod); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("two executors for one action did not panic")
			}
		}()
		_, _ = b.newWorker(func(c *worker.Config) { c.Executors = append(c.Executors, actions.DisableUser{}) })
	}()
}

func TestRunUntilCanceled(t *testing.T) {
	b := setup(t, options{noStart: true})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.worker.Run(ctx) }()

	job := b.submit(remediation.ActionDisableUser, "urgent", alice.UserPrincipalName)
	if job = b.waitJob(job.ID, 20*time.Second); job.Counts[remediation.ItemSucceeded] != 1 {
		t.Errorf("job counts %v, want 1 succeeded", job.Counts)
	}
	if err := b.worker.Start(); err == nil {
		t.Error("Start on a running worker succeeded")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestActionWithoutExecutorFails(t *testing.T) {
	b := setup(t, options{noStart: true})
	w, err := b.newWorker(func(c *worker.Config) { c.Executors = []remediation.Executor{actions.RevokeSessions{}} })
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	job := b.submit(remediation.ActionDisableUser, "urgent", alice.UserPrincipalName)
	job = b.waitJob(job.ID, 20*time.Second)
	it, _ := b.item(job.ID, alice.UserPrincipalName)
	if it.Status != remediation.ItemFailed || it.Error == nil || it.Error.Code != remediation.ENOTIMPLEMENTED {
		t.Errorf("item %s error %+v, want failed not_implemented", it.Status, it.Error)
	}
	if len(b.sim.Requests()) != 0 {
		t.Error("Graph was called for an action without executor")
	}
}
