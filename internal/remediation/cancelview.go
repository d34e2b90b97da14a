package remediation

// How readers see a job being canceled.
//
// A cancel commits the job's cancel request first. From that commit on no
// item of the job starts: the store turns every start into a cancel. So an
// item not started yet (pending, or retrying and waiting for its next
// attempt) is canceled from that moment on, even while its row still says
// otherwise. The rows of a large job are rewritten a window at a time
// (Store.CancelPending), which takes seconds for 100,000 items. Readers
// (the API, its event stream) do not wait for that: they show such an item
// canceled at once, with CanceledDetail, and count it so. The rows and the
// per-identity outcome history catch up behind them, and end as shown.
// Running items are shown running and finish.

// Canceling reports whether j's cancel was requested and j has not
// finished: its items not started are canceled, whatever their rows say.
func (j *Job) Canceling() bool {
	return j.CancelRequested && j.Status != JobCompleted && j.Status != JobCanceled
}

// SeenCounts returns j's item counts as readers see them: while j is
// Canceling, its pending and retrying items count as canceled. The sum
// stays j.Total.
func (j *Job) SeenCounts() map[ItemStatus]int {
	counts := make(map[ItemStatus]int, len(ItemStatuses))
	for _, st := range ItemStatuses {
		counts[st] = j.Counts[st]
	}
	if j.Canceling() {
		counts[ItemCanceled] += counts[ItemPending] + counts[ItemRetrying]
		counts[ItemPending], counts[ItemRetrying] = 0, 0
	}
	return counts
}

// notStarted reports whether a canceling job's item in status st is
// canceled for its readers.
func notStarted(st ItemStatus) bool { return st == ItemPending || st == ItemRetrying }

// SeenItem returns it as readers see it, it being an item of j: while j is
// Canceling, an item not started is canceled with CanceledDetail (its last
// error kept, as the store keeps it). It returns it itself otherwise, and
// a copy when it changes it.
func (j *Job) SeenItem(it *Item) *Item {
	if !j.Canceling() || !notStarted(it.Status) {
		return it
	}
	c := *it
	c.Status, c.Detail = ItemCanceled, CanceledDetail
	return &c
}

// SeenStatuses returns the stored statuses of j's items that a reader's
// filter on status st matches: while j is Canceling, "canceled" matches
// the items not started too, and "pending" and "retrying" match nothing
// (nil). Otherwise it is st alone.
func (j *Job) SeenStatuses(st ItemStatus) []ItemStatus {
	if !j.Canceling() {
		return []ItemStatus{st}
	}
	switch {
	case st == ItemCanceled:
		return []ItemStatus{ItemCanceled, ItemPending, ItemRetrying}
	case notStarted(st):
		return nil
	}
	return []ItemStatus{st}
}
