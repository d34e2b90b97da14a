package history

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/entraremediator/remediator/internal/remediation"
)

const outcomeCols = `id, job_id, tenant_id, action, identity, status, detail, error_code, error_message,
	attempts, graph_request_id, reason, actor, requested_by, at`

// History returns terminal outcomes newest first (by outcome id, which
// follows insertion order) and the cursor of the next page ("" on the last
// page). Filters: tenant, identity, action, status, and the outcome time
// (Since inclusive, Until exclusive). TenantIDs, when not empty, limits
// the outcomes to those tenants (together with TenantID: to their
// intersection). Limit defaults to 100 and is capped at 1000.
func (s *Store) History(ctx context.Context, f remediation.HistoryFilter) (_ []*remediation.Outcome, next string, err error) {
	defer wrap(&err, "history.History")
	var (
		a     args
		where []string
	)
	if f.Identity != "" {
		where = append(where, "identity = "+a.add(f.Identity))
	}
	if f.Action != "" {
		where = append(where, "action = "+a.add(string(f.Action)))
	}
	if f.Status != "" {
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+a.add(micros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+a.add(micros(f.Until)))
	}
	if f.Cursor != "" {
		before, err := decodeIntCursor(cursorHistory, f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "id < "+a.add(before))
	}
	tenants, limited := tenantScope(f.TenantID, f.TenantIDs)
	if limited && len(tenants) == 0 {
		return nil, "", nil
	}
	limit := clampLimit(f.Limit)
	lq := listQuery{sel: `SELECT ` + outcomeCols + ` FROM outcomes`, where: where, order: "id DESC", limit: a.add(limit + 1)}
	q := lq.sql()
	if limited {
		q = lq.scoped(&a, "tenant_id", tenants)
	}
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*remediation.Outcome
	for rows.Next() {
		var (
			o         remediation.Outcome
			code, msg sql.NullString
			at        int64
		)
		if err := rows.Scan(&o.ID, &o.JobID, &o.TenantID, &o.Action, &o.Identity, &o.Status, &o.Detail,
			&code, &msg, &o.Attempts, &o.GraphRequestID, &o.Reason, &o.Actor, &o.RequestedBy, &at); err != nil {
			return nil, "", err
		}
		o.Error = itemError(code, msg)
		o.At = fromMicros(at)
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(cursorHistory, strconv.FormatInt(out[limit-1].ID, 10))
	}
	return out, next, nil
}
