package history

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entraremediator/remediator/internal/remediation"
)

// lockedJob is what a transition needs of the job whose row it locks.
type lockedJob struct {
	tenantID, reason, actor, requestedBy string
	action                               remediation.Action
	status                               remediation.JobStatus
	cancelRequested                      bool
}

// lockJob reads (and on PostgreSQL locks) a job row. Every writer of a
// job's items locks the job row first, so that they serialize per job and
// always take their locks in the same order.
func (s *Store) lockJob(ctx context.Context, tx *sql.Tx, jobID string) (*lockedJob, error) {
	var j lockedJob
	err := tx.QueryRowContext(ctx, `SELECT tenant_id, action, status, reason, actor, requested_by, cancel_requested
		FROM jobs WHERE id = $1`+s.d.forUpdate, jobID).
		Scan(&j.tenantID, &j.action, &j.status, &j.reason, &j.actor, &j.requestedBy, &j.cancelRequested)
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// TransitionItem applies tr if the item's status is one of tr.From
// (compare-and-set) and reports whether it did; the returned item is the
// current one either way. In the same transaction it moves one unit
// between the job's counters, sets the job running (and started_at) on the
// first item that runs, records an Outcome when the item enters a terminal
// status, and completes the job (completed, or canceled when a cancel was
// requested; finished_at) when no item is left pending, running or
// retrying. It also records the webhook deliveries of a failed item and of
// a finished job (outbox.go). Concurrent transitions share a transaction
// (group.go); an Urgent one shares it with urgent ones only. ENOTFOUND
// for an unknown item, EINVALID for an unknown status.
func (s *Store) TransitionItem(ctx context.Context, tr remediation.Transition) (item *remediation.Item, done bool, err error) {
	defer wrap(&err, "history.TransitionItem(%s, %d, %s)", tr.JobID, tr.Seq, tr.To)
	if _, ok := countColumn(tr.To); !ok {
		return nil, false, remediation.Errorf(remediation.EINVALID, "unknown item status %q", tr.To)
	}
	op := &groupOp{ctx: ctx, jobID: tr.JobID, seq: tr.Seq, tr: &tr, calls: tr.Calls, urgent: tr.Urgent}
	if err := s.inGroup(op); err != nil {
		return nil, false, err
	}
	return op.item, op.applied, nil
}

// finishJob marks a job whose items are all terminal completed (canceled
// when a cancel was requested) and sets finished_at, once; that once, it
// records the job.finished webhook deliveries (outbox.go).
func (s *Store) finishJob(ctx context.Context, tx *sql.Tx, jobID string, canceled bool, now int64) error {
	status := remediation.JobCompleted
	if canceled {
		status = remediation.JobCanceled
	}
	var tenantID string
	err := tx.QueryRowContext(ctx, `UPDATE jobs SET status = $2, finished_at = $3
		WHERE id = $1 AND finished_at IS NULL RETURNING tenant_id`, jobID, string(status), now).Scan(&tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // finished before
	} else if err != nil {
		return err
	}
	return s.outboxJobFinished(ctx, tx, jobID, tenantID, now)
}
