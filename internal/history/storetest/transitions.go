package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

var (
	fromPending   = []remediation.ItemStatus{remediation.ItemPending}
	fromRunning   = []remediation.ItemStatus{remediation.ItemRunning}
	fromStartable = []remediation.ItemStatus{remediation.ItemPending, remediation.ItemRetrying}
)

var transitionTests = map[string]func(t *testing.T, s remediation.Store){
	"CompareAndSet": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 2)
		it := mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending,
			To: remediation.ItemRunning, CountAttempt: true})
		if it.Status != remediation.ItemRunning || it.Attempts != 1 {
			t.Fatalf("after start = %+v", it)
		}
		it, ok, err := s.TransitionItem(ctx, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending,
			To: remediation.ItemRunning, CountAttempt: true, Detail: "second"})
		if err != nil || ok || it.Status != remediation.ItemRunning || it.Attempts != 1 || it.Detail != "" {
			t.Fatalf("second start = %+v, %v, %v; want current item, not applied", it, ok, err)
		}
		wantCounts(t, mustGetJob(t, s, j.ID), map[remediation.ItemStatus]int{
			remediation.ItemPending: 1, remediation.ItemRunning: 1})
	},
	"Fields": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 1)
		tr := remediation.Transition{JobID: j.ID, Seq: 0, From: fromStartable, To: remediation.ItemRunning, CountAttempt: true}
		mustTransition(t, s, tr)
		it := mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromRunning,
			To: remediation.ItemRetrying, Detail: "throttled", GraphRequestID: "req-1", ObjectID: "obj-1",
			Error:      &remediation.ItemError{Code: "throttled", Message: "429 from Graph"},
			PriorState: []byte(`{"accountEnabled": true}`)})
		if it.Detail != "throttled" || it.GraphRequestID != "req-1" || it.ObjectID != "obj-1" ||
			it.Error == nil || it.Error.Code != "throttled" || it.Error.Message != "429 from Graph" ||
			string(it.PriorState) != `{"accountEnabled": true}` || it.Results != nil || it.Attempts != 1 {
			t.Fatalf("after retrying = %+v (error %+v)", it, it.Error)
		}
		mustTransition(t, s, tr) // retrying → running, attempt 2
		it = mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromRunning,
			To: remediation.ItemSucceeded, ClearError: true, Results: []byte(`{"disabled":true,"n":[1,2]}`)})
		if it.Detail != "throttled" || it.GraphRequestID != "req-1" || it.ObjectID != "obj-1" || it.Error != nil ||
			string(it.PriorState) != `{"accountEnabled": true}` || string(it.Results) != `{"disabled":true,"n":[1,2]}` ||
			it.Attempts != 2 {
			t.Fatalf("after success = %+v", it)
		}
		got, err := s.GetItemBySeq(ctx, j.ID, 0)
		if err != nil || got.Status != remediation.ItemSucceeded || got.Error != nil || got.Attempts != 2 ||
			string(got.Results) != string(it.Results) || string(got.PriorState) != string(it.PriorState) {
			t.Fatalf("stored = %+v, %v", got, err)
		}
	},
	"SameStatus": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 2)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending, To: remediation.ItemRetrying})
		it := mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0,
			From: []remediation.ItemStatus{remediation.ItemRetrying}, To: remediation.ItemRetrying, CountAttempt: true})
		if it.Attempts != 1 {
			t.Fatalf("attempts = %d", it.Attempts)
		}
		wantCounts(t, mustGetJob(t, s, j.ID), map[remediation.ItemStatus]int{
			remediation.ItemPending: 1, remediation.ItemRetrying: 1})
	},
	"NotFound": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 1)
		_, _, err := s.TransitionItem(ctx, remediation.Transition{JobID: j.ID, Seq: 5, From: fromPending, To: remediation.ItemRunning})
		wantCode(t, err, remediation.ENOTFOUND)
		_, _, err = s.TransitionItem(ctx, remediation.Transition{JobID: uuid.NewString(), Seq: 0, From: fromPending, To: remediation.ItemRunning})
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"JobLifecycle": func(t *testing.T, s remediation.Store) {
		before := time.Now().Add(-time.Second)
		j := mustJob(t, s, "t1", 3)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
		got := mustGetJob(t, s, j.ID)
		if got.Status != remediation.JobRunning || got.StartedAt == nil || got.StartedAt.Before(before) || got.FinishedAt != nil {
			t.Fatalf("after first start: status %s started %v finished %v", got.Status, got.StartedAt, got.FinishedAt)
		}
		started := *got.StartedAt
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromRunning, To: remediation.ItemSucceeded})
		finish(t, s, j.ID, 1, remediation.ItemFailed)
		got = mustGetJob(t, s, j.ID)
		if got.Status != remediation.JobRunning || !got.StartedAt.Equal(started) || got.FinishedAt != nil {
			t.Fatalf("mid-way: status %s started %v (was %v) finished %v", got.Status, got.StartedAt, started, got.FinishedAt)
		}
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 2, From: fromPending, To: remediation.ItemSkipped})
		got = mustGetJob(t, s, j.ID)
		if got.Status != remediation.JobCompleted || got.FinishedAt == nil || got.FinishedAt.Before(started) {
			t.Fatalf("after last: status %s finished %v", got.Status, got.FinishedAt)
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemSucceeded: 1,
			remediation.ItemFailed: 1, remediation.ItemSkipped: 1})
	},
	"CancelRequested": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 4)
		finish(t, s, j.ID, 0, remediation.ItemSucceeded)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning})
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 2, From: fromPending, To: remediation.ItemRetrying})
		got, err := s.CancelJob(ctx, j.ID)
		if err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		if !got.CancelRequested || got.Status != remediation.JobRunning || got.FinishedAt != nil {
			t.Fatalf("after cancel: %+v; want cancel requested, still running (item 1 runs)", got)
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemSucceeded: 1,
			remediation.ItemRunning: 1, remediation.ItemCanceled: 2})
		if _, ok, _ := s.TransitionItem(ctx, remediation.Transition{JobID: j.ID, Seq: 3, From: fromStartable,
			To: remediation.ItemRunning}); ok {
			t.Fatal("a canceled item could be started")
		}
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromRunning, To: remediation.ItemSucceeded})
		got = mustGetJob(t, s, j.ID)
		if got.Status != remediation.JobCanceled || got.FinishedAt == nil {
			t.Fatalf("after the running item finished: status %s finished %v; want canceled", got.Status, got.FinishedAt)
		}
		outs, _, err := s.History(ctx, remediation.HistoryFilter{Status: remediation.ItemCanceled})
		if err != nil || len(outs) != 2 {
			t.Fatalf("canceled outcomes = %d, %v; want 2", len(outs), err)
		}
		again, err := s.CancelJob(ctx, j.ID)
		if err != nil || again.Status != remediation.JobCanceled || !again.FinishedAt.Equal(*got.FinishedAt) {
			t.Fatalf("second cancel = %+v, %v", again, err)
		}
		_, err = s.CancelJob(ctx, uuid.NewString())
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"CancelIdleJob": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 3)
		got, err := s.CancelJob(t.Context(), j.ID)
		if err != nil || got.Status != remediation.JobCanceled || got.FinishedAt == nil || got.StartedAt != nil {
			t.Fatalf("CancelJob = %+v, %v; want canceled at once", got, err)
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemCanceled: 3})
	},
	"ConcurrentTransitionsKeepCountsExact": concurrentTransitions,
}

// concurrentTransitions has 8 goroutines race for every transition of
// every item: each item must start once and finish once, the counts must
// match the items, the job must complete once with one outcome per item.
func concurrentTransitions(t *testing.T, s remediation.Store) {
	ctx := t.Context()
	const items, workers = 200, 8
	j := mustJob(t, s, "t1", items)
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		started, settled int
		errs             []error
	)
	final := func(seq int) remediation.ItemStatus {
		return []remediation.ItemStatus{remediation.ItemSucceeded, remediation.ItemFailed, remediation.ItemSkipped}[seq%3]
	}
	for w := range workers {
		wg.Go(func() {
			for k := range items {
				seq := (k + w*items/workers) % items // workers start at different items and collide
				for _, tr := range []remediation.Transition{
					{JobID: j.ID, Seq: seq, From: fromPending, To: remediation.ItemRunning, CountAttempt: true},
					{JobID: j.ID, Seq: seq, From: fromRunning, To: final(seq)},
				} {
					_, ok, err := s.TransitionItem(ctx, tr)
					mu.Lock()
					switch {
					case err != nil:
						errs = append(errs, err)
					case ok && tr.To == remediation.ItemRunning:
						started++
					case ok:
						settled++
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d transition errors, first: %v", len(errs), errs[0])
	}
	if started != items || settled != items {
		t.Fatalf("applied %d starts and %d finishes, want %d each", started, settled, items)
	}
	got := mustGetJob(t, s, j.ID)
	want := map[remediation.ItemStatus]int{}
	list, _, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: 1000})
	if err != nil || len(list) != items {
		t.Fatalf("ListItems = %d, %v", len(list), err)
	}
	for _, it := range list {
		want[it.Status]++
		if it.Status != final(it.Seq) || it.Attempts != 1 {
			t.Fatalf("item %d = %s with %d attempts, want %s after 1", it.Seq, it.Status, it.Attempts, final(it.Seq))
		}
	}
	wantCounts(t, got, want)
	if got.Status != remediation.JobCompleted || got.FinishedAt == nil || got.StartedAt == nil {
		t.Fatalf("job = %s started %v finished %v; want completed", got.Status, got.StartedAt, got.FinishedAt)
	}
	outs, next, err := s.History(ctx, remediation.HistoryFilter{Limit: 1000})
	if err != nil || next != "" || len(outs) != items {
		t.Fatalf("History = %d outcomes, %v; want exactly %d", len(outs), err, items)
	}
	seen := map[int]bool{}
	for _, o := range outs {
		it := list[seqOf(t, o.Identity)]
		if seen[it.Seq] || o.Status != it.Status || o.JobID != j.ID {
			t.Fatalf("outcome %+v duplicated or does not match item %+v", o, it)
		}
		seen[it.Seq] = true
	}
}

// seqOf parses the seq out of an identity made by identities("u", n).
func seqOf(t testing.TB, identity string) int {
	t.Helper()
	n := 0
	for _, r := range identity[1:7] {
		if r < '0' || r > '9' {
			t.Fatalf("unexpected identity %q", identity)
		}
		n = n*10 + int(r-'0')
	}
	return n
}
