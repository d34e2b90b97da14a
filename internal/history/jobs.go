package history

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

const jobCols = `id, tenant_id, action, status, total, duplicates, reason, requested_by, actor,
	context, params, dry_run, confirm_admin_targets, undo_of, retry_of, priority, idempotency_key, request_hash,
	fanout_next, cancel_requested,
	n_pending, n_running, n_retrying, n_succeeded, n_skipped, n_failed, n_canceled,
	created_at, started_at, finished_at`

func scanJob(sc interface{ Scan(...any) error }) (*remediation.Job, error) {
	var (
		j                    remediation.Job
		ctxDoc, params, key  sql.NullString
		created              int64
		started, finished    sql.NullInt64
		pend, run, retry     int
		succ, skip, fail, cn int
	)
	if err := sc.Scan(&j.ID, &j.TenantID, &j.Action, &j.Status, &j.Total, &j.Duplicates, &j.Reason,
		&j.RequestedBy, &j.Actor, &ctxDoc, &params, &j.DryRun, &j.ConfirmAdminTargets, &j.UndoOf, &j.RetryOf,
		&j.Priority, &key, &j.RequestHash,
		&j.FanoutNext, &j.CancelRequested, &pend, &run, &retry, &succ, &skip, &fail, &cn,
		&created, &started, &finished); err != nil {
		return nil, err
	}
	j.Context, j.Params = jsonValue(ctxDoc), jsonValue(params)
	j.IdempotencyKey = key.String
	j.Counts = map[remediation.ItemStatus]int{
		remediation.ItemPending: pend, remediation.ItemRunning: run, remediation.ItemRetrying: retry,
		remediation.ItemSucceeded: succ, remediation.ItemSkipped: skip, remediation.ItemFailed: fail,
		remediation.ItemCanceled: cn,
	}
	j.CreatedAt = fromMicros(created)
	j.StartedAt, j.FinishedAt = timePtr(started), timePtr(finished)
	return &j, nil
}

// getJob reads one job through q; suffix is appended to the query (the
// dialect's FOR UPDATE). ENOTFOUND.
func getJob(ctx context.Context, q queryer, id, suffix string) (*remediation.Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1`+suffix, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "job %s not found", id)
	}
	return j, err
}

// GetJob returns a job with its Counts, read from the job's counter
// columns (never by counting items). ENOTFOUND.
func (s *Store) GetJob(ctx context.Context, id string) (_ *remediation.Job, err error) {
	defer wrap(&err, "history.GetJob(%s)", id)
	return getJob(ctx, s.rdb, id, "")
}

// ListJobs returns jobs newest first (created_at, then id, descending),
// filtered by tenant, action and status, and the cursor of the next page
// ("" on the last page). Limit defaults to 100 and is capped at 1000.
// TenantIDs, when not empty, limits the jobs to those tenants (together
// with TenantID: to their intersection), see tenantScope.
func (s *Store) ListJobs(ctx context.Context, f remediation.JobFilter) (_ []*remediation.Job, next string, err error) {
	defer wrap(&err, "history.ListJobs")
	var (
		a     args
		where []string
	)
	if f.Action != "" {
		where = append(where, "action = "+a.add(string(f.Action)))
	}
	if f.Status != "" {
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if f.Cursor != "" {
		fields, err := decodeCursor(cursorJobs, f.Cursor, 2)
		if err != nil {
			return nil, "", err
		}
		at, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, "", remediation.Errorf(remediation.EINVALID, "malformed cursor")
		}
		where = append(where, "(created_at, id) < ("+a.add(at)+", "+a.add(fields[1])+")")
	}
	tenants, limited := tenantScope(f.TenantID, f.TenantIDs)
	if limited && len(tenants) == 0 {
		return nil, "", nil
	}
	limit := clampLimit(f.Limit)
	lq := listQuery{sel: `SELECT ` + jobCols + ` FROM jobs`, where: where,
		order: "created_at DESC, id DESC", limit: a.add(limit + 1)}
	q := lq.sql()
	if limited {
		q = lq.scoped(&a, "tenant_id", tenants)
	}
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var jobs []*remediation.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, "", err
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
		last := jobs[limit-1]
		next = encodeCursor(cursorJobs, strconv.FormatInt(micros(last.CreatedAt), 10), last.ID)
	}
	return jobs, next, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// AdvanceFanout records that items with seq < next were enqueued (and
// that the job made progress, see StaleItems). The cursor never moves
// backwards nor beyond the job's total. ENOTFOUND.
func (s *Store) AdvanceFanout(ctx context.Context, jobID string, next int) (err error) {
	defer wrap(&err, "history.AdvanceFanout(%s, %d)", jobID, next)
	res, err := s.db.ExecContext(ctx, `UPDATE jobs
		SET fanout_next = CASE WHEN total < $2 THEN total ELSE $2 END, progress_at = $3
		WHERE id = $1 AND fanout_next < $2`, jobID, next, micros(s.now()))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = $1`, jobID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return remediation.Errorf(remediation.ENOTFOUND, "job %s not found", jobID)
	}
	return err
}

// JobsNeedingFanout returns the ids of the open jobs whose fan-out task
// has work left, oldest first: a fan-out not finished (fanout_next <
// total) without a cancel request, or a cancel request with items not
// started yet (the fan-out cancels them: CancelPending). Limit defaults
// to 100.
func (s *Store) JobsNeedingFanout(ctx context.Context, limit int) (_ []string, err error) {
	defer wrap(&err, "history.JobsNeedingFanout")
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id FROM jobs
		WHERE status IN ('queued', 'running') AND (
			(fanout_next < total AND cancel_requested = FALSE) OR
			(cancel_requested = TRUE AND n_pending + n_retrying > 0))
		ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
