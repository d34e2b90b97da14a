package history

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// itemCols are the item columns, prefixed with the items table alias.
func itemCols(p string) string {
	return p + "job_id, " + p + "seq, " + p + "identity, " + p + "object_id, " + p + "status, " +
		p + "detail, " + p + "error_code, " + p + "error_message, " + p + "attempts, " +
		p + "graph_request_id, " + p + "prior_state, " + p + "undo_state, " + p + "results, " + p + "updated_at"
}

// itemSelect reads items joined to their job (for tenant and action).
var itemSelect = `SELECT ` + itemCols("i.") + `, j.tenant_id, j.action FROM items i JOIN jobs j ON j.id = i.job_id`

// scanItem scans itemCols followed by extra destinations.
func scanItem(sc interface{ Scan(...any) error }, extra ...any) (*remediation.Item, error) {
	var (
		it                    remediation.Item
		code, msg, prior, res sql.NullString
		undo                  sql.NullString
		updated               int64
	)
	dest := append([]any{&it.JobID, &it.Seq, &it.Identity, &it.ObjectID, &it.Status, &it.Detail,
		&code, &msg, &it.Attempts, &it.GraphRequestID, &prior, &undo, &res, &updated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	it.Error = itemError(code, msg)
	it.PriorState, it.UndoState, it.Results = jsonValue(prior), jsonValue(undo), jsonValue(res)
	it.UpdatedAt = fromMicros(updated)
	return &it, nil
}

func scanJoinedItem(sc interface{ Scan(...any) error }) (*remediation.Item, error) {
	var (
		tenant string
		action remediation.Action
	)
	it, err := scanItem(sc, &tenant, &action)
	if err != nil {
		return nil, err
	}
	it.TenantID, it.Action = tenant, action
	return it, nil
}

func (s *Store) queryItems(ctx context.Context, q string, a ...any) ([]*remediation.Item, error) {
	rows, err := s.rdb.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []*remediation.Item
	for rows.Next() {
		it, err := scanJoinedItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// jobMustExist returns ENOTFOUND when the job does not exist.
func jobMustExist(ctx context.Context, q queryer, jobID string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = $1`, jobID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return remediation.Errorf(remediation.ENOTFOUND, "job %s not found", jobID)
	}
	return err
}

// ListItems returns a job's items in seq order, optionally with one
// status, and the cursor of the next page ("" on the last page). Limit
// defaults to 100 and is capped at 1000. ENOTFOUND for an unknown job.
func (s *Store) ListItems(ctx context.Context, jobID string, f remediation.ItemFilter) (_ []*remediation.Item, next string, err error) {
	defer wrap(&err, "history.ListItems(%s)", jobID)
	a := args{jobID}
	q := itemSelect + ` WHERE i.job_id = $1`
	statuses := f.Statuses
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		statuses = append(slices.Clip(statuses), f.Status)
	}
	if len(statuses) > 0 {
		ph := make([]string, len(statuses))
		for i, st := range statuses {
			ph[i] = a.add(string(st))
		}
		q += ` AND i.status IN (` + strings.Join(ph, ", ") + `)`
		if !slices.Contains(statuses, remediation.ItemPending) {
			q += ` AND i.status <> 'pending'` // lets the planner use the partial index items_status
		}
	}
	if f.Cursor != "" {
		after, err := decodeIntCursor(cursorItems, f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND i.seq > ` + a.add(after)
	}
	limit := clampLimit(f.Limit)
	q += ` ORDER BY i.seq LIMIT ` + a.add(limit+1)
	items, err := s.queryItems(ctx, q, a...)
	if err != nil {
		return nil, "", err
	}
	if len(items) == 0 {
		return nil, "", jobMustExist(ctx, s.rdb, jobID)
	}
	if len(items) > limit {
		items = items[:limit]
		next = encodeCursor(cursorItems, strconv.Itoa(items[limit-1].Seq))
	}
	return items, next, nil
}

// ItemsFrom returns up to limit items with seq >= from, in seq order
// (limit defaults to 100 when not positive; it is not capped, so a short
// batch always means the end of the job). ENOTFOUND for an unknown job.
func (s *Store) ItemsFrom(ctx context.Context, jobID string, from, limit int) (_ []*remediation.Item, err error) {
	defer wrap(&err, "history.ItemsFrom(%s, %d)", jobID, from)
	if limit <= 0 {
		limit = 100
	}
	items, err := s.queryItems(ctx, itemSelect+` WHERE i.job_id = $1 AND i.seq >= $2 ORDER BY i.seq LIMIT $3`,
		jobID, from, limit)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, jobMustExist(ctx, s.rdb, jobID)
	}
	return items, nil
}

// GetItem returns the item of a job with the given identity (as stored,
// normalized; the lowest seq if it occurs twice) and its call log in time
// order. ENOTFOUND.
func (s *Store) GetItem(ctx context.Context, jobID, identity string) (_ *remediation.Item, _ []remediation.Call, err error) {
	defer wrap(&err, "history.GetItem(%s, %s)", jobID, identity)
	it, err := scanJoinedItem(s.rdb.QueryRowContext(ctx,
		itemSelect+` WHERE i.job_id = $1 AND i.identity = $2 ORDER BY i.seq LIMIT 1`, jobID, identity))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, remediation.Errorf(remediation.ENOTFOUND, "identity %s not found in job %s", identity, jobID)
	} else if err != nil {
		return nil, nil, err
	}
	calls, err := s.calls(ctx, jobID, it.Seq)
	if err != nil {
		return nil, nil, err
	}
	return it, calls, nil
}

// GetItemBySeq returns one item by seq. ENOTFOUND.
func (s *Store) GetItemBySeq(ctx context.Context, jobID string, seq int) (_ *remediation.Item, err error) {
	defer wrap(&err, "history.GetItemBySeq(%s, %d)", jobID, seq)
	it, err := scanJoinedItem(s.rdb.QueryRowContext(ctx, itemSelect+` WHERE i.job_id = $1 AND i.seq = $2`, jobID, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, remediation.Errorf(remediation.ENOTFOUND, "item %d not found in job %s", seq, jobID)
	}
	return it, err
}

func (s *Store) calls(ctx context.Context, jobID string, seq int) ([]remediation.Call, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT at, attempt, operation, http_status, error_code, request_id, duration_ns
		FROM calls WHERE job_id = $1 AND seq = $2 ORDER BY at, id`, jobID, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var calls []remediation.Call
	for rows.Next() {
		var (
			c      remediation.Call
			at, ns int64
		)
		if err := rows.Scan(&at, &c.Attempt, &c.Operation, &c.HTTPStatus, &c.ErrorCode, &c.RequestID, &ns); err != nil {
			return nil, err
		}
		c.Time = fromMicros(at)
		c.Duration = time.Duration(ns)
		c.DurationMS = float64(ns) / float64(time.Millisecond)
		calls = append(calls, c)
	}
	return calls, rows.Err()
}

// AppendCalls adds Graph calls to an item's attempt log. A call without a
// Time is stamped now; Duration wins over DurationMS. ENOTFOUND for an
// unknown item.
func (s *Store) AppendCalls(ctx context.Context, jobID string, seq int, calls []remediation.Call) (err error) {
	defer wrap(&err, "history.AppendCalls(%s, %d)", jobID, seq)
	return s.inGroup(&groupOp{ctx: ctx, jobID: jobID, seq: seq, calls: calls})
}
