package history

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Group commit of item writes.
//
// Every transition of an item moves one unit between the counters on its
// job's row, which the transaction locks. With one transaction per
// transition, a bulk job's items queue behind that lock (and pay a commit
// each): the store, not Graph, would limit a fast tenant. So the store
// applies the item writes its callers hand it concurrently in one
// transaction: a loop takes what is waiting (up to maxGroup operations),
// locks the jobs concerned in id order, applies each operation, moves
// each job's counters once and commits. Callers wait for their own result,
// so nothing is acknowledged before it is durable, and at low load a group
// holds a single operation and costs what a lone transaction did.
//
// An operation's domain error (an unknown item, say) is its own; any other
// error rolls the group back, and its operations are then applied one by
// one, so that one bad write cannot fail its neighbours.
//
// Urgent operations (remediation.Transition.Urgent: items of small jobs)
// have a loop of their own. A group locks the rows of its jobs; a bulk
// job's row is wanted by every group of its items, and a group that holds
// an urgent item beside bulk ones would wait its turn for that row. Apart,
// an urgent item's group only waits for other small jobs.

const (
	// maxGroup bounds the operations of one transaction.
	maxGroup = 256
	// groupTimeout bounds one group transaction.
	groupTimeout = 30 * time.Second
)

// groupOp is one item write waiting for a group: a transition (tr set),
// or Graph calls for an item's attempt log (tr nil).
type groupOp struct {
	ctx    context.Context
	jobID  string
	seq    int
	tr     *remediation.Transition
	calls  []remediation.Call
	urgent bool // applied by the urgent loop

	// Results, reset by applyGroup (a failed group is applied again, one
	// operation at a time).
	item    *remediation.Item
	applied bool
	from    remediation.ItemStatus
	eff     *remediation.Transition // what applied: tr, or a cancel (refusedStart)
	err     error
	done    chan struct{}
}

// group is the state of one group transaction.
type group struct {
	s   *Store
	now int64
	// jobs are the locked jobs of the group; a job id without a row maps
	// to nil.
	jobs   map[string]*lockedJob
	deltas map[string]*jobDelta
}

// jobDelta is what a group changes of one job's row.
type jobDelta struct {
	counts  map[string]int // count column -> change
	started bool           // an item started running
}

// move records one item going from one count column to another; started
// reports that it entered running.
func (g *group) move(jobID, fromCol, toCol string, started bool) {
	d := g.deltas[jobID]
	if d == nil {
		d = &jobDelta{counts: map[string]int{}}
		g.deltas[jobID] = d
	}
	d.counts[fromCol]--
	d.counts[toCol]++
	d.started = d.started || started
}

// groups is the store's group-commit machinery, started on first use.
type groups struct {
	once   sync.Once
	queue  chan *groupOp
	urgent chan *groupOp // Urgent operations, one loop
	stop   chan struct{}
	wg     sync.WaitGroup
	loops  int

	// Counters for GroupStats.
	txs, ops atomic.Int64
}

// GroupStats returns the number of group transactions committed and of the
// operations they held (a ratio well above 1 shows writes being grouped).
func (s *Store) GroupStats() (transactions, operations int64) {
	return s.grp.txs.Load(), s.grp.ops.Load()
}

// inGroup applies op in a group transaction and returns its error. An
// operation whose context ends before its group starts is not applied; one
// taken into a group is waited for, so that its outcome is known.
func (s *Store) inGroup(op *groupOp) error {
	s.grp.once.Do(s.startGroups)
	ctx := op.ctx
	op.done = make(chan struct{})
	q := s.grp.queue
	if op.urgent {
		q = s.grp.urgent
	}
	select {
	case q <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.grp.stop:
		return errors.New("store closed")
	}
	<-op.done
	return op.err
}

func (s *Store) startGroups() {
	s.grp.queue = make(chan *groupOp)
	s.grp.urgent = make(chan *groupOp)
	s.grp.stop = make(chan struct{})
	for range cmp.Or(s.grp.loops, 1) {
		s.grp.wg.Go(func() { s.groupLoop(s.grp.queue) })
	}
	s.grp.wg.Go(func() { s.groupLoop(s.grp.urgent) })
}

// stopGroups ends the loops once the operations they hold are done.
func (s *Store) stopGroups() {
	s.grp.once.Do(func() { s.grp.stop = make(chan struct{}) }) // never started
	select {
	case <-s.grp.stop:
	default:
		close(s.grp.stop)
	}
	s.grp.wg.Wait()
}

func (s *Store) groupLoop(queue chan *groupOp) {
	for {
		var first *groupOp
		select {
		case first = <-queue:
		case <-s.grp.stop:
			return
		}
		ops := []*groupOp{first}
	more:
		for len(ops) < maxGroup {
			select {
			case op := <-queue:
				ops = append(ops, op)
			default:
				break more
			}
		}
		s.runGroup(ops)
	}
}

// runGroup applies ops in one transaction, or one by one when that fails.
func (s *Store) runGroup(ops []*groupOp) {
	live := ops[:0:0]
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.err = err
			close(op.done)
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	err := s.transact(ctx, func(tx *sql.Tx) error { return s.applyGroup(ctx, tx, live) })
	cancel()
	switch {
	case err == nil:
		s.grp.txs.Add(1)
		s.grp.ops.Add(int64(len(live)))
	case len(live) == 1:
		live[0].err = err
	default:
		// applyGroup resets each operation's results.
		for _, op := range live {
			if err := s.transact(op.ctx, func(tx *sql.Tx) error { return s.applyGroup(op.ctx, tx, []*groupOp{op}) }); err != nil {
				op.err = err
			}
		}
	}
	for _, op := range live {
		close(op.done)
	}
}

// applyGroup locks the jobs of ops in id order, applies the operations
// (groupapply.go) and writes each job's counters. Domain errors stay with
// their operation.
func (s *Store) applyGroup(ctx context.Context, tx *sql.Tx, ops []*groupOp) error {
	g := &group{s: s, now: micros(s.now()), jobs: map[string]*lockedJob{}, deltas: map[string]*jobDelta{}}
	ids := make([]string, 0, len(ops))
	for _, op := range ops {
		op.item, op.applied, op.from, op.eff, op.err = nil, false, "", nil, nil
		ids = append(ids, op.jobID)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		j, err := s.lockJob(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) {
			g.jobs[id] = nil
			continue
		} else if err != nil {
			return err
		}
		g.jobs[id] = j
	}
	for pending := ops; len(pending) > 0; {
		var round []*groupOp
		round, pending = splitRound(pending)
		byJob := map[string][]*groupOp{}
		for _, op := range round {
			byJob[op.jobID] = append(byJob[op.jobID], op)
		}
		for _, id := range slices.Sorted(maps.Keys(byJob)) {
			if err := g.applyJob(ctx, tx, id, byJob[id]); err != nil {
				return err
			}
		}
	}
	return g.flush(ctx, tx)
}

// splitRound returns the first operation of each item in ops (in order)
// and the rest: a round writes each item once.
func splitRound(ops []*groupOp) (round, rest []*groupOp) {
	type key struct {
		job string
		seq int
	}
	seen := map[key]bool{}
	for _, op := range ops {
		k := key{op.jobID, op.seq}
		if seen[k] {
			rest = append(rest, op)
			continue
		}
		seen[k] = true
		round = append(round, op)
	}
	return round, rest
}

// flush writes the counters of the group's jobs, sets a job running when
// its first item started, and finishes the jobs left without open items.
func (g *group) flush(ctx context.Context, tx *sql.Tx) error {
	ids := make([]string, 0, len(g.deltas))
	for id := range g.deltas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		d, job := g.deltas[id], g.jobs[id]
		cols := make([]string, 0, len(d.counts))
		for col := range d.counts {
			cols = append(cols, col)
		}
		slices.Sort(cols)
		a := args{id, g.now}
		set := []string{"progress_at = $2"}
		for _, col := range cols {
			if n := d.counts[col]; n != 0 {
				set = append(set, col+" = "+col+" + "+a.add(n))
			}
		}
		var open int
		if err := tx.QueryRowContext(ctx, `UPDATE jobs SET `+strings.Join(set, ", ")+`
			WHERE id = $1 RETURNING n_pending + n_running + n_retrying`, a...).Scan(&open); err != nil {
			return err
		}
		if d.started && job.status == remediation.JobQueued {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, $2)
				WHERE id = $1 AND status = 'queued'`, id, g.now); err != nil {
				return err
			}
		}
		if open == 0 && job.status != remediation.JobCompleted && job.status != remediation.JobCanceled {
			if err := g.s.finishJob(ctx, tx, id, job.cancelRequested, g.now); err != nil {
				return err
			}
		}
	}
	return nil
}
