package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

// Defaults of Config.
const (
	DefaultConcurrency              = 20
	DefaultUrgentConcurrency        = 10
	DefaultControlConcurrency       = 10
	DefaultBaseBackoff              = time.Second
	DefaultMaxBackoff               = 5 * time.Minute
	DefaultReconcileInterval        = 10 * time.Second
	DefaultShutdownTimeout          = 25 * time.Second
	DefaultFanoutPageSize           = 1000
	DefaultTaskCheckInterval        = 100 * time.Millisecond
	DefaultUrgentTaskCheckInterval  = 20 * time.Millisecond
	DefaultDelayedTaskCheckInterval = time.Second
)

// Config configures a Worker. Redis, Store, Directories and Queue are
// required; zero values of the others take the defaults.
type Config struct {
	Redis       asynq.RedisConnOpt
	Store       remediation.Store
	Directories remediation.Directories
	// Executors run the actions; two with the same Action panic in New.
	Executors []remediation.Executor
	// Queue enqueues item tasks (fan-out) and fan-out tasks (reconciler).
	Queue *queue.Client
	// Concurrency is the number of bulk item tasks run at once. Default 20.
	Concurrency int
	// UrgentConcurrency is the number of urgent tasks (urgent jobs'
	// fan-outs and items) run at once, in task slots of their own that
	// bulk work cannot fill. Default 10.
	UrgentConcurrency int
	// ControlConcurrency is the number of control tasks (bulk jobs'
	// fan-outs, policy flushes, webhook deliveries) run at once, in task
	// slots of their own. Default 10.
	ControlConcurrency int
	// MaxRetry, when positive, lowers the number of Graph retries an item
	// gets below what its task was enqueued with (queue.Options.MaxRetry).
	MaxRetry int
	// BaseBackoff and MaxBackoff bound the exponential backoff (full
	// jitter) between Graph retries; Graph's Retry-After wins when longer.
	// Defaults 1 s and 5 min.
	BaseBackoff, MaxBackoff time.Duration
	// ReconcileInterval is the period of the reconciler that starts
	// unfinished fan-outs. Default 10 s.
	ReconcileInterval time.Duration
	// StaleAfter is how long a job may make no progress before the
	// reconciler enqueues the tasks of its unfinished items again (their
	// tasks may be lost), and a fan-out cursor may stand still before it
	// resumes the fan-out (see reconcile_items.go). Keep it above the item
	// task time-out. Default 5 min.
	StaleAfter time.Duration
	// ShutdownTimeout is how long Shutdown lets running tasks finish
	// before they are put back in the queue. Default 25 s.
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often asynq promotes scheduled tasks
	// (paced bulk items) and retries whose time has come. Default 1 s
	// (asynq's own 5 s would release a paced job's items in bursts, with
	// gaps between them).
	DelayedTaskCheckInterval time.Duration
	// TaskCheckInterval is how long (on average) the control and bulk
	// lanes sleep when their queue is empty. Default 100 ms.
	TaskCheckInterval time.Duration
	// UrgentTaskCheckInterval is the same for the urgent lane. Default
	// 20 ms: an urgent job waits for it twice (its fan-out, then its
	// item), where asynq's own 1 s would cost up to two seconds; an idle
	// urgent lane costs one dequeue script per 20 ms per worker process.
	UrgentTaskCheckInterval time.Duration
	// FanoutPageSize is the number of items a fan-out enqueues per store
	// page. Default 1000.
	FanoutPageSize int
	// PolicyFlusher applies batched policy requests (enforce_mfa and
	// enforce_phishing_resistant_mfa). Nil: a policy request fails its
	// item with not_implemented.
	PolicyFlusher PolicyFlusher
	// PolicyBatchSize bounds the requests one flush applies. Default 5000.
	PolicyBatchSize int
	// PolicyLockTTL is the time-to-live of a flush's (tenant, kind) lock,
	// renewed every third of it while the flush runs. Default 30 s.
	PolicyLockTTL time.Duration
	// PolicyRequestMaxAge is the age of pending policy requests for which
	// the reconciler starts a flush again (a flush task lost or failed).
	// Default 30 s.
	PolicyRequestMaxAge time.Duration
	// PolicyFlushBudget is how long one flush task applies batch after
	// batch before it hands the rest to a new task. Default 2 min.
	PolicyFlushBudget time.Duration
	// Logger receives the worker's and asynq's logs. Default slog.Default().
	Logger *slog.Logger
	// Gate is the Graph budget gate that Directories are metered with
	// (budget.Wrap); nil when they are not. With a Gate, the fan-out of a
	// bulk job schedules its item tasks at the pace the tenant's budget
	// allows, a bulk item of a paused tenant gives its worker back at
	// once, and budget refusals reschedule tasks without counting retries.
	Gate *budget.Gate
	// Limits are the Graph budgets of a tenant, as Directories are metered
	// with. Default DefaultLimits.
	Limits func(t *remediation.Tenant) budget.Limits
	// Webhooks configures webhook delivery (webhook.go); the zero value
	// sends none.
	Webhooks WebhookConfig
	// TracerProvider makes a consumer span per task (tracing.go); nil
	// means none (the no-op provider).
	TracerProvider trace.TracerProvider
}

// Worker is the asynq server running fan-out, item and policy flush
// tasks, plus the reconciler.
type Worker struct {
	store      remediation.Store
	jobs       *jobCache
	tenants    *tenantCache
	shared     *sharedReads // remediation.Exec.Shared
	unpaused   sync.Map     // tenant id -> time of the last pause probe that found none
	dirs       remediation.Directories
	queue      *queue.Client
	executors  map[remediation.Action]remediation.Executor
	maxRetry   int
	backoff    backoff
	fanoutPage int
	reconcileT time.Duration
	log        *slog.Logger
	tracer     trace.Tracer

	flusher      PolicyFlusher
	rdb          redis.UniversalClient // flush locks
	policyBatch  int
	lockTTL      time.Duration
	policyMaxAge time.Duration
	flushBudget  time.Duration

	hooks *webhooks // nil: webhooks off

	gate   *budget.Gate // nil: Graph calls are not metered
	limits func(t *remediation.Tenant) budget.Limits

	stale staleState // the stale-item reconciler's memory (reconcile_items.go)

	// servers are the asynq servers of the worker, one per queue
	// (queue.Lanes): each dequeues from its own queue only, so a bulk
	// worker slot costs one dequeue per task, and urgent and control
	// work have task slots bulk work cannot fill.
	servers []*asynq.Server
	mux     *asynq.ServeMux

	mu        sync.Mutex
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Worker for cfg. It panics when two executors share an
// action, as registering a handler twice is a programming error.
func New(cfg Config) (*Worker, error) {
	switch {
	case cfg.Redis == nil:
		return nil, errors.New("worker: Config.Redis is required")
	case cfg.Store == nil:
		return nil, errors.New("worker: Config.Store is required")
	case cfg.Directories == nil:
		return nil, errors.New("worker: Config.Directories is required")
	case cfg.Queue == nil:
		return nil, errors.New("worker: Config.Queue is required")
	}
	w := &Worker{
		store:      cfg.Store,
		jobs:       newJobCache(readCacheTTL),
		tenants:    newTenantCache(readCacheTTL),
		shared:     newSharedReads(sharedReadTTL),
		dirs:       cfg.Directories,
		queue:      cfg.Queue,
		executors:  make(map[remediation.Action]remediation.Executor),
		maxRetry:   cfg.MaxRetry,
		fanoutPage: cmp.Or(cfg.FanoutPageSize, DefaultFanoutPageSize),
		reconcileT: cmp.Or(cfg.ReconcileInterval, DefaultReconcileInterval),
		log:        cmp.Or(cfg.Logger, slog.Default()),
		mux:        asynq.NewServeMux(),

		flusher:      cfg.PolicyFlusher,
		policyBatch:  cmp.Or(cfg.PolicyBatchSize, DefaultPolicyBatchSize),
		lockTTL:      cmp.Or(cfg.PolicyLockTTL, DefaultPolicyLockTTL),
		policyMaxAge: cmp.Or(cfg.PolicyRequestMaxAge, DefaultPolicyRequestMaxAge),
		flushBudget:  cmp.Or(cfg.PolicyFlushBudget, DefaultPolicyFlushBudget),
		stale:        newStaleState(cfg),
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	w.tracer = tp.Tracer(tracerName)
	w.gate, w.limits = cfg.Gate, cfg.Limits
	if w.limits == nil {
		w.limits = DefaultLimits
	}
	w.backoff = backoff{base: cmp.Or(cfg.BaseBackoff, DefaultBaseBackoff), max: cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)}
	if w.backoff.max < w.backoff.base {
		return nil, fmt.Errorf("worker: MaxBackoff %s is below BaseBackoff %s", w.backoff.max, w.backoff.base)
	}
	for _, e := range cfg.Executors {
		if _, dup := w.executors[e.Action()]; dup {
			panic(fmt.Sprintf("worker: two executors for action %s", e.Action()))
		}
		w.executors[e.Action()] = e
	}
	if w.lockTTL < 300*time.Millisecond {
		return nil, fmt.Errorf("worker: PolicyLockTTL %s is too short", w.lockTTL)
	}
	hooks, err := newWebhooks(cfg.Webhooks)
	if err != nil {
		return nil, err
	}
	w.hooks = hooks
	rdb, err := redisClient(cfg.Redis)
	if err != nil {
		return nil, err
	}
	w.rdb = rdb
	w.mux.Use(w.traceTask)
	w.mux.HandleFunc(queue.TypeFanout, w.handleFanout)
	w.mux.HandleFunc(queue.TypeItem, w.handleItem)
	w.mux.HandleFunc(queue.TypePolicyFlush, w.handlePolicyFlush)
	w.mux.HandleFunc(queue.TypeWebhook, w.handleWebhook)

	concurrency := map[string]int{
		queue.QueueUrgent:  cmp.Or(cfg.UrgentConcurrency, DefaultUrgentConcurrency),
		queue.QueueControl: cmp.Or(cfg.ControlConcurrency, DefaultControlConcurrency),
		queue.QueueBulk:    cmp.Or(cfg.Concurrency, DefaultConcurrency),
	}
	checkInterval := map[string]time.Duration{
		queue.QueueUrgent:  cmp.Or(cfg.UrgentTaskCheckInterval, DefaultUrgentTaskCheckInterval),
		queue.QueueControl: cmp.Or(cfg.TaskCheckInterval, DefaultTaskCheckInterval),
		queue.QueueBulk:    cmp.Or(cfg.TaskCheckInterval, DefaultTaskCheckInterval),
	}
	for _, q := range queue.Lanes() {
		w.servers = append(w.servers, asynq.NewServer(cfg.Redis, asynq.Config{
			Concurrency:              concurrency[q],
			Queues:                   map[string]int{q: 1},
			BaseContext:              func() context.Context { return context.Background() },
			RetryDelayFunc:           func(_ int, err error, _ *asynq.Task) time.Duration { return w.backoff.delayFor(err) },
			IsFailure:                isFailure,
			ErrorHandler:             asynq.ErrorHandlerFunc(w.logTaskError),
			Logger:                   asynqLogger{w.log},
			LogLevel:                 asynq.InfoLevel,
			ShutdownTimeout:          cmp.Or(cfg.ShutdownTimeout, DefaultShutdownTimeout),
			DelayedTaskCheckInterval: cmp.Or(cfg.DelayedTaskCheckInterval, DefaultDelayedTaskCheckInterval),
			TaskCheckInterval:        checkInterval[q],
		}))
	}
	return w, nil
}

// Start starts processing tasks and the reconciler, and returns.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		return errors.New("worker: already started")
	}
	for i, srv := range w.servers {
		if err := srv.Start(w.mux); err != nil {
			for _, started := range w.servers[:i] {
				started.Shutdown()
			}
			return fmt.Errorf("worker: start asynq server: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	waitSweep := w.startWebhookSweep(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		queue.WatchTenantChanges(ctx, w.rdb, w.tenants.drop, w.tenants.dropAll)
	}()
	go func() {
		defer close(w.done)
		defer func() { <-watched }()
		defer waitSweep()
		w.reconcile(ctx, w.reconcileT)
	}()
	return nil
}

// Shutdown stops the reconciler, stops taking tasks, and waits up to the
// shutdown timeout for running tasks; those still running are put back
// in their queue.
func (w *Worker) Shutdown() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	var wg sync.WaitGroup
	for _, srv := range w.servers {
		wg.Go(srv.Shutdown) // each waits up to the shutdown timeout: together
	}
	wg.Wait()
	w.closeOnce.Do(func() {
		if err := w.rdb.Close(); err != nil {
			w.log.Warn("worker: close redis client", slog.Any("error", err))
		}
	})
}

// Run starts the worker, waits until ctx ends, and shuts down gracefully.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Shutdown()
	return nil
}

// logTaskError is the server's ErrorHandler. Expected outcomes (a retry
// scheduled, an item failed for good) were recorded in the store and log
// at Debug; anything else is a problem to look at and logs at Warn.
func (w *Worker) logTaskError(ctx context.Context, t *asynq.Task, err error) {
	id, _ := asynq.GetTaskID(ctx)
	n, _ := asynq.GetRetryCount(ctx)
	m, _ := asynq.GetMaxRetry(ctx)
	attrs := []any{slog.String("type", t.Type()), slog.String("task_id", id),
		slog.Int("retried", n), slog.Int("max_retry", m), slog.Any("error", err)}
	var (
		re *retryError
		be *busyError
		we *bounceError
	)
	switch {
	case errors.As(err, &re):
		w.log.DebugContext(ctx, "task retry scheduled", append(attrs, slog.Duration("delay", re.delay))...)
	case errors.As(err, &be):
		w.log.DebugContext(ctx, "task waits for a lock", append(attrs, slog.Duration("delay", be.delay))...)
	case errors.As(err, &we):
		w.log.DebugContext(ctx, "task waits for the Graph budget", append(attrs, slog.Duration("delay", we.delay))...)
	case errors.Is(err, asynq.SkipRetry):
		w.log.DebugContext(ctx, "task failed permanently", attrs...)
	default:
		w.log.WarnContext(ctx, "task error, will run again", attrs...)
	}
}
