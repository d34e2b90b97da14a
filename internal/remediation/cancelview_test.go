package remediation

import (
	"maps"
	"slices"
	"testing"
)

func TestCancelView(t *testing.T) {
	counts := map[ItemStatus]int{ItemPending: 5, ItemRunning: 2, ItemRetrying: 1, ItemSucceeded: 3, ItemCanceled: 4}
	j := &Job{Status: JobRunning, Total: 15, Counts: counts, CancelRequested: true}
	retrying := &Item{Status: ItemRetrying, Detail: "Throttled.", Error: &ItemError{Code: "TooManyRequests"}}

	if !j.Canceling() {
		t.Fatal("a running job with a cancel request is not Canceling")
	}
	seen := j.SeenCounts()
	want := map[ItemStatus]int{ItemPending: 0, ItemRunning: 2, ItemRetrying: 0, ItemSucceeded: 3, ItemSkipped: 0, ItemFailed: 0, ItemCanceled: 10}
	if !maps.Equal(seen, want) {
		t.Errorf("SeenCounts = %v, want %v", seen, want)
	}
	if counts[ItemPending] != 5 || counts[ItemCanceled] != 4 {
		t.Errorf("SeenCounts changed the job's counts: %v", counts)
	}
	it := j.SeenItem(retrying)
	if it.Status != ItemCanceled || it.Detail != CanceledDetail || it.Error == nil || retrying.Status != ItemRetrying {
		t.Errorf("SeenItem(retrying) = %+v (original %+v)", it, retrying)
	}
	running := &Item{Status: ItemRunning}
	if j.SeenItem(running) != running {
		t.Error("SeenItem changed a running item")
	}
	for st, want := range map[ItemStatus][]ItemStatus{
		ItemCanceled:  {ItemCanceled, ItemPending, ItemRetrying},
		ItemPending:   nil,
		ItemRetrying:  nil,
		ItemRunning:   {ItemRunning},
		ItemSucceeded: {ItemSucceeded},
	} {
		if got := j.SeenStatuses(st); !slices.Equal(got, want) || (want == nil) != (got == nil) {
			t.Errorf("SeenStatuses(%s) = %v, want %v", st, got, want)
		}
	}

	// Without a cancel request, or once finished, readers see the rows.
	for _, j := range []*Job{
		{Status: JobRunning, Counts: counts},
		{Status: JobCanceled, Counts: counts, CancelRequested: true},
		{Status: JobCompleted, Counts: counts, CancelRequested: true},
	} {
		if j.Canceling() || !maps.Equal(j.SeenCounts(), withZeros(counts)) || j.SeenItem(retrying) != retrying ||
			!slices.Equal(j.SeenStatuses(ItemPending), []ItemStatus{ItemPending}) {
			t.Errorf("job %s (cancel requested %v) is seen as canceling", j.Status, j.CancelRequested)
		}
	}
}

func withZeros(c map[ItemStatus]int) map[ItemStatus]int {
	out := map[ItemStatus]int{}
	for _, st := range ItemStatuses {
		out[st] = c[st]
	}
	return out
}
