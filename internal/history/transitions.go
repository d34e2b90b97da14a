package history

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

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
// (group.go). ENOTFOUND for an unknown item, EINVALID for an unknown
// status.
func (s *Store) TransitionItem(ctx context.Context, tr remediation.Transition) (item *remediation.Item, done bool, err error) {
	defer wrap(&err, "history.TransitionItem(%s, %d, %s)", tr.JobID, tr.Seq, tr.To)
	toCol, ok := countColumn(tr.To)
	if !ok {
		return nil, false, remediation.Errorf(remediation.EINVALID, "unknown item status %q", tr.To)
	}
	err = s.inGroup(ctx, tr.JobID, func(ctx context.Context, tx *sql.Tx, g *group) error {
		item, done = nil, false
		job := g.jobs[tr.JobID]
		if job == nil {
			return remediation.Errorf(remediation.ENOTFOUND, "item %d not found in job %s", tr.Seq, tr.JobID)
		}
		var from remediation.ItemStatus
		err := tx.QueryRowContext(ctx, `SELECT status FROM items WHERE job_id = $1 AND seq = $2`+s.d.forUpdate,
			tr.JobID, tr.Seq).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "item %d not found in job %s", tr.Seq, tr.JobID)
		} else if err != nil {
			return err
		}
		if !slices.Contains(tr.From, from) {
			item, err = scanItem(tx.QueryRowContext(ctx, `SELECT `+itemCols("")+` FROM items
				WHERE job_id = $1 AND seq = $2`, tr.JobID, tr.Seq))
			if item != nil {
				item.TenantID, item.Action = job.tenantID, job.action
			}
			return err
		}
		q, a := updateItemSQL(tr, g.now)
		item, err = scanItem(tx.QueryRowContext(ctx, q, a...))
		if err != nil {
			return err
		}
		item.TenantID, item.Action = job.tenantID, job.action
		if err := insertCalls(ctx, tx, tr.JobID, tr.Seq, tr.Calls, item.Attempts, s.now()); err != nil {
			return err
		}
		done = true
		if from == tr.To {
			return nil
		}
		fromCol, ok := countColumn(from)
		if !ok {
			return errors.New("item has unknown status " + string(from))
		}
		g.move(tr.JobID, fromCol, toCol, tr.To == remediation.ItemRunning)
		if tr.To.Terminal() {
			if err := insertOutcome(ctx, tx, job, item, g.now); err != nil {
				return err
			}
		}
		if tr.To == remediation.ItemFailed {
			return s.outboxItemFailed(ctx, tx, job, item, g.now)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return item, done, nil
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

// updateItemSQL builds the UPDATE of a transition: status and updated_at
// always, the other fields only when set.
func updateItemSQL(tr remediation.Transition, now int64) (string, []any) {
	a := args{tr.JobID, tr.Seq}
	set := []string{"status = " + a.add(string(tr.To)), "updated_at = " + a.add(now)}
	if tr.Detail != "" {
		set = append(set, "detail = "+a.add(tr.Detail))
	}
	switch {
	case tr.Error != nil:
		set = append(set, "error_code = "+a.add(tr.Error.Code), "error_message = "+a.add(tr.Error.Message))
	case tr.ClearError:
		set = append(set, "error_code = NULL", "error_message = NULL")
	}
	if tr.GraphRequestID != "" {
		set = append(set, "graph_request_id = "+a.add(tr.GraphRequestID))
	}
	if tr.ObjectID != "" {
		set = append(set, "object_id = "+a.add(tr.ObjectID))
	}
	if len(tr.PriorState) > 0 {
		set = append(set, "prior_state = "+a.add(string(tr.PriorState)))
	}
	if len(tr.Results) > 0 {
		set = append(set, "results = "+a.add(string(tr.Results)))
	}
	if tr.CountAttempt {
		set = append(set, "attempts = attempts + 1")
	}
	return `UPDATE items SET ` + strings.Join(set, ", ") + ` WHERE job_id = $1 AND seq = $2 RETURNING ` + itemCols(""), a
}

// insertOutcome records the terminal state of item in the history.
func insertOutcome(ctx context.Context, tx *sql.Tx, job *lockedJob, it *remediation.Item, at int64) error {
	var code, msg any
	if it.Error != nil {
		code, msg = it.Error.Code, it.Error.Message
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outcomes (job_id, seq, tenant_id, action, identity, status,
		detail, error_code, error_message, attempts, graph_request_id, reason, actor, requested_by, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		it.JobID, it.Seq, job.tenantID, string(job.action), it.Identity, string(it.Status), it.Detail,
		code, msg, it.Attempts, it.GraphRequestID, job.reason, job.actor, job.requestedBy, at)
	return err
}
