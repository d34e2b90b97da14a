package history

import (
	"context"
	"database/sql"
	"errors"

	"github.com/entraremediator/remediator/internal/remediation"
)

// CanceledDetail is the detail of items canceled by CancelJob.
const CanceledDetail = "Canceled before it ran."

// CancelJob requests the cancellation of a job: it sets CancelRequested,
// cancels every pending and retrying item in bulk (recording their
// outcomes) and, when no item is running, completes the job as canceled. Running items finish; the job is
// then canceled by the transition of its last item. Canceling a finished
// job changes nothing. It returns the job as stored. ENOTFOUND.
func (s *Store) CancelJob(ctx context.Context, jobID string) (_ *remediation.Job, err error) {
	defer wrap(&err, "history.CancelJob(%s)", jobID)
	var job *remediation.Job
	err = s.transact(ctx, func(tx *sql.Tx) error {
		j, err := s.lockJob(ctx, tx, jobID)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "job %s not found", jobID)
		} else if err != nil {
			return err
		}
		if j.status == remediation.JobCompleted || j.status == remediation.JobCanceled {
			job, err = getJob(ctx, tx, jobID, "")
			return err
		}
		now := micros(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO outcomes (job_id, seq, tenant_id, action, identity, status,
			detail, error_code, error_message, attempts, graph_request_id, reason, actor, requested_by, at)
			SELECT job_id, seq, $2, $3, identity, 'canceled', $4, error_code, error_message, attempts,
				graph_request_id, $5, $6, $7, $8
			FROM items WHERE job_id = $1 AND status IN ('pending', 'retrying') ORDER BY seq`,
			jobID, j.tenantID, string(j.action), CanceledDetail, j.reason, j.actor, j.requestedBy, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE items SET status = 'canceled', detail = $2, updated_at = $3
			WHERE job_id = $1 AND status IN ('pending', 'retrying')`, jobID, CanceledDetail, now); err != nil {
			return err
		}
		var running int
		if err := tx.QueryRowContext(ctx, `UPDATE jobs SET cancel_requested = TRUE,
			n_canceled = n_canceled + n_pending + n_retrying, n_pending = 0, n_retrying = 0
			WHERE id = $1 RETURNING n_running`, jobID).Scan(&running); err != nil {
			return err
		}
		if running == 0 {
			if err := s.finishJob(ctx, tx, jobID, true, now); err != nil {
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
