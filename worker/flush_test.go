package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// startWith starts another worker on the bundle's Redis and store, with
// the flusher f (the bundle's own worker is not started).
func (b *bundle) startWith(f worker.PolicyFlusher, mod func(*worker.Config)) *worker.Worker {
	b.t.Helper()
	w, err := b.newWorker(func(c *worker.Config) {
		c.PolicyFlusher = f
		if mod != nil {
			mod(c)
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(w.Shutdown)
	return w
}

// succeedAll is a flusher outcome list: every request succeeded.
func succeedAll(reqs []remediation.PolicyRequest) []remediation.PolicyOutcome {
	out := make([]remediation.PolicyOutcome, len(reqs))
	for i, r := range reqs {
		out[i] = remediation.PolicyOutcome{Request: r,
			Result: remediation.Result{Status: remediation.ItemSucceeded, Detail: "fake flush", ObjectID: r.UserID}}
	}
	return out
}

func TestFlushesOfATenantNeverOverlap(t *testing.T) {
	b := setup(t, options{noStart: true})
	var (
		running, maxRunning, calls atomic.Int32
		users                      sync.Map
	)
	f := flusherFunc(func(ctx context.Context, _ remediation.FullDirectory, tn *remediation.Tenant, kind remediation.PolicyKind,
		reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		calls.Add(1)
		if err := b.pacer.Pace(ctx); err != nil { // the context names the tenant
			return nil, err
		}
		if tn.ID != b.tenant.ID() || kind != remediation.PolicyMFA {
			return nil, fmt.Errorf("flush of %s/%s", tn.ID, kind)
		}
		time.Sleep(150 * time.Millisecond) // a slow policy write
		for _, r := range reqs {
			users.Store(r.UserID, true)
		}
		return succeedAll(reqs), nil
	})
	// Two worker processes share the flush lock.
	b.startWith(f, nil)
	b.startWith(f, nil)

	const jobs, per = 6, 10
	ids := make([]string, jobs)
	total := 0
	for j := range jobs {
		upns, _ := addUsers(b, fmt.Sprintf("w%d-", j), per)
		ids[j] = b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID
		total += per
		// Extra flush tasks run at once on both workers and contend.
		for range 3 {
			if err := b.queue.ContinuePolicyFlush(b.ctx, b.tenant.ID(), remediation.PolicyMFA); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond) // requests spread over several flush windows
	}
	for _, id := range ids {
		job := b.waitJob(id, 30*time.Second)
		wantSucceeded(t, job)
	}
	n := 0
	users.Range(func(any, any) bool { n++; return true })
	if n != total {
		t.Errorf("%d users flushed, want %d", n, total)
	}
	if m := maxRunning.Load(); m != 1 {
		t.Errorf("%d flushes of one tenant ran at once, want 1", m)
	}
	t.Logf("%d users in %d flushes", total, calls.Load())
	if c := calls.Load(); c >= int32(total) {
		t.Errorf("%d flushes for %d users: requests were not batched", c, total)
	}
}

func TestFlusherPermanentErrorFailsItems(t *testing.T) {
	b := setup(t, options{noStart: true})
	b.startWith(flusherFunc(func(context.Context, remediation.FullDirectory, *remediation.Tenant, remediation.PolicyKind,
		[]remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
		return nil, &remediation.GraphError{Operation: "PATCH policy", Status: http.StatusForbidden,
			Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.", RequestID: "req-403"}
	}), nil)
	upns, _ := addUsers(b, "denied", 3)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID, 20*time.Second)
	if job.Counts[remediation.ItemFailed] != 3 {
		t.Fatalf("job %s counts %v, want 3 failed", job.Status, job.Counts)
	}
	for _, upn := range upns {
		it, _ := b.item(job.ID, upn)
		if it.Error == nil || it.Error.Code != "Authorization_RequestDenied" || it.Error.Message != msgForbidden || it.GraphRequestID != "req-403" {
			t.Errorf("%s: error %+v request id %q", upn, it.Error, it.GraphRequestID)
		}
	}
	if reqs := b.pendingRequests(); len(reqs) != 0 {
		t.Errorf("%d policy requests left", len(reqs))
	}
}

func TestFlusherRetriesThenFailsItems(t *testing.T) {
	const maxRetry = 2
	b := setup(t, options{noStart: true, maxRetry: maxRetry})
	var calls atomic.Int32
	b.startWith(flusherFunc(func(context.Context, remediation.FullDirectory, *remediation.Tenant, remediation.PolicyKind,
		[]remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
		calls.Add(1)
		return nil, &remediation.GraphError{Operation: "GET policy", Status: http.StatusTooManyRequests, Code: "TooManyRequests", Message: "slow down"}
	}), nil)
	upns, _ := addUsers(b, "throttled", 2)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID, 20*time.Second)
	if job.Counts[remediation.ItemFailed] != 2 {
		t.Fatalf("job %s counts %v, want 2 failed", job.Status, job.Counts)
	}
	if c := calls.Load(); c != maxRetry+1 {
		t.Errorf("%d flush attempts, want %d", c, maxRetry+1)
	}
	for _, upn := range upns {
		it, _ := b.item(job.ID, upn)
		if it.Error == nil || it.Error.Code != "TooManyRequests" || !strings.HasPrefix(it.Error.Message, "retries exhausted: ") || it.Attempts != 1 {
			t.Errorf("%s: error %+v after %d attempts, want TooManyRequests \"retries exhausted: …\" after 1", upn, it.Error, it.Attempts)
		}
	}
	b.waitDrained(10 * time.Second)
	if archived, err := b.insp.ListArchivedTasks(queue.QueueControl); err != nil || len(archived) != 0 {
		t.Errorf("%d flush tasks archived (%v), want none", len(archived), err)
	}
}

func TestRequestWithoutOutcomeIsFlushedAgain(t *testing.T) {
	b := setup(t, options{noStart: true, reconcileInterval: 200 * time.Millisecond, policyMaxAge: 300 * time.Millisecond})
	var first atomic.Bool
	first.Store(true)
	b.startWith(flusherFunc(func(_ context.Context, _ remediation.FullDirectory, _ *remediation.Tenant, _ remediation.PolicyKind,
		reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
		out := succeedAll(reqs)
		if first.CompareAndSwap(true, false) {
			return out[1:], nil // the first request gets no outcome
		}
		return out, nil
	}), nil)
	upns, _ := addUsers(b, "omitted", 3)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID, 20*time.Second)
	wantSucceeded(t, job)
	if first.Load() {
		t.Error("the flusher was never called")
	}
}

func TestPolicyRequestWithoutFlusherFailsItem(t *testing.T) {
	b := setup(t, options{noStart: true})
	b.startWith(nil, nil)
	upns, _ := addUsers(b, "noflusher", 1)
	job := b.waitJob(b.submit(remediation.ActionEnforceMFA, "urgent", upns...).ID, 20*time.Second)
	it, _ := b.item(job.ID, upns[0])
	if it.Status != remediation.ItemFailed || it.Error == nil || it.Error.Code != remediation.ENOTIMPLEMENTED {
		t.Errorf("item %s error %+v, want failed not_implemented", it.Status, it.Error)
	}
	if reqs := b.pendingRequests(); len(reqs) != 0 {
		t.Errorf("%d policy requests recorded without a flusher", len(reqs))
	}
}
