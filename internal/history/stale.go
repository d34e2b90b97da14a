package history

import (
	"context"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

var _ remediation.StaleItemStore = (*Store)(nil)

// staleJobPage is the number of candidate jobs StaleItems reads at a time;
// staleSeqWindow the number of seqs one query of a job's items covers.
const (
	staleJobPage   = 100
	staleSeqWindow = 5000
)

// staleJob is what StaleItems needs of a candidate job.
type staleJob struct {
	id, tenantID string
	action       remediation.Action
	fanoutNext   int
	pending      int
}

// StaleItems returns up to limit items (default 100, at most 1000) whose
// task may be lost, in (job id, seq) order after the cursor: see
// remediation.StaleItemStore. A job's progress time (jobs.progress_at) is
// set by every status change of one of its items (TransitionItem) and by
// every fan-out page (AdvanceFanout); a job that never progressed counts
// from its creation.
//
// Both steps read indexes only: the open jobs through the partial index
// jobs_open, then each job's items through its primary key from the
// cursor (or, when the job has no pending item, through items_status).
func (s *Store) StaleItems(ctx context.Context, olderThan time.Time, after remediation.StaleCursor, limit int) (_ []*remediation.Item, next remediation.StaleCursor, err error) {
	defer wrap(&err, "history.StaleItems")
	limit = clampLimit(limit)
	cutoff := micros(olderThan)
	var (
		out       []*remediation.Item
		fromJob   = after.JobID
		inclusive = !after.IsZero() // the cursor's own job may have items left
	)
	for {
		jobs, err := s.staleJobs(ctx, cutoff, fromJob, inclusive, staleJobPage)
		if err != nil {
			return nil, next, err
		}
		for _, j := range jobs {
			fromSeq := -1
			if j.id == after.JobID {
				fromSeq = after.Seq
			}
			items, err := s.staleItemsOf(ctx, j, cutoff, fromSeq, limit-len(out))
			if err != nil {
				return nil, next, err
			}
			out = append(out, items...)
			if len(out) == limit {
				last := out[len(out)-1]
				return out, remediation.StaleCursor{JobID: last.JobID, Seq: last.Seq}, nil
			}
		}
		if len(jobs) < staleJobPage {
			return out, remediation.StaleCursor{}, nil
		}
		fromJob, inclusive = jobs[len(jobs)-1].id, false
	}
}

// staleJobs returns up to limit queued or running jobs with an id after
// fromJob (or equal to it, with inclusive) that made no progress since
// cutoff, in id order.
func (s *Store) staleJobs(ctx context.Context, cutoff int64, fromJob string, inclusive bool, limit int) ([]staleJob, error) {
	op := ">"
	if inclusive {
		op = ">="
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, tenant_id, action, fanout_next, n_pending FROM jobs
		WHERE status IN ('queued', 'running') AND id `+op+` $1 AND COALESCE(progress_at, created_at) < $2
		ORDER BY id LIMIT $3`, fromJob, cutoff, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []staleJob
	for rows.Next() {
		var j staleJob
		if err := rows.Scan(&j.id, &j.tenantID, &j.action, &j.fanoutNext, &j.pending); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// staleItemsOf returns up to limit stale items of one job with a seq
// above fromSeq, in seq order. With pending items, the primary key is read
// in windows of staleSeqWindow seqs: a window bounds the rows a query
// reads whatever plan the database picks (most rows of a large job may be
// finished). Without, the partial index items_status finds the few
// running and retrying items at once.
func (s *Store) staleItemsOf(ctx context.Context, j staleJob, cutoff int64, fromSeq, limit int) ([]*remediation.Item, error) {
	if j.pending == 0 {
		return s.staleItemsIn(ctx, j, `i.status IN ('running', 'retrying') AND i.status <> 'pending'`,
			cutoff, fromSeq, j.fanoutNext, limit)
	}
	var items []*remediation.Item
	for lo := fromSeq; lo+1 < j.fanoutNext && len(items) < limit; lo += staleSeqWindow {
		page, err := s.staleItemsIn(ctx, j, `i.status IN ('pending', 'running', 'retrying')`,
			cutoff, lo, min(j.fanoutNext, lo+1+staleSeqWindow), limit-len(items))
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
	}
	return items, nil
}

// staleItemsIn returns up to limit items of a job with lo < seq < hi,
// a status matching statusCond, last updated before cutoff and without a
// pending policy request, in seq order.
func (s *Store) staleItemsIn(ctx context.Context, j staleJob, statusCond string, cutoff int64, lo, hi, limit int) ([]*remediation.Item, error) {
	if hi <= lo+1 {
		return nil, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+itemCols("i.")+` FROM items i
		WHERE i.job_id = $1 AND i.seq > $2 AND i.seq < $3 AND `+statusCond+` AND i.updated_at < $4
			AND NOT EXISTS (SELECT 1 FROM policy_requests p WHERE p.job_id = i.job_id AND p.seq = i.seq)
		ORDER BY i.seq LIMIT $5`, j.id, lo, hi, cutoff, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []*remediation.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		it.TenantID, it.Action = j.tenantID, j.action
		items = append(items, it)
	}
	return items, rows.Err()
}
