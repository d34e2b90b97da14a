package history

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// applyJob applies one round of a group's operations on the items of one
// job (each item at most once), with a handful of statements whatever
// their number: lock and read the items' statuses, update the items
// whose status is one of their transition's From (compare-and-set) in one
// statement, append the attempt logs, record the outcomes of the items
// that became terminal, and read back the items left alone.
func (g *group) applyJob(ctx context.Context, tx *sql.Tx, jobID string, ops []*groupOp) error {
	job := g.jobs[jobID]
	if job == nil {
		for _, op := range ops {
			op.err = remediation.Errorf(remediation.ENOTFOUND, "item %d not found in job %s", op.seq, jobID)
		}
		return nil
	}
	status, err := g.lockItems(ctx, tx, jobID, ops)
	if err != nil {
		return err
	}
	var updates, rereads []*groupOp
	for _, op := range ops {
		from, ok := status[op.seq]
		switch {
		case !ok:
			op.err = remediation.Errorf(remediation.ENOTFOUND, "item %d not found in job %s", op.seq, jobID)
		case op.tr == nil:
			op.applied = true
		case !slices.Contains(op.tr.From, from):
			rereads = append(rereads, op)
		default:
			op.from, op.eff = from, op.tr
			if refusedStart(job, op.tr, from) {
				op.eff = &remediation.Transition{JobID: jobID, Seq: op.seq, To: remediation.ItemCanceled, Detail: remediation.CanceledDetail}
			}
			updates = append(updates, op)
		}
	}
	if err := g.updateItems(ctx, tx, jobID, job, updates); err != nil {
		return err
	}
	if err := g.insertCalls(ctx, tx, jobID, ops); err != nil {
		return err
	}
	var terminal []int
	for _, op := range updates {
		if op.from == op.eff.To {
			continue
		}
		fromCol, ok := countColumn(op.from)
		if !ok {
			return errors.New("item has unknown status " + string(op.from))
		}
		toCol, _ := countColumn(op.eff.To)
		g.move(jobID, fromCol, toCol, op.eff.To == remediation.ItemRunning)
		if op.eff.To.Terminal() {
			terminal = append(terminal, op.seq)
		}
	}
	if err := g.insertOutcomes(ctx, tx, jobID, terminal); err != nil {
		return err
	}
	for _, op := range updates {
		if op.eff.To == remediation.ItemFailed && op.from != op.eff.To {
			if err := g.s.outboxItemFailed(ctx, tx, job, op.item, g.now); err != nil {
				return err
			}
		}
	}
	return g.reread(ctx, tx, jobID, job, rereads)
}

// seqList appends the seqs of ops to a and returns "($n, $m, ...)".
func seqList(a *args, ops []*groupOp) string {
	ph := make([]string, len(ops))
	for i, op := range ops {
		ph[i] = a.add(op.seq)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// lockItems reads (and on PostgreSQL locks, in seq order) the statuses of
// the items of ops.
func (g *group) lockItems(ctx context.Context, tx *sql.Tx, jobID string, ops []*groupOp) (map[int]remediation.ItemStatus, error) {
	a := args{jobID}
	rows, err := tx.QueryContext(ctx, `SELECT seq, status FROM items WHERE job_id = $1 AND seq IN `+
		seqList(&a, ops)+` ORDER BY seq`+g.s.d.forUpdate, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	status := make(map[int]remediation.ItemStatus, len(ops))
	for rows.Next() {
		var (
			seq int
			st  remediation.ItemStatus
		)
		if err := rows.Scan(&seq, &st); err != nil {
			return nil, err
		}
		status[seq] = st
	}
	return status, rows.Err()
}

// Error column modes of updateItems.
const (
	keepError  = 0
	setError   = 1
	clearError = 2
)

// updateItems applies the transitions of ops in one UPDATE: status and
// updated_at always, the other fields only where the transition sets
// them (see remediation.Transition).
func (g *group) updateItems(ctx context.Context, tx *sql.Tx, jobID string, job *lockedJob, ops []*groupOp) error {
	if len(ops) == 0 {
		return nil
	}
	a := args{jobID, g.now}
	rows := make([]string, len(ops))
	for i, op := range ops {
		tr := op.eff
		mode, code, msg := keepError, any(nil), any(nil)
		switch {
		case tr.Error != nil:
			mode, code, msg = setError, tr.Error.Code, tr.Error.Message
		case tr.ClearError:
			mode = clearError
		}
		inc := 0
		if tr.CountAttempt {
			inc = 1
		}
		rows[i] = "(CAST(" + a.add(op.seq) + " AS INTEGER), " + a.add(string(tr.To)) + ", " + a.add(nonEmpty(tr.Detail)) +
			", CAST(" + a.add(mode) + " AS INTEGER), " + a.add(code) + ", " + a.add(msg) + ", " + a.add(nonEmpty(tr.GraphRequestID)) +
			", " + a.add(nonEmpty(tr.ObjectID)) + ", " + a.add(nonEmpty(string(tr.PriorState))) + ", " +
			a.add(nonEmpty(string(tr.Results))) + ", CAST(" + a.add(inc) + " AS INTEGER))"
	}
	q := `WITH v (v_seq, v_status, v_detail, v_err, v_code, v_msg, v_rid, v_oid, v_prior, v_results, v_inc) AS (VALUES ` +
		strings.Join(rows, ", ") + `)
	UPDATE items SET status = v.v_status, updated_at = $2,
		detail = COALESCE(v.v_detail, items.detail),
		error_code = CASE v.v_err WHEN 1 THEN v.v_code WHEN 2 THEN NULL ELSE items.error_code END,
		error_message = CASE v.v_err WHEN 1 THEN v.v_msg WHEN 2 THEN NULL ELSE items.error_message END,
		graph_request_id = COALESCE(v.v_rid, items.graph_request_id),
		object_id = COALESCE(v.v_oid, items.object_id),
		prior_state = COALESCE(v.v_prior, items.prior_state),
		results = COALESCE(v.v_results, items.results),
		attempts = items.attempts + v.v_inc
	FROM v WHERE items.job_id = $1 AND items.seq = v.v_seq
	RETURNING ` + itemCols("")
	items, err := scanItems(ctx, tx, q, a)
	if err != nil {
		return err
	}
	for _, op := range ops {
		it := items[op.seq]
		if it == nil {
			return errors.New("locked item vanished during its update")
		}
		it.TenantID, it.Action = job.tenantID, job.action
		// A refused start canceled the item: the caller's transition
		// did not apply.
		op.item, op.applied = it, op.eff == op.tr
	}
	return nil
}

// refusedStart reports whether tr would start an item (pending or
// retrying) of a job whose cancel was requested: from the cancel's commit
// on, no item of the job starts, whatever the worker's (cached) copy of
// the job says; the item is canceled instead. A running item re-run (after
// a crash) is not a start: running items finish.
func refusedStart(job *lockedJob, tr *remediation.Transition, from remediation.ItemStatus) bool {
	return job.cancelRequested && tr.To == remediation.ItemRunning &&
		(from == remediation.ItemPending || from == remediation.ItemRetrying)
}

// nonEmpty is nil for "" (the column keeps its value), s otherwise.
func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanItems runs a query returning itemCols and maps the items by seq.
func scanItems(ctx context.Context, tx *sql.Tx, q string, a args) (map[int]*remediation.Item, error) {
	rows, err := tx.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := map[int]*remediation.Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		items[it.Seq] = it
	}
	return items, rows.Err()
}

// insertCalls appends, in one statement, the Graph calls of the applied
// operations to their items' attempt logs. A call without a Time is
// stamped now; Duration wins over DurationMS; a call of a transition
// without an Attempt gets the item's attempt count.
func (g *group) insertCalls(ctx context.Context, tx *sql.Tx, jobID string, ops []*groupOp) error {
	a := args{jobID}
	var rows []string
	now := g.s.now()
	for _, op := range ops {
		if !op.applied {
			continue
		}
		for _, c := range op.calls {
			at := c.Time
			if at.IsZero() {
				at = now
			}
			ns := int64(c.Duration)
			if ns == 0 && c.DurationMS != 0 {
				ns = int64(c.DurationMS * 1e6)
			}
			if c.Attempt == 0 && op.tr != nil {
				c.Attempt = op.item.Attempts
			}
			rows = append(rows, "($1, "+a.add(op.seq)+", "+a.add(micros(at))+", "+a.add(c.Attempt)+", "+
				a.add(c.Operation)+", "+a.add(c.HTTPStatus)+", "+a.add(c.ErrorCode)+", "+a.add(c.RequestID)+", "+a.add(ns)+")")
		}
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO calls (job_id, seq, at, attempt, operation, http_status, error_code,
		request_id, duration_ns) VALUES `+strings.Join(rows, ", "), a...)
	return err
}

// insertOutcomes records the terminal state of the items seqs of a job in
// the history.
func (g *group) insertOutcomes(ctx context.Context, tx *sql.Tx, jobID string, seqs []int) error {
	if len(seqs) == 0 {
		return nil
	}
	slices.Sort(seqs)
	a := args{jobID, g.now}
	ph := make([]string, len(seqs))
	for i, seq := range seqs {
		ph[i] = a.add(seq)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outcomes (job_id, seq, tenant_id, action, identity, status,
		detail, error_code, error_message, attempts, graph_request_id, reason, actor, requested_by, at)
		SELECT i.job_id, i.seq, j.tenant_id, j.action, i.identity, i.status, i.detail, i.error_code, i.error_message,
			i.attempts, i.graph_request_id, j.reason, j.actor, j.requested_by, $2
		FROM items i JOIN jobs j ON j.id = i.job_id
		WHERE i.job_id = $1 AND i.seq IN (`+strings.Join(ph, ", ")+`) ORDER BY i.seq`, a...)
	return err
}

// reread reads the current items of the transitions that did not apply.
func (g *group) reread(ctx context.Context, tx *sql.Tx, jobID string, job *lockedJob, ops []*groupOp) error {
	if len(ops) == 0 {
		return nil
	}
	a := args{jobID}
	items, err := scanItems(ctx, tx, `SELECT `+itemCols("")+` FROM items WHERE job_id = $1 AND seq IN `+seqList(&a, ops), a)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if it := items[op.seq]; it != nil {
			it.TenantID, it.Action = job.tenantID, job.action
			op.item = it
		}
	}
	return nil
}
