package history

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// itemBatch is the number of items inserted per statement on SQLite: four
// parameters per row stay below its limit of 32766.
const itemBatch = 5000

// errDuplicateJob reports a unique violation while inserting a job.
var errDuplicateJob = errors.New("duplicate job")

// CreateJob inserts job (status queued, Total len(identities), all counts
// pending) and one pending item per identity with seq 0..len-1, in one
// transaction. With a non-empty IdempotencyKey an existing job of the same
// tenant and key is returned with created=false when its RequestHash
// matches, ECONFLICT otherwise; two concurrent identical submissions yield
// one job (the unique index decides, the loser re-reads). Unknown tenant →
// ENOTFOUND (as is a deleted one); an existing job id → ECONFLICT; no
// identities → EINVALID.
func (s *Store) CreateJob(ctx context.Context, job *remediation.Job, identities []string) (stored *remediation.Job, created bool, err error) {
	defer wrap(&err, "history.CreateJob(%s)", job.ID)
	if job.ID == "" {
		return nil, false, remediation.Errorf(remediation.EINVALID, "job id is empty")
	}
	if len(identities) == 0 {
		return nil, false, remediation.Errorf(remediation.EINVALID, "job has no identities")
	}
	createdAt := job.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.now()
	}
	err = s.transact(ctx, func(tx *sql.Tx) error {
		if err := s.lockLiveTenant(ctx, tx, job.TenantID); err != nil {
			return err
		}
		if job.IdempotencyKey != "" {
			existing, err := jobByKey(ctx, tx, job.TenantID, job.IdempotencyKey)
			if err != nil {
				return err
			}
			if existing != nil {
				stored = existing
				return nil
			}
		}
		if err := s.insertJob(ctx, tx, job, len(identities), createdAt); err != nil {
			return err
		}
		if err := s.d.insertItems(ctx, tx, job.ID, identities, micros(createdAt)); err != nil {
			return err
		}
		stored, err = getJob(ctx, tx, job.ID, "")
		created = true
		return err
	})
	return s.settleCreate(ctx, job, stored, created, err)
}

// settleCreate finishes a job insertion: after a unique violation it
// returns the job of the same idempotency key (or ECONFLICT for a taken
// id), and it refuses a replay whose request hash differs.
func (s *Store) settleCreate(ctx context.Context, job, stored *remediation.Job, created bool, err error) (*remediation.Job, bool, error) {
	if errors.Is(err, errDuplicateJob) {
		// Lost a race against an identical submission, or the id is taken.
		created = false
		stored, err = nil, nil
		if job.IdempotencyKey != "" {
			stored, err = jobByKey(ctx, s.db, job.TenantID, job.IdempotencyKey)
		}
		if err == nil && stored == nil {
			return nil, false, remediation.Errorf(remediation.ECONFLICT, "job %s already exists", job.ID)
		}
	}
	if err != nil {
		return nil, false, err
	}
	if !created && stored.RequestHash != job.RequestHash {
		return nil, false, remediation.Errorf(remediation.ECONFLICT,
			"idempotency key %q was already used for a different request (job %s)", job.IdempotencyKey, stored.ID)
	}
	return stored, created, nil
}

// insertJob inserts the job row (status queued, total items all pending).
// A unique violation (job id or idempotency key) is errDuplicateJob.
func (s *Store) insertJob(ctx context.Context, tx *sql.Tx, job *remediation.Job, total int, createdAt time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, tenant_id, action, status, total, duplicates,
		reason, requested_by, actor, context, params, dry_run, priority, idempotency_key, request_hash,
		fanout_next, cancel_requested, n_pending, created_at, confirm_admin_targets, undo_of, retry_of)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, FALSE, $5, $16, $17, $18, $19)`,
		job.ID, job.TenantID, string(job.Action), string(remediation.JobQueued), total,
		job.Duplicates, job.Reason, job.RequestedBy, job.Actor, jsonArg(job.Context), jsonArg(job.Params),
		job.DryRun, job.Priority, nullString(job.IdempotencyKey), job.RequestHash, micros(createdAt),
		job.ConfirmAdminTargets, job.UndoOf, job.RetryOf)
	if s.d.isUnique(err) {
		return errDuplicateJob
	}
	return err
}

// jobByKey returns the job of tenant with idempotency key, or nil.
func jobByKey(ctx context.Context, q queryer, tenantID, key string) (*remediation.Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs
		WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return j, err
}

// insertItemsValues inserts one pending item per identity in multi-row
// VALUES batches with anonymous "?" parameters (SQLite resolves numbered
// parameters through a linear list, which is quadratic in a large batch).
func insertItemsValues(ctx context.Context, tx *sql.Tx, jobID string, identities []string, at int64) error {
	var b strings.Builder
	for start := 0; start < len(identities); start += itemBatch {
		end := min(start+itemBatch, len(identities))
		b.Reset()
		b.WriteString(`INSERT INTO items (job_id, seq, identity, status, updated_at) VALUES `)
		a := make([]any, 0, 4*(end-start))
		for seq := start; seq < end; seq++ {
			if seq > start {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,'pending',?)")
			a = append(a, jobID, seq, identities[seq], at)
		}
		if _, err := tx.ExecContext(ctx, b.String(), a...); err != nil {
			return err
		}
	}
	return nil
}
