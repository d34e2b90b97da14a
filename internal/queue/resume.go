package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/tracing"
)

// ResumeFanoutTaskID returns the TaskID of the fan-out of a job resumed by
// the reconciler at cursor from: "fanout:<job>:resume:<from>".
func ResumeFanoutTaskID(jobID string, from int) string {
	return FanoutTaskID(jobID) + ":resume:" + strconv.Itoa(from)
}

// ResumeFanout enqueues a second fan-out task of a job whose fan-out
// cursor has stopped at from while its fan-out task still exists (held by
// a worker that died, which asynq gives back only after its lease expired
// and its recoverer ran, one to two minutes later, or waiting for a
// retry). Fan-outs of one job may run side by side: TaskIDs dedup the
// items they enqueue and the cursor never moves back. One resume task per
// cursor position exists at a time.
func (c *Client) ResumeFanout(ctx context.Context, jobID, priority string, from int) error {
	t, err := newFanoutTask(FanoutPayload{JobID: jobID, Priority: priority, Trace: tracing.Inject(ctx)})
	if err != nil {
		return err
	}
	_, err = c.c.EnqueueContext(ctx, t,
		asynq.TaskID(ResumeFanoutTaskID(jobID, from)),
		asynq.Queue(FanoutQueue(priority)),
		asynq.MaxRetry(fanoutMaxRetry),
		asynq.Timeout(c.opts.FanoutTimeout),
	)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: resume fan-out of job %s at %d: %w", jobID, from, err)
	}
	return nil
}

// RequeueItems enqueues the item tasks of seqs again, as EnqueueItems
// does, for items whose task may be lost: a task that still exists (in
// any state) is left alone. It returns how many tasks it created, that is
// how many were really lost (or already done), and the first error after
// the enqueues in flight have finished.
func (c *Client) RequeueItems(ctx context.Context, jobID string, seqs []int, priority string) (created int, err error) {
	opts := []asynq.Option{
		asynq.Queue(ItemQueue(priority)),
		asynq.MaxRetry(c.opts.MaxRetry + RetryReserve),
		asynq.Timeout(c.opts.ItemTimeout),
	}
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		once sync.Once
		sem  = make(chan struct{}, c.opts.EnqueueConcurrency)
	)
	trace := tracing.Inject(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, seq := range seqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t, terr := newItemTask(ItemPayload{JobID: jobID, Seq: seq, Trace: trace})
			if terr == nil {
				_, terr = c.c.EnqueueContext(ctx, t, append(slices.Clip(opts), asynq.TaskID(ItemTaskID(jobID, seq)))...)
			}
			switch {
			case terr == nil:
				n.Add(1)
			case errors.Is(terr, asynq.ErrTaskIDConflict):
			default:
				once.Do(func() { err = fmt.Errorf("queue: requeue item %d of job %s: %w", seq, jobID, terr); cancel() })
			}
		})
	}
	wg.Wait()
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("queue: requeue items of job %s: %w", jobID, ctx.Err())
	}
	return int(n.Load()), err
}
