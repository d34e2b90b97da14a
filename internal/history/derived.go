package history

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// CreateDerivedJob creates job, an undo (UndoOf == from) or a retry
// (RetryOf == from) of job from, with one pending item per item of from
// whose status is in statuses: in seq order, with new seqs 0..n-1,
// identity and object id copied. Its UndoState is the source item's
// PriorState when from is the job being undone; a retry of an undo job
// (UndoOf set, RetryOf == from) copies the source item's UndoState, so
// that it restores the same state. Total is n, all pending. The other job
// fields are stored as CreateJob stores them (TenantID and Action default
// to the source's), including idempotency: a replay of the same key and
// hash returns the stored job (its ID differs from job.ID), another hash
// is ECONFLICT.
//
// One transaction and one INSERT … SELECT for the items. ENOTFOUND for an
// unknown source job or a deleted tenant; EUNPROCESSABLE when no item qualifies; EINVALID when
// neither UndoOf nor RetryOf is from, for a tenant other than the source's
// or an unknown status.
func (s *Store) CreateDerivedJob(ctx context.Context, job *remediation.Job, from string, statuses []remediation.ItemStatus) (_ *remediation.Job, err error) {
	defer wrap(&err, "history.CreateDerivedJob(%s from %s)", job.ID, from)
	if job.ID == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "job id is empty")
	}
	j := *job // TenantID and Action may be filled in below
	job = &j
	// undoState is the source column copied into undo_state.
	undoState := "NULL"
	switch {
	case from != "" && job.UndoOf == from:
		undoState = "prior_state"
	case from != "" && job.RetryOf == from:
		if job.UndoOf != "" {
			undoState = "undo_state"
		}
	default:
		return nil, remediation.Errorf(remediation.EINVALID, "job %s is neither an undo nor a retry of job %q", job.ID, from)
	}
	a := args{job.ID, nil, from} // $2 is updated_at, set below
	var in []string
	for _, st := range statuses {
		if !st.Valid() {
			return nil, remediation.Errorf(remediation.EINVALID, "unknown item status %q", st)
		}
		in = append(in, a.add(string(st)))
	}
	if len(in) == 0 {
		return nil, remediation.Errorf(remediation.EUNPROCESSABLE, "no item of job %s qualifies", from)
	}
	createdAt := job.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.now()
	}
	a[1] = micros(createdAt)

	var (
		stored  *remediation.Job
		created bool
	)
	err = s.transact(ctx, func(tx *sql.Tx) error {
		var (
			tenantID string
			action   remediation.Action
		)
		err := tx.QueryRowContext(ctx, `SELECT tenant_id, action FROM jobs WHERE id = $1`, from).Scan(&tenantID, &action)
		if errors.Is(err, sql.ErrNoRows) {
			return remediation.Errorf(remediation.ENOTFOUND, "job %s not found", from)
		} else if err != nil {
			return err
		}
		if job.TenantID == "" {
			job.TenantID = tenantID
		} else if job.TenantID != tenantID {
			return remediation.Errorf(remediation.EINVALID, "job %s belongs to another tenant", from)
		}
		if job.Action == "" {
			job.Action = action
		}
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
		if err := s.insertJob(ctx, tx, job, 0, createdAt); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO items (job_id, seq, identity, object_id, status, undo_state, updated_at)
			SELECT $1, ROW_NUMBER() OVER (ORDER BY seq) - 1, identity, object_id, 'pending', `+undoState+`, $2
			FROM items WHERE job_id = $3 AND status IN (`+strings.Join(in, ", ")+`)`, a...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return remediation.Errorf(remediation.EUNPROCESSABLE, "no item of job %s has status %s", from, joinStatuses(statuses))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET total = $2, n_pending = $2 WHERE id = $1`, job.ID, n); err != nil {
			return err
		}
		stored, err = getJob(ctx, tx, job.ID, "")
		created = true
		return err
	})
	stored, _, err = s.settleCreate(ctx, job, stored, created, err)
	return stored, err
}

func joinStatuses(statuses []remediation.ItemStatus) string {
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = string(st)
	}
	return strings.Join(parts, " or ")
}
