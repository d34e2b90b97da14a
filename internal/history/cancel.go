package history

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entraremediator/remediator/internal/remediation"
)

// CancelJob requests the cancellation of a job. In one transaction it sets
// CancelRequested, which from its commit on refuses every start of an
// item of the job (applyJob turns it into a cancel), cancels the pending
// and retrying items of the first remediation.CancelWindow seqs (recording their
// outcomes), and, when no item is left open, completes the job as
// canceled. A larger job keeps pending items: CancelPending cancels them,
// a window at a time (the worker's fan-out does; see
// remediation.Store.CancelJob). Running items finish; the job is then
// canceled by the transition of its last item. Canceling a finished job
// changes nothing. It returns the job as stored. ENOTFOUND.
func (s *Store) CancelJob(ctx context.Context, jobID string) (_ *remediation.Job, err error) {
	defer wrap(&err, "history.CancelJob(%s)", jobID)
	return s.cancelWindow(ctx, jobID, 0, true)
}

// CancelPending cancels the pending and retrying items of a job whose
// cancel was requested with seq in [from, from+remediation.CancelWindow), in one
// transaction, like CancelJob does for the first window, and returns the
// job as stored. It changes nothing for a job without a cancel request or
// already finished. ENOTFOUND.
func (s *Store) CancelPending(ctx context.Context, jobID string, from int) (_ *remediation.Job, err error) {
	defer wrap(&err, "history.CancelPending(%s, %d)", jobID, from)
	return s.cancelWindow(ctx, jobID, from, false)
}

// cancelWindow is CancelJob (request set) and CancelPending.
func (s *Store) cancelWindow(ctx context.Context, jobID string, from int, request bool) (*remediation.Job, error) {
	var job *remediation.Job
	err := s.transact(ctx, func(tx *sql.Tx) error {
		j, err := s.lockJob(ctx, tx, jobID)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "job %s not found", jobID)
		} else if err != nil {
			return err
		}
		finished := j.status == remediation.JobCompleted || j.status == remediation.JobCanceled
		if !finished && (request || j.cancelRequested) {
			if err := s.cancelItems(ctx, tx, jobID, j, from, from+remediation.CancelWindow); err != nil {
				return err
			}
		}
		job, err = getJob(ctx, tx, jobID, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// cancelItems sets the cancel request of a locked job, cancels its pending
// and retrying items with seq in [from, to) (their outcomes first, while
// the rows still hold their status), moves the counts by the rows changed
// and finishes the job when no item is left open.
func (s *Store) cancelItems(ctx context.Context, tx *sql.Tx, jobID string, j *lockedJob, from, to int) error {
	now := micros(s.now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO outcomes (job_id, seq, tenant_id, action, identity, status,
		detail, error_code, error_message, attempts, graph_request_id, reason, actor, requested_by, at)
		SELECT job_id, seq, $2, $3, identity, 'canceled', $4, error_code, error_message, attempts,
			graph_request_id, $5, $6, $7, $8
		FROM items WHERE job_id = $1 AND seq >= $9 AND seq < $10 AND status IN ('pending', 'retrying') ORDER BY seq`,
		jobID, j.tenantID, string(j.action), remediation.CanceledDetail, j.reason, j.actor, j.requestedBy, now, from, to); err != nil {
		return err
	}
	var changed [2]int64
	for i, status := range []remediation.ItemStatus{remediation.ItemPending, remediation.ItemRetrying} {
		res, err := tx.ExecContext(ctx, `UPDATE items SET status = 'canceled', detail = $2, updated_at = $3
			WHERE job_id = $1 AND seq >= $4 AND seq < $5 AND status = $6`, jobID, remediation.CanceledDetail, now, from, to, string(status))
		if err != nil {
			return err
		}
		if changed[i], err = res.RowsAffected(); err != nil {
			return err
		}
	}
	var open int
	if err := tx.QueryRowContext(ctx, `UPDATE jobs SET cancel_requested = TRUE, progress_at = $4,
		n_canceled = n_canceled + $2 + $3, n_pending = n_pending - $2, n_retrying = n_retrying - $3
		WHERE id = $1 RETURNING n_pending + n_running + n_retrying`, jobID, changed[0], changed[1], now).Scan(&open); err != nil {
		return err
	}
	if open == 0 {
		return s.finishJob(ctx, tx, jobID, true, now)
	}
	return nil
}
