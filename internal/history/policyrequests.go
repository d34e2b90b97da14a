package history

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// deleteBatch is the number of seqs deleted per statement.
const deleteBatch = 1000

// AddPolicyRequest records a pending policy request (CreatedAt defaults to
// now). It is idempotent on (JobID, Seq): a repeat is a no-op that keeps
// the first request. EINVALID for a request without tenant, kind, job or
// user, or with an op other than add / remove.
func (s *Store) AddPolicyRequest(ctx context.Context, r remediation.PolicyRequest) (err error) {
	defer wrap(&err, "history.AddPolicyRequest(%s, %d)", r.JobID, r.Seq)
	if r.TenantID == "" || r.Kind == "" || r.JobID == "" || r.UserID == "" {
		return remediation.Errorf(remediation.EINVALID, "policy request needs a tenant, kind, job and user")
	}
	if r.Op != remediation.PolicyOpAdd && r.Op != remediation.PolicyOpRemove {
		return remediation.Errorf(remediation.EINVALID, "unknown policy op %q", r.Op)
	}
	at := r.CreatedAt
	if at.IsZero() {
		at = s.now()
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO policy_requests (job_id, seq, tenant_id, kind, op, user_id, dry_run, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id, seq) DO NOTHING`,
		r.JobID, r.Seq, r.TenantID, string(r.Kind), r.Op, r.UserID, r.DryRun, micros(at))
	return err
}

// PendingPolicyRequests returns up to limit (default 100) requests of a
// tenant and kind, oldest first (then by job and seq).
func (s *Store) PendingPolicyRequests(ctx context.Context, tenantID string, kind remediation.PolicyKind, limit int) (_ []remediation.PolicyRequest, err error) {
	defer wrap(&err, "history.PendingPolicyRequests(%s, %s)", tenantID, kind)
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT job_id, seq, tenant_id, kind, op, user_id, dry_run, created_at
		FROM policy_requests WHERE tenant_id = $1 AND kind = $2
		ORDER BY created_at, job_id, seq LIMIT $3`, tenantID, string(kind), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []remediation.PolicyRequest
	for rows.Next() {
		var (
			r  remediation.PolicyRequest
			at int64
		)
		if err := rows.Scan(&r.JobID, &r.Seq, &r.TenantID, &r.Kind, &r.Op, &r.UserID, &r.DryRun, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeletePolicyRequests removes handled requests, identified by (JobID,
// Seq), in one transaction (one statement per job and 1000 seqs). Unknown
// requests are ignored.
func (s *Store) DeletePolicyRequests(ctx context.Context, reqs []remediation.PolicyRequest) (err error) {
	defer wrap(&err, "history.DeletePolicyRequests")
	if len(reqs) == 0 {
		return nil
	}
	var (
		jobs  []string
		seqOf = map[string][]int{}
	)
	for _, r := range reqs {
		if _, ok := seqOf[r.JobID]; !ok {
			jobs = append(jobs, r.JobID)
		}
		seqOf[r.JobID] = append(seqOf[r.JobID], r.Seq)
	}
	return s.transact(ctx, func(tx *sql.Tx) error {
		for _, job := range jobs {
			seqs := seqOf[job]
			for start := 0; start < len(seqs); start += deleteBatch {
				a := args{job}
				in := make([]string, 0, deleteBatch)
				for _, seq := range seqs[start:min(start+deleteBatch, len(seqs))] {
					in = append(in, a.add(seq))
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM policy_requests WHERE job_id = $1 AND seq IN (`+
					strings.Join(in, ", ")+`)`, a...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PolicyRequestTenants returns one PolicyRequest (TenantID and Kind set)
// per (tenant, kind) having a request created before olderThan, ordered by
// tenant and kind.
func (s *Store) PolicyRequestTenants(ctx context.Context, olderThan time.Time) (_ []remediation.PolicyRequest, err error) {
	defer wrap(&err, "history.PolicyRequestTenants")
	rows, err := s.rdb.QueryContext(ctx, `SELECT tenant_id, kind FROM policy_requests WHERE created_at < $1
		GROUP BY tenant_id, kind ORDER BY tenant_id, kind`, micros(olderThan))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []remediation.PolicyRequest
	for rows.Next() {
		var r remediation.PolicyRequest
		if err := rows.Scan(&r.TenantID, &r.Kind); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
