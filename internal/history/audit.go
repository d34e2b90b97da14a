package history

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/entraremediator/remediator/internal/remediation"
)

const auditCols = `id, at, key_id, key_name, actor, action, tenant_id, target, details, remote_addr, request_id`

// AppendAudit adds e to the append-only audit log. The store always
// assigns e.ID (increasing with insertion order); e.At is set to now when
// zero. EINVALID without an action. The database refuses any later UPDATE
// or DELETE of the log (triggers, see the migrations).
func (s *Store) AppendAudit(ctx context.Context, e *remediation.AuditEntry) (err error) {
	defer wrap(&err, "history.AppendAudit(%s)", e.Action)
	if e.Action == "" {
		return remediation.Errorf(remediation.EINVALID, "audit entry has no action")
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	var id int64
	if err := s.db.QueryRowContext(ctx, `INSERT INTO audit_log (at, key_id, key_name, actor, action, tenant_id,
		target, details, remote_addr, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		micros(at), e.KeyID, e.KeyName, e.Actor, e.Action, e.TenantID, e.Target, jsonArg(e.Details),
		e.RemoteAddr, e.RequestID).Scan(&id); err != nil {
		return err
	}
	e.ID, e.At = id, at
	return nil
}

// ListAudit returns audit entries newest first (by id, which follows
// insertion order) and the cursor of the next page ("" on the last page);
// the pages are stable under inserts. Filters: tenant, action, key, and
// the entry time (Since inclusive, Until exclusive). TenantIDs, when not
// empty, limits the entries to those tenants (together with TenantID: to
// their intersection); entries without a tenant are then left out. Limit
// defaults to 100 and is capped at 1000.
func (s *Store) ListAudit(ctx context.Context, f remediation.AuditFilter) (_ []*remediation.AuditEntry, next string, err error) {
	defer wrap(&err, "history.ListAudit")
	var (
		a     args
		where []string
	)
	if f.Action != "" {
		where = append(where, "action = "+a.add(f.Action))
	}
	if f.KeyID != "" {
		where = append(where, "key_id = "+a.add(f.KeyID))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+a.add(micros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+a.add(micros(f.Until)))
	}
	if f.Cursor != "" {
		before, err := decodeIntCursor(cursorAudit, f.Cursor)
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
	lq := listQuery{sel: `SELECT ` + auditCols + ` FROM audit_log`, where: where, order: "id DESC", limit: a.add(limit + 1)}
	q := lq.sql()
	if limited {
		q = lq.scoped(&a, "tenant_id", tenants)
	}
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*remediation.AuditEntry
	for rows.Next() {
		var (
			e       remediation.AuditEntry
			at      int64
			details sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.KeyID, &e.KeyName, &e.Actor, &e.Action, &e.TenantID, &e.Target,
			&details, &e.RemoteAddr, &e.RequestID); err != nil {
			return nil, "", err
		}
		e.At, e.Details = fromMicros(at), jsonValue(details)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(cursorAudit, strconv.FormatInt(out[limit-1].ID, 10))
	}
	return out, next, nil
}
