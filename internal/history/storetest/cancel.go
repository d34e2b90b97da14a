package storetest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// cancelTests cover the cancel of a job larger than one window
// (remediation.CancelWindow): what CancelJob does at once, what is left
// to CancelPending, and that no item starts after the request.
var cancelTests = map[string]func(t *testing.T, s remediation.Store){
	"InWindows": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		w := remediation.CancelWindow
		n := 2*w + 10
		j := mustJob(t, s, "t1", n)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning})
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: w + 3, From: fromPending, To: remediation.ItemRetrying})
		finish(t, s, j.ID, w+4, remediation.ItemSucceeded)

		got, err := s.CancelJob(ctx, j.ID)
		if err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		// The first window: all but the running item.
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemRunning: 1, remediation.ItemCanceled: w - 1,
			remediation.ItemPending: n - w - 2, remediation.ItemRetrying: 1, remediation.ItemSucceeded: 1})
		if !got.CancelRequested || got.Status != remediation.JobRunning {
			t.Fatalf("after CancelJob: %+v; want running with a cancel requested", got)
		}
		wantItemStatus(t, s, j.ID, w-1, remediation.ItemCanceled)
		wantItemStatus(t, s, j.ID, w, remediation.ItemPending)

		// A start of a pending or retrying item, from a worker that
		// has not seen the cancel yet, cancels it instead.
		for _, seq := range []int{w + 1, w + 3} {
			it, ok, err := s.TransitionItem(ctx, remediation.Transition{JobID: j.ID, Seq: seq, From: fromStartable,
				To: remediation.ItemRunning})
			if err != nil || ok || it.Status != remediation.ItemCanceled {
				t.Fatalf("start of item %d after the cancel = %+v, applied %v, %v; want not applied, canceled", seq, it, ok, err)
			}
		}
		got = mustGetJob(t, s, j.ID)
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemRunning: 1, remediation.ItemCanceled: w + 1,
			remediation.ItemPending: n - w - 3, remediation.ItemSucceeded: 1})

		// The other windows; a window again changes nothing.
		for _, from := range []int{w, w, 2 * w} {
			if got, err = s.CancelPending(ctx, j.ID, from); err != nil {
				t.Fatalf("CancelPending(%d): %v", from, err)
			}
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemRunning: 1, remediation.ItemCanceled: n - 2,
			remediation.ItemSucceeded: 1})
		if got.Status != remediation.JobRunning {
			t.Fatalf("status %s with an item running; want running", got.Status)
		}
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromRunning, To: remediation.ItemSucceeded})
		got = mustGetJob(t, s, j.ID)
		if got.Status != remediation.JobCanceled || got.FinishedAt == nil {
			t.Fatalf("after the running item: %s finished %v; want canceled", got.Status, got.FinishedAt)
		}
		outs, _, err := s.History(ctx, remediation.HistoryFilter{Status: remediation.ItemCanceled, Limit: 1000})
		if err != nil || len(outs) != 1000 {
			t.Fatalf("canceled outcomes = %d, %v; want a full page", len(outs), err)
		}
		total := 0
		for cursor := ""; ; {
			page, next, err := s.History(ctx, remediation.HistoryFilter{Status: remediation.ItemCanceled, Limit: 1000, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			total += len(page)
			if next == "" {
				break
			}
			cursor = next
		}
		if total != n-2 {
			t.Fatalf("%d canceled outcomes, want one per canceled item (%d)", total, n-2)
		}
	},
	"PendingWithoutRequest": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 3)
		got, err := s.CancelPending(ctx, j.ID, 0)
		if err != nil || got.CancelRequested || got.Status != remediation.JobQueued {
			t.Fatalf("CancelPending without a cancel request = %+v, %v; want nothing changed", got, err)
		}
		wantCounts(t, got, map[remediation.ItemStatus]int{remediation.ItemPending: 3})
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
		_, err = s.CancelPending(ctx, uuid.NewString(), 0)
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"FanoutCancelsLeftovers": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		w := remediation.CancelWindow
		small := mustJob(t, s, "t1", 3)
		big := mustJob(t, s, "t1", w+1)
		for _, j := range []*remediation.Job{small, big} {
			if err := s.AdvanceFanout(ctx, j.ID, j.Total); err != nil {
				t.Fatal(err)
			}
			mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
			if _, err := s.CancelJob(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		// The small job only waits for its running item; the big one has
		// items to cancel: its fan-out task has work.
		ids, err := s.JobsNeedingFanout(ctx, 10)
		if err != nil || len(ids) != 1 || ids[0] != big.ID {
			t.Fatalf("JobsNeedingFanout = %v, %v; want [%s]", ids, err, big.ID)
		}
		if _, err := s.CancelPending(ctx, big.ID, w); err != nil {
			t.Fatal(err)
		}
		if ids, err := s.JobsNeedingFanout(ctx, 10); err != nil || len(ids) != 0 {
			t.Fatalf("JobsNeedingFanout after the last window = %v, %v; want none", ids, err)
		}
	},
}

// wantItemStatus fails unless item seq of job has status want.
func wantItemStatus(t testing.TB, s remediation.Store, jobID string, seq int, want remediation.ItemStatus) {
	t.Helper()
	it, err := s.GetItemBySeq(t.Context(), jobID, seq)
	if err != nil || it.Status != want {
		t.Fatalf("item %d = %+v, %v; want %s", seq, it, err, want)
	}
}
