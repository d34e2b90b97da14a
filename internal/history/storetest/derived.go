package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// sourceStatus is the final status of item seq of sourceJob.
func sourceStatus(seq int) remediation.ItemStatus {
	return []remediation.ItemStatus{remediation.ItemSucceeded, remediation.ItemFailed, remediation.ItemSkipped}[seq%3]
}

func priorOf(seq int) string { return fmt.Sprintf(`{"accountEnabled": true, "seq": %d}`, seq) }

// sourceJob creates a finished job of n items: item seq ends in
// sourceStatus(seq) with object id "obj-<seq>" and prior state priorOf(seq).
func sourceJob(t testing.TB, s remediation.Store, n int) *remediation.Job {
	t.Helper()
	j := mustJob(t, s, "t1", n)
	for seq := range n {
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: seq, From: fromPending, To: remediation.ItemRunning,
			ObjectID: fmt.Sprint("obj-", seq), PriorState: []byte(priorOf(seq)), CountAttempt: true})
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: seq, From: fromRunning, To: sourceStatus(seq),
			Detail: "done", Error: &remediation.ItemError{Code: "c", Message: "m"}, Results: []byte(`{"r":1}`)})
	}
	return mustGetJob(t, s, j.ID)
}

// derivedJob returns a request for an undo (undo=true) or a retry of from.
func derivedJob(from *remediation.Job, undo bool) *remediation.Job {
	j := newJob(from.TenantID, from.Action)
	if undo {
		j.UndoOf = from.ID
	} else {
		j.RetryOf = from.ID
	}
	return j
}

func mustDerive(t testing.TB, s remediation.Store, job *remediation.Job, from string, statuses ...remediation.ItemStatus) *remediation.Job {
	t.Helper()
	got, err := s.CreateDerivedJob(t.Context(), job, from, statuses)
	if err != nil {
		t.Fatalf("CreateDerivedJob(from %s, %v): %v", from, statuses, err)
	}
	return got
}

// wantDerivedItems checks the items of a derived job against the source
// items (in seq order) they were made from.
func wantDerivedItems(t testing.TB, s remediation.Store, jobID string, src []*remediation.Item, undoState func(*remediation.Item) string) {
	t.Helper()
	items, _, err := s.ListItems(t.Context(), jobID, remediation.ItemFilter{Limit: 1000})
	if err != nil || len(items) != len(src) {
		t.Fatalf("ListItems = %d items, %v; want %d", len(items), err, len(src))
	}
	for i, it := range items {
		o := src[i]
		if it.Seq != i || it.JobID != jobID || it.Identity != o.Identity || it.ObjectID != o.ObjectID ||
			it.Status != remediation.ItemPending || it.Attempts != 0 || it.Error != nil || it.Detail != "" ||
			it.PriorState != nil || it.Results != nil || string(it.UndoState) != undoState(o) {
			t.Fatalf("derived item %d = %+v (undo state %s), from %+v", i, it, it.UndoState, o)
		}
	}
}

// itemsWith returns the items of job with one of statuses, in seq order.
func itemsWith(t testing.TB, s remediation.Store, jobID string, statuses ...remediation.ItemStatus) []*remediation.Item {
	t.Helper()
	all, _, err := s.ListItems(t.Context(), jobID, remediation.ItemFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []*remediation.Item
	for _, it := range all {
		for _, st := range statuses {
			if it.Status == st {
				out = append(out, it)
			}
		}
	}
	return out
}

var derivedTests = map[string]func(t *testing.T, s remediation.Store){
	"Retry": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		src := sourceJob(t, s, 10)
		req := derivedJob(src, false)
		req.CreatedAt = time.Date(2025, 7, 1, 2, 3, 4, 567891234, time.UTC)
		req.Reason, req.Actor, req.RequestedBy, req.Priority = "retry failures", "api-key:ops", "ops@contoso.com", "bulk"
		req.ConfirmAdminTargets, req.DryRun = true, true
		req.Context, req.Params = []byte(`{"ticket": "INC-2"}`), []byte(`{"x":1}`)
		got := mustDerive(t, s, req, src.ID, remediation.ItemFailed)
		want := itemsWith(t, s, src.ID, remediation.ItemFailed)
		listed, _, err := s.ListJobs(ctx, remediation.JobFilter{TenantID: "t1", Limit: 10})
		if err != nil || len(listed) != 2 {
			t.Fatalf("ListJobs = %d jobs, %v", len(listed), err)
		}
		var fromList *remediation.Job
		for _, j := range listed {
			if j.ID == req.ID {
				fromList = j
			}
		}
		for _, j := range []*remediation.Job{got, mustGetJob(t, s, req.ID), fromList} {
			if j == nil || j.ID != req.ID || j.TenantID != "t1" || j.Action != src.Action || j.Status != remediation.JobQueued ||
				j.RetryOf != src.ID || j.UndoOf != "" || j.Total != len(want) || j.Reason != req.Reason ||
				j.Actor != req.Actor || j.RequestedBy != req.RequestedBy || j.Priority != "bulk" || !j.DryRun ||
				!j.ConfirmAdminTargets || string(j.Context) != string(req.Context) || string(j.Params) != string(req.Params) ||
				!sameTime(j.CreatedAt, req.CreatedAt) || j.FanoutNext != 0 || j.StartedAt != nil || j.FinishedAt != nil {
				t.Fatalf("derived job = %+v, want %+v with %d items", j, req, len(want))
			}
			wantCounts(t, j, map[remediation.ItemStatus]int{remediation.ItemPending: len(want)})
		}
		wantDerivedItems(t, s, req.ID, want, func(*remediation.Item) string { return "" })
		// The source job is untouched.
		wantCounts(t, mustGetJob(t, s, src.ID), src.Counts)
	},
	"UndoCopiesPriorState": func(t *testing.T, s remediation.Store) {
		src := sourceJob(t, s, 9)
		req := derivedJob(src, true)
		got := mustDerive(t, s, req, src.ID, remediation.ItemSucceeded, remediation.ItemSkipped)
		want := itemsWith(t, s, src.ID, remediation.ItemSucceeded, remediation.ItemSkipped)
		if got.UndoOf != src.ID || got.RetryOf != "" || got.Total != 6 || len(want) != 6 {
			t.Fatalf("undo job = %+v, want UndoOf %s and 6 items", got, src.ID)
		}
		wantDerivedItems(t, s, req.ID, want, func(o *remediation.Item) string { return string(o.PriorState) })
		it, err := s.GetItemBySeq(t.Context(), req.ID, 1)
		if err != nil || string(it.UndoState) != priorOf(2) {
			t.Fatalf("GetItemBySeq(1) = %+v, %v; want undo state %s", it, err, priorOf(2))
		}
	},
	"RetryOfUndoKeepsUndoState": func(t *testing.T, s remediation.Store) {
		src := sourceJob(t, s, 4)
		undo := mustDerive(t, s, derivedJob(src, true), src.ID, remediation.ItemSucceeded, remediation.ItemFailed)
		// The undo of source items 0, 1, 3: item 1 (source seq 1) fails.
		finish(t, s, undo.ID, 0, remediation.ItemSucceeded)
		mustTransition(t, s, remediation.Transition{JobID: undo.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning,
			PriorState: []byte(`{"state":"before undo"}`)})
		mustTransition(t, s, remediation.Transition{JobID: undo.ID, Seq: 1, From: fromRunning, To: remediation.ItemFailed})
		retry := derivedJob(undo, false)
		retry.UndoOf = src.ID // still an undo of the source
		got := mustDerive(t, s, retry, undo.ID, remediation.ItemFailed)
		if got.Total != 1 || got.UndoOf != src.ID || got.RetryOf != undo.ID {
			t.Fatalf("retry of undo = %+v", got)
		}
		wantDerivedItems(t, s, retry.ID, itemsWith(t, s, undo.ID, remediation.ItemFailed),
			func(*remediation.Item) string { return priorOf(1) })
	},
	"NoneQualifies": func(t *testing.T, s remediation.Store) {
		src := sourceJob(t, s, 2) // succeeded, failed
		req := derivedJob(src, false)
		_, err := s.CreateDerivedJob(t.Context(), req, src.ID, []remediation.ItemStatus{remediation.ItemCanceled, remediation.ItemRetrying})
		wantCode(t, err, remediation.EUNPROCESSABLE)
		_, err = s.CreateDerivedJob(t.Context(), req, src.ID, nil)
		wantCode(t, err, remediation.EUNPROCESSABLE)
		_, err = s.GetJob(t.Context(), req.ID)
		wantCode(t, err, remediation.ENOTFOUND)
		// The refused job left nothing behind: its id is still free.
		mustDerive(t, s, req, src.ID, remediation.ItemFailed)
	},
	"UnknownSource": func(t *testing.T, s remediation.Store) {
		mustTenant(t, s, "t1")
		req := newJob("t1", remediation.ActionDisableUser)
		req.RetryOf = uuid.NewString()
		_, err := s.CreateDerivedJob(t.Context(), req, req.RetryOf, []remediation.ItemStatus{remediation.ItemFailed})
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"PendingAndCanceled": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		src := mustJob(t, s, "t1", 5)
		finish(t, s, src.ID, 0, remediation.ItemFailed)
		mustTransition(t, s, remediation.Transition{JobID: src.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning})
		if _, err := s.CancelJob(ctx, src.ID); err != nil {
			t.Fatal(err)
		}
		got := mustDerive(t, s, derivedJob(src, false), src.ID, remediation.ItemCanceled, remediation.ItemFailed)
		if got.Total != 4 {
			t.Fatalf("Total = %d, want 4 (items 0, 2, 3, 4)", got.Total)
		}
		wantDerivedItems(t, s, got.ID, itemsWith(t, s, src.ID, remediation.ItemCanceled, remediation.ItemFailed),
			func(*remediation.Item) string { return "" })
	},
	"DerivedJobRuns": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		src := sourceJob(t, s, 6)
		got := mustDerive(t, s, derivedJob(src, false), src.ID, remediation.ItemFailed)
		ids, err := s.JobsNeedingFanout(ctx, 10)
		if err != nil || len(ids) != 1 || ids[0] != got.ID {
			t.Fatalf("JobsNeedingFanout = %v, %v; want [%s]", ids, err, got.ID)
		}
		if err := s.AdvanceFanout(ctx, got.ID, got.Total); err != nil {
			t.Fatal(err)
		}
		for seq := range got.Total {
			finish(t, s, got.ID, seq, remediation.ItemSucceeded)
		}
		done := mustGetJob(t, s, got.ID)
		if done.Status != remediation.JobCompleted {
			t.Fatalf("status = %s, want completed", done.Status)
		}
		wantCounts(t, done, map[remediation.ItemStatus]int{remediation.ItemSucceeded: 2})
		outs, _, err := s.History(ctx, remediation.HistoryFilter{Identity: identities("u", 6)[4]})
		if err != nil || len(outs) != 2 || outs[0].JobID != got.ID || outs[0].Status != remediation.ItemSucceeded {
			t.Fatalf("History of u000004 = %+v, %v; want the retry's success first", outs, err)
		}
	},
	"Idempotency": func(t *testing.T, s remediation.Store) {
		src := sourceJob(t, s, 3)
		first := derivedJob(src, false)
		first.IdempotencyKey, first.RequestHash = "retry-key", "h1"
		mustDerive(t, s, first, src.ID, remediation.ItemFailed)
		again := derivedJob(src, false)
		again.IdempotencyKey, again.RequestHash = "retry-key", "h1"
		got := mustDerive(t, s, again, src.ID, remediation.ItemFailed)
		if got.ID != first.ID {
			t.Fatalf("replay returned job %s, want %s", got.ID, first.ID)
		}
		_, err := s.GetJob(t.Context(), again.ID)
		wantCode(t, err, remediation.ENOTFOUND)
		other := derivedJob(src, false)
		other.IdempotencyKey, other.RequestHash = "retry-key", "h2"
		_, err = s.CreateDerivedJob(t.Context(), other, src.ID, []remediation.ItemStatus{remediation.ItemFailed})
		wantCode(t, err, remediation.ECONFLICT)
	},
	"NotDerivedFromSource": func(t *testing.T, s remediation.Store) {
		src := sourceJob(t, s, 2)
		req := newJob("t1", src.Action) // neither UndoOf nor RetryOf
		_, err := s.CreateDerivedJob(t.Context(), req, src.ID, []remediation.ItemStatus{remediation.ItemFailed})
		wantCode(t, err, remediation.EINVALID)
		mustTenant(t, s, "t2")
		req = derivedJob(src, false)
		req.TenantID = "t2"
		_, err = s.CreateDerivedJob(t.Context(), req, src.ID, []remediation.ItemStatus{remediation.ItemFailed})
		wantCode(t, err, remediation.EINVALID)
	},
	"LargeDerivedJob": largeDerivedJob,
}

// largeDerivedJob derives a job of 100,000 items and checks that GetJob
// does not depend on the job's size (counts come from counters).
func largeDerivedJob(t *testing.T, s remediation.Store) {
	ctx := t.Context()
	const n = 100_000
	src := mustJob(t, s, "t1", n)
	finish(t, s, src.ID, 7, remediation.ItemSucceeded)
	start := time.Now()
	got := mustDerive(t, s, derivedJob(src, true), src.ID, remediation.ItemPending)
	t.Logf("CreateDerivedJob of %d items took %v", n-1, time.Since(start))
	if got.Total != n-1 {
		t.Fatalf("Total = %d, want %d", got.Total, n-1)
	}
	wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemPending: n - 1})
	for _, seq := range []int{0, 6, 7, n - 2} {
		it, err := s.GetItemBySeq(ctx, got.ID, seq)
		srcSeq := seq
		if seq >= 7 {
			srcSeq++ // source item 7 succeeded and was left out
		}
		if err != nil || it.Identity != fmt.Sprintf("u%06d@contoso.com", srcSeq) {
			t.Fatalf("item %d = %+v, %v; want source item %d", seq, it, err, srcSeq)
		}
	}
	small := mustDerive(t, s, derivedJob(src, false), src.ID, remediation.ItemSucceeded)
	// Best of 20: counting 100,000 items takes milliseconds, reading the
	// counters far less than one.
	best := func(id string) time.Duration {
		b := time.Hour
		for range 20 {
			t0 := time.Now()
			mustGetJob(t, s, id)
			b = min(b, time.Since(t0))
		}
		return b
	}
	bigT, smallT := best(got.ID), best(small.ID)
	t.Logf("GetJob: %v for %d items, %v for 1", bigT, n-1, smallT)
	if bigT > 3*smallT+time.Millisecond {
		t.Fatalf("GetJob of a %d-item job took %v, of a 1-item job %v: it must not count items", n-1, bigT, smallT)
	}
}
