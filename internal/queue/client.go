package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/tracing"
)

// Defaults of Options.
const (
	DefaultMaxRetry           = 12
	DefaultItemTimeout        = 2 * time.Minute
	DefaultFanoutTimeout      = 30 * time.Minute
	DefaultEnqueueConcurrency = 16
)

// RetryReserve is added to an item task's retry budget when it is
// enqueued: asynq archives a task whose retries are used up on its next
// error (before it even looks at the error, see the processor), so the
// task keeps one retry more than the worker ever spends on Graph errors.
// The worker therefore always records a terminal status itself before the
// task can be archived.
const RetryReserve = 1

// fanoutMaxRetry bounds retries of a fan-out task; the worker does not
// count infrastructure errors as failures, and the reconciler starts a
// fan-out again anyway.
const fanoutMaxRetry = 25

// RetryBudget returns how many times the worker may retry an item after a
// retryable Graph error, given the task's asynq MaxRetry
// (asynq.GetMaxRetry).
func RetryBudget(taskMaxRetry int) int {
	return max(taskMaxRetry-RetryReserve, 0)
}

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// MaxRetry is the number of retries an item gets after retryable Graph
	// errors (throttling, 5xx, network). Default 12.
	MaxRetry int
	// ItemTimeout bounds one run of an item task. Default 2 min.
	ItemTimeout time.Duration
	// FanoutTimeout bounds one run of a fan-out task (it resumes where it
	// stopped). Default 30 min.
	FanoutTimeout time.Duration
	// EnqueueConcurrency is the number of concurrent enqueues of
	// EnqueueItems (asynq v0.26 has no bulk enqueue). Default 16.
	EnqueueConcurrency int
	// PolicyFlushWindow is the width of the time buckets in which policy
	// requests share one scheduled flush; a flush runs when its bucket
	// ends, so a request waits half a window on average. Default 2 s.
	PolicyFlushWindow time.Duration
	// PolicyFlushTimeout bounds one run of a policy flush task. Default
	// 10 min.
	PolicyFlushTimeout time.Duration
}

// Client enqueues fan-out, item and policy flush tasks. It implements
// remediation.Dispatcher. It is safe for concurrent use.
type Client struct {
	c    *asynq.Client
	opts Options
}

var _ remediation.Dispatcher = (*Client)(nil)

// NewClient returns a Client connected to Redis through opt.
func NewClient(opt asynq.RedisConnOpt, opts Options) *Client {
	opts.MaxRetry = cmp.Or(opts.MaxRetry, DefaultMaxRetry)
	opts.ItemTimeout = cmp.Or(opts.ItemTimeout, DefaultItemTimeout)
	opts.FanoutTimeout = cmp.Or(opts.FanoutTimeout, DefaultFanoutTimeout)
	opts.EnqueueConcurrency = cmp.Or(opts.EnqueueConcurrency, DefaultEnqueueConcurrency)
	opts.PolicyFlushWindow = cmp.Or(opts.PolicyFlushWindow, DefaultPolicyFlushWindow)
	opts.PolicyFlushTimeout = cmp.Or(opts.PolicyFlushTimeout, DefaultPolicyFlushTimeout)
	return &Client{c: asynq.NewClient(opt), opts: opts}
}

// Options returns the client's options with defaults applied.
func (c *Client) Options() Options { return c.opts }

// Close closes the Redis connection.
func (c *Client) Close() error { return c.c.Close() }

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- c.c.Ping() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("queue: ping redis: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: ping redis: %w", ctx.Err())
	}
}

// StartFanout enqueues the fan-out task of a job on the control queue.
// A fan-out task of the job that already exists makes this a no-op. The
// span of ctx (the API request's) goes into the payload as its
// traceparent, so that the fan-out continues the request's trace.
func (c *Client) StartFanout(ctx context.Context, jobID string, priority string) error {
	t, err := newFanoutTask(FanoutPayload{JobID: jobID, Priority: priority, Trace: tracing.Inject(ctx)})
	if err != nil {
		return err
	}
	_, err = c.c.EnqueueContext(ctx, t,
		asynq.TaskID(FanoutTaskID(jobID)),
		asynq.Queue(FanoutQueue(priority)),
		asynq.MaxRetry(fanoutMaxRetry),
		asynq.Timeout(c.opts.FanoutTimeout),
	)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: enqueue fan-out of job %s: %w", jobID, err)
	}
	return nil
}

// EnqueueItems enqueues the item tasks of seqs with a bounded number of
// concurrent enqueues. Tasks that already exist count as enqueued. It
// returns the first error, after the enqueues in flight have finished.
// The span of ctx (the fan-out task's) goes into every payload as its
// traceparent.
func (c *Client) EnqueueItems(ctx context.Context, jobID string, seqs []int, priority string) error {
	return c.EnqueueItemsAt(ctx, jobID, seqs, priority, nil)
}

// EnqueueItemsAt is EnqueueItems with a start time per item: the task of
// seqs[i] becomes ready at at[i] (asynq.ProcessAt; asynq keeps whole
// seconds, so up to a second early), or at once when at[i] is zero or
// past. A nil at enqueues every task at once; otherwise at must be as long
// as seqs. A task that already exists keeps its own time.
func (c *Client) EnqueueItemsAt(ctx context.Context, jobID string, seqs []int, priority string, at []time.Time) error {
	if at != nil && len(at) != len(seqs) {
		return fmt.Errorf("queue: enqueue items of job %s: %d start times for %d items", jobID, len(at), len(seqs))
	}
	if len(seqs) == 0 {
		return nil
	}
	trace := tracing.Inject(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []asynq.Option{
		asynq.Queue(ItemQueue(priority)),
		asynq.MaxRetry(c.opts.MaxRetry + RetryReserve),
		asynq.Timeout(c.opts.ItemTimeout),
	}
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for range min(c.opts.EnqueueConcurrency, len(seqs)) {
		wg.Go(func() {
			for i := range work {
				var when time.Time
				if at != nil {
					when = at[i]
				}
				if err := c.enqueueItem(ctx, ItemPayload{JobID: jobID, Seq: seqs[i], Trace: trace}, when, opts); err != nil {
					fail(err)
				}
			}
		})
	}
feed:
	for i := range seqs {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("queue: enqueue items of job %s: %w", jobID, ctx.Err())
	}
	return firstErr
}

func (c *Client) enqueueItem(ctx context.Context, p ItemPayload, at time.Time, opts []asynq.Option) error {
	jobID, seq := p.JobID, p.Seq
	t, err := newItemTask(p)
	if err != nil {
		return err
	}
	all := make([]asynq.Option, 0, len(opts)+2)
	all = append(append(all, opts...), asynq.TaskID(ItemTaskID(jobID, seq)))
	if !at.IsZero() {
		all = append(all, asynq.ProcessAt(at))
	}
	_, err = c.c.EnqueueContext(ctx, t, all...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queue: enqueue item %d of job %s: %w", seq, jobID, err)
	}
	return nil
}
