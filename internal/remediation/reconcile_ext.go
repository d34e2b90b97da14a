package remediation

import (
	"context"
	"time"
)

// StaleCursor is the position of a StaleItems scan: the job id and seq of
// the last item returned. The zero value starts a scan; a zero next
// cursor means the scan is complete.
type StaleCursor struct {
	JobID string
	Seq   int
}

// IsZero reports whether c is the start (or the end) of a scan.
func (c StaleCursor) IsZero() bool { return c.JobID == "" }

// StaleItemStore finds the items whose task may be lost (Redis flushed,
// failed over or restarted without its data), so that the reconciler
// enqueues their tasks again. Implemented by internal/history.
type StaleItemStore interface {
	// StaleItems returns up to limit items, in (job id, seq) order after
	// the cursor after, that are pending, retrying or running, were last
	// updated before olderThan, were already enqueued by the fan-out (seq
	// below the job's fan-out cursor) and have no pending policy request
	// (an enforce item waits in running for its policy flush by design).
	// Only jobs that are queued or running and made no progress (no item
	// changed status, no fan-out page was recorded) since olderThan are
	// considered. next is the cursor of the following page, zero when the
	// scan is complete. Items carry their job's TenantID and Action.
	StaleItems(ctx context.Context, olderThan time.Time, after StaleCursor, limit int) (items []*Item, next StaleCursor, err error)
}
