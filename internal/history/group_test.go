package history_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/testenv"
)

// groupJob opens the store at url with tenant t1 and a disable_user job
// j1 of n pending items, and the items' identities.
func groupJob(t *testing.T, url string, n int) (*history.Store, *remediation.Job, []string) {
	t.Helper()
	s, err := history.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTenant(t.Context(), &remediation.Tenant{ID: "t1"}); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%04d@contoso.com", i)
	}
	job, _, err := s.CreateJob(t.Context(), &remediation.Job{ID: "j1", TenantID: "t1",
		Action: remediation.ActionDisableUser, CreatedAt: time.Now()}, ids)
	if err != nil {
		t.Fatal(err)
	}
	return s, job, ids
}

// TestGroupedTransitions hands the store many concurrent item writes, so
// that they share group transactions (group.go), among them writes that
// must fail on their own (an unknown item, an unknown job) and transitions
// that carry Graph calls. Every good write applies once, the bad ones get
// ENOTFOUND, the counters, outcomes and attempt logs agree, and the job
// finishes once.
func TestGroupedTransitions(t *testing.T) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			url := "sqlite:" + filepath.Join(t.TempDir(), "h.db")
			if name == "postgres" {
				url = testenv.Postgres(t)
			}
			const n = 300
			s, job, ids := groupJob(t, url, n)
			ctx := t.Context()
			var wg sync.WaitGroup
			errs := make(chan error, 4*n)
			for seq := range n {
				wg.Go(func() {
					_, ok, err := s.TransitionItem(context.Background(), remediation.Transition{JobID: job.ID, Seq: seq,
						From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, CountAttempt: true})
					if err != nil || !ok {
						errs <- fmt.Errorf("start %d: applied %v, %v", seq, ok, err)
						return
					}
					to := remediation.ItemSucceeded
					var ie *remediation.ItemError
					if seq%10 == 0 {
						to, ie = remediation.ItemFailed, &remediation.ItemError{Code: "Request_ResourceNotFound", Message: "gone"}
					}
					_, ok, err = s.TransitionItem(context.Background(), remediation.Transition{JobID: job.ID, Seq: seq,
						From: []remediation.ItemStatus{remediation.ItemRunning}, To: to, Error: ie,
						Calls: []remediation.Call{{Operation: "PATCH /users/{id}", HTTPStatus: 204, RequestID: fmt.Sprint("r", seq)}}})
					if err != nil || !ok {
						errs <- fmt.Errorf("finish %d: applied %v, %v", seq, ok, err)
					}
				})
				if seq%50 == 0 {
					wg.Go(func() {
						_, _, err := s.TransitionItem(context.Background(), remediation.Transition{JobID: job.ID, Seq: n + seq,
							From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning})
						if remediation.ErrorCode(err) != remediation.ENOTFOUND {
							errs <- fmt.Errorf("unknown item %d: %v, want ENOTFOUND", n+seq, err)
						}
						_, _, err = s.TransitionItem(context.Background(), remediation.Transition{JobID: "nojob", Seq: 0,
							From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning})
						if remediation.ErrorCode(err) != remediation.ENOTFOUND {
							errs <- fmt.Errorf("unknown job: %v, want ENOTFOUND", err)
						}
						if err := s.AppendCalls(context.Background(), job.ID, n+seq, []remediation.Call{{Operation: "x"}}); remediation.ErrorCode(err) != remediation.ENOTFOUND {
							errs <- fmt.Errorf("AppendCalls of an unknown item: %v, want ENOTFOUND", err)
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			got, err := s.GetJob(ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != remediation.JobCompleted || got.Counts[remediation.ItemSucceeded] != n-n/10 ||
				got.Counts[remediation.ItemFailed] != n/10 || got.Counts[remediation.ItemRunning] != 0 ||
				got.Counts[remediation.ItemPending] != 0 || got.FinishedAt == nil {
				t.Fatalf("job %s counts %v finished %v; want completed with %d succeeded, %d failed",
					got.Status, got.Counts, got.FinishedAt, n-n/10, n/10)
			}
			outs, _, err := s.History(ctx, remediation.HistoryFilter{Limit: 1000})
			if err != nil || len(outs) != n {
				t.Fatalf("History = %d outcomes, %v; want %d", len(outs), err, n)
			}
			for _, seq := range []int{0, 7, n - 1} {
				it, calls, err := s.GetItem(ctx, job.ID, ids[seq])
				if err != nil {
					t.Fatal(err)
				}
				if len(calls) != 1 || calls[0].Attempt != 1 || calls[0].RequestID != fmt.Sprint("r", seq) || it.Attempts != 1 {
					t.Fatalf("item %d: attempts %d, calls %+v; want one call of attempt 1 with request id r%d", seq, it.Attempts, calls, seq)
				}
			}

			// The same item many times at once (several may share a group):
			// exactly one compare-and-set applies, the others see it done.
			race, _, err := s.CreateJob(ctx, &remediation.Job{ID: "j2", TenantID: "t1",
				Action: remediation.ActionDisableUser, CreatedAt: time.Now()}, []string{"x@contoso.com"})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			wins, seen := 0, 0
			for range 40 {
				wg.Go(func() {
					it, ok, err := s.TransitionItem(context.Background(), remediation.Transition{JobID: race.ID, Seq: 0,
						From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, CountAttempt: true})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						wins++
					}
					if it.Status == remediation.ItemRunning && it.Attempts == 1 {
						seen++
					}
				})
			}
			wg.Wait()
			if wins != 1 || seen != 40 {
				t.Fatalf("40 concurrent pending->running of one item: %d applied, %d saw it running with 1 attempt; want 1 and 40", wins, seen)
			}
		})
	}
}

// TestFailedGroupIsReplayedOneByOne: a write PostgreSQL refuses (text
// that is not UTF-8) fails the group transaction it shares with good
// writes; the store then applies them one by one, so only the bad one
// fails.
func TestFailedGroupIsReplayedOneByOne(t *testing.T) {
	const n = 60
	s, job, _ := groupJob(t, testenv.Postgres(t), n)
	ctx := t.Context()
	const bad = 17
	var wg sync.WaitGroup
	errs := make([]error, n)
	applied := make([]bool, n)
	for seq := range n {
		wg.Go(func() {
			detail := "started"
			if seq == bad {
				detail = "bad \xff\xfe"
			}
			_, applied[seq], errs[seq] = s.TransitionItem(context.Background(), remediation.Transition{JobID: job.ID, Seq: seq,
				From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, Detail: detail})
		})
	}
	wg.Wait()
	for seq := range n {
		if seq == bad {
			if errs[seq] == nil || applied[seq] {
				t.Errorf("the non-UTF-8 write: applied %v, error %v; want an error", applied[seq], errs[seq])
			}
			continue
		}
		if errs[seq] != nil || !applied[seq] {
			t.Errorf("item %d: applied %v, error %v; want applied", seq, applied[seq], errs[seq])
		}
	}
	got, err := s.GetJob(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts[remediation.ItemRunning] != n-1 || got.Counts[remediation.ItemPending] != 1 {
		t.Fatalf("counts %v; want %d running, 1 pending", got.Counts, n-1)
	}
}

// TestUrgentTransitionsPassBulkLocks holds a bulk job's row lock (as a
// long group transaction of another worker would) until every bulk group
// loop of the store waits for it: an urgent item's transition of another
// job still applies at once, in the urgent loop (without it, it would wait
// for a loop, then time out).
func TestUrgentTransitionsPassBulkLocks(t *testing.T) {
	url := testenv.Postgres(t)
	s, bulk, _ := groupJob(t, url, 4)
	small, _, err := s.CreateJob(t.Context(), &remediation.Job{ID: "j2", TenantID: "t1",
		Action: remediation.ActionDisableUser, Priority: "urgent", CreatedAt: time.Now()}, []string{"one@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wg sync.WaitGroup
	defer wg.Wait() // after the rollback (defers run last first)
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, bulk.ID); err != nil {
		t.Fatal(err)
	}
	// One bulk item at a time, each in a group of its own once the
	// previous one waits: every bulk loop (two on PostgreSQL) waits for
	// the row.
	for seq := range 2 {
		wg.Go(func() {
			_, ok, err := s.TransitionItem(context.Background(), remediation.Transition{JobID: bulk.ID, Seq: seq,
				From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning})
			if err != nil || !ok {
				t.Errorf("bulk item %d: %v %v", seq, ok, err)
			}
		})
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var waiting int
			if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > seq {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d group transactions wait for the bulk job's row, want %d", waiting, seq+1)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	it, ok, err := s.TransitionItem(ctx, remediation.Transition{JobID: small.ID, Seq: 0,
		From: []remediation.ItemStatus{remediation.ItemPending}, To: remediation.ItemRunning, Urgent: true})
	if err != nil || !ok || it.Status != remediation.ItemRunning {
		t.Fatalf("urgent transition while the bulk job's row is locked: %v %v %v", it, ok, err)
	}
	t.Logf("urgent transition applied in %s", time.Since(start))
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}
