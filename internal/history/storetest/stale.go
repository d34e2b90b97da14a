package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// StaleStore is a store that finds items whose task may be lost
// (remediation.StaleItemStore).
type StaleStore interface {
	remediation.Store
	remediation.StaleItemStore
}

// RunStale runs the contract suite of remediation.StaleItemStore. open
// must return a new, empty store for each call; it is called once per
// subtest.
func RunStale(t *testing.T, open func(t *testing.T) StaleStore) {
	runGroup(t, "StaleItems", staleTests, open)
}

// staleJob creates a job of n identities for tenant, created an hour ago,
// with its fan-out cursor at fanned.
func staleJob(t testing.TB, s StaleStore, tenant string, n, fanned int) *remediation.Job {
	t.Helper()
	if _, err := s.GetTenant(t.Context(), tenant); remediation.ErrorCode(err) == remediation.ENOTFOUND {
		mustTenant(t, s, tenant)
	}
	j := newJob(tenant, remediation.ActionDisableUser)
	j.CreatedAt = time.Now().Add(-time.Hour).UTC()
	j = mustCreate(t, s, j, identities("s", n))
	if fanned > 0 {
		if err := s.AdvanceFanout(t.Context(), j.ID, fanned); err != nil {
			t.Fatalf("AdvanceFanout(%s, %d): %v", j.ID, fanned, err)
		}
	}
	return j
}

// staleKeys returns "job/seq" of items, in order.
func staleKeys(items []*remediation.Item) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = fmt.Sprintf("%s/%d", it.JobID, it.Seq)
	}
	return keys
}

func keysOf(job *remediation.Job, seqs ...int) []string {
	keys := make([]string, len(seqs))
	for i, seq := range seqs {
		keys[i] = fmt.Sprintf("%s/%d", job.ID, seq)
	}
	return keys
}

// mustStale returns one page of StaleItems.
func mustStale(t testing.TB, s StaleStore, olderThan time.Time, after remediation.StaleCursor, limit int) ([]*remediation.Item, remediation.StaleCursor) {
	t.Helper()
	items, next, err := s.StaleItems(t.Context(), olderThan, after, limit)
	if err != nil {
		t.Fatalf("StaleItems(%v, %d): %v", after, limit, err)
	}
	return items, next
}

// allStale follows cursors to the end of a scan with pages of limit.
func allStale(t testing.TB, s StaleStore, olderThan time.Time, limit int) []string {
	t.Helper()
	var (
		keys []string
		c    remediation.StaleCursor
	)
	for range 1000 {
		items, next := mustStale(t, s, olderThan, c, limit)
		if len(items) > limit {
			t.Fatalf("StaleItems returned %d items, limit %d", len(items), limit)
		}
		keys = append(keys, staleKeys(items)...)
		if next.IsZero() {
			return keys
		}
		c = next
	}
	t.Fatal("StaleItems never ended its scan")
	return nil
}

// clockTick makes sure the store's clock moved past the time returned
// (times are stored in microseconds).
func clockTick() time.Time {
	time.Sleep(3 * time.Millisecond)
	at := time.Now()
	time.Sleep(3 * time.Millisecond)
	return at
}

var staleTests = map[string]func(t *testing.T, s StaleStore){
	"OpenEnqueuedItemsOnly": func(t *testing.T, s StaleStore) {
		ctx := t.Context()
		j := staleJob(t, s, "t1", 7, 6)
		future := time.Now().Add(time.Hour)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning, CountAttempt: true})
		finish(t, s, j.ID, 2, remediation.ItemSucceeded)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 3, From: fromPending, To: remediation.ItemRetrying})
		// An enforce item waiting for its policy flush is not stale.
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 4, From: fromPending, To: remediation.ItemRunning})
		mustAddRequest(t, s, policyRequest("t1", remediation.PolicyMFA, j.ID, 4, time.Now()))
		finish(t, s, j.ID, 5, remediation.ItemFailed)
		// Seq 6 was never enqueued (fan-out cursor 6).
		items, next := mustStale(t, s, future, remediation.StaleCursor{}, 100)
		if got, want := staleKeys(items), keysOf(j, 0, 1, 3); !slices.Equal(got, want) {
			t.Fatalf("stale = %v, want %v", got, want)
		}
		if !next.IsZero() {
			t.Errorf("next = %+v, want the end of the scan", next)
		}
		for _, it := range items {
			if it.TenantID != "t1" || it.Action != remediation.ActionDisableUser || it.Identity == "" {
				t.Errorf("item %d = %+v, want its tenant, action and identity", it.Seq, it)
			}
		}
		if items[1].Status != remediation.ItemRunning || items[1].Attempts != 1 || items[2].Status != remediation.ItemRetrying {
			t.Errorf("statuses = %s (attempts %d), %s", items[1].Status, items[1].Attempts, items[2].Status)
		}
		// Handled request gone: the running item is stale again.
		if err := s.DeletePolicyRequests(ctx, []remediation.PolicyRequest{{JobID: j.ID, Seq: 4}}); err != nil {
			t.Fatal(err)
		}
		if got, want := allStale(t, s, future, 100), keysOf(j, 0, 1, 3, 4); !slices.Equal(got, want) {
			t.Fatalf("stale after the request = %v, want %v", got, want)
		}
		// Nothing is older than an hour ago.
		if got := allStale(t, s, time.Now().Add(-2*time.Hour), 100); len(got) != 0 {
			t.Fatalf("stale an hour ago = %v, want none", got)
		}
	},
	"ProgressMakesAJobFresh": func(t *testing.T, s StaleStore) {
		idle := staleJob(t, s, "t1", 3, 3)
		moving := staleJob(t, s, "t1", 3, 0)
		waiting := staleJob(t, s, "t1", 3, 3)
		mustTransition(t, s, remediation.Transition{JobID: waiting.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
		mustTransition(t, s, remediation.Transition{JobID: waiting.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning})
		mark := clockTick()
		// After mark: a fan-out page of one job, an item of another that
		// only saves its prior state (no status change, no progress).
		if err := s.AdvanceFanout(t.Context(), moving.ID, 3); err != nil {
			t.Fatal(err)
		}
		mustTransition(t, s, remediation.Transition{JobID: waiting.ID, Seq: 1, From: fromRunning, To: remediation.ItemRunning,
			PriorState: []byte(`{"account_enabled":true}`)})
		got := allStale(t, s, mark, 100)
		want := append(keysOf(idle, 0, 1, 2), keysOf(waiting, 0, 2)...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("stale before mark = %v, want %v", got, want)
		}
		// A status change after mark2 makes the whole job fresh; what
		// happened between mark and mark2 is stale by mark2.
		mark2 := clockTick()
		finish(t, s, idle.ID, 2, remediation.ItemSucceeded)
		got = allStale(t, s, mark2, 100)
		want = append(keysOf(moving, 0, 1, 2), keysOf(waiting, 0, 1, 2)...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("stale before mark2 = %v, want %v", got, want)
		}
		if got, want := len(allStale(t, s, time.Now().Add(time.Hour), 100)), 2+3+3; got != want {
			t.Fatalf("%d stale items now, want %d", got, want)
		}
	},
	"FinishedAndCanceledJobs": func(t *testing.T, s StaleStore) {
		ctx := t.Context()
		done := staleJob(t, s, "t1", 1, 1)
		finish(t, s, done.ID, 0, remediation.ItemSucceeded)
		canceled := staleJob(t, s, "t1", 2, 2)
		if _, err := s.CancelJob(ctx, canceled.ID); err != nil {
			t.Fatal(err)
		}
		// Being canceled, with a running item whose task was lost: the
		// re-run cancels the item, so it is stale too.
		canceling := staleJob(t, s, "t1", 3, 1)
		mustTransition(t, s, remediation.Transition{JobID: canceling.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
		if j, err := s.CancelJob(ctx, canceling.ID); err != nil || j.Status != remediation.JobRunning || !j.CancelRequested {
			t.Fatalf("CancelJob = %+v, %v; want running with a cancel requested", j, err)
		}
		if got, want := allStale(t, s, time.Now().Add(time.Hour), 100), keysOf(canceling, 0); !slices.Equal(got, want) {
			t.Fatalf("stale = %v, want %v", got, want)
		}
	},
	"LargeJob": func(t *testing.T, s StaleStore) {
		// More items than one query window of an implementation may read.
		const n = 12_001
		j := staleJob(t, s, "t1", n, n)
		finish(t, s, j.ID, 4999, remediation.ItemSucceeded)
		future := time.Now().Add(time.Hour)
		for _, limit := range []int{1000, 7000} {
			got := allStale(t, s, future, limit)
			if len(got) != n-1 || got[0] != keysOf(j, 0)[0] || got[4999] != keysOf(j, 5000)[0] || got[n-2] != keysOf(j, n-1)[0] {
				t.Fatalf("limit %d: %d stale items (first %v), want %d in seq order without seq 4999", limit, len(got), got[:min(3, len(got))], n-1)
			}
		}
	},
	"Cursor": func(t *testing.T, s StaleStore) {
		jobs := []*remediation.Job{staleJob(t, s, "t1", 25, 25), staleJob(t, s, "t2", 4, 4), staleJob(t, s, "t1", 1, 1)}
		slices.SortFunc(jobs, func(a, b *remediation.Job) int { return strings.Compare(a.ID, b.ID) })
		var want []string
		for _, j := range jobs {
			seqs := make([]int, j.Total)
			for i := range seqs {
				seqs[i] = i
			}
			want = append(want, keysOf(j, seqs...)...)
		}
		future := time.Now().Add(time.Hour)
		for _, limit := range []int{1, 7, 25, 30, 1000} {
			if got := allStale(t, s, future, limit); !slices.Equal(got, want) {
				t.Fatalf("limit %d: stale = %v, want %v", limit, got, want)
			}
		}
		// A full page ends at its last item.
		items, next := mustStale(t, s, future, remediation.StaleCursor{}, 25)
		if len(items) != 25 || next != (remediation.StaleCursor{JobID: items[24].JobID, Seq: items[24].Seq}) {
			t.Fatalf("page of 25: %d items, next %+v", len(items), next)
		}
		// The cursor's job finished meanwhile: the scan goes on after it.
		first := jobs[0]
		for seq := range first.Total {
			finish(t, s, first.ID, seq, remediation.ItemSucceeded)
		}
		items, _ = mustStale(t, s, future, remediation.StaleCursor{JobID: first.ID, Seq: 0}, 1000)
		if got := staleKeys(items); !slices.Equal(got, want[first.Total:]) {
			t.Fatalf("after a finished job = %v, want %v", got, want[first.Total:])
		}
		// An unknown job id in the cursor is only a position.
		unknown := uuid.NewString()
		var after []string
		for _, k := range want[first.Total:] {
			if k > unknown+"/" {
				after = append(after, k)
			}
		}
		if items, _ := mustStale(t, s, future, remediation.StaleCursor{JobID: unknown, Seq: 3}, 1000); !slices.Equal(staleKeys(items), after) {
			t.Fatalf("after unknown job %s = %v, want %v", unknown, staleKeys(items), after)
		}
		if items, _ := mustStale(t, s, future, remediation.StaleCursor{}, 0); len(items) != len(want)-first.Total {
			t.Fatalf("default limit: %d items, want %d", len(items), len(want)-first.Total)
		}
	},
}
