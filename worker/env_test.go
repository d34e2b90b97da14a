package worker_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/secrets"
	"github.com/entraremediator/remediator/internal/testenv"
	"github.com/entraremediator/remediator/worker"
)

// bundle is one test's stack: real redis-server, SQLite history store,
// the Graph simulator over HTTPS, the real Graph client, and a worker.
type bundle struct {
	t      *testing.T
	ctx    context.Context
	redis  *testenv.RedisServer
	sim    *graphsim.Server
	tenant *graphsim.Tenant
	store  *history.Store
	box    *secrets.Box
	queue  *queue.Client
	insp   *asynq.Inspector
	pacer  *worker.CAPacer
	worker *worker.Worker
	cfg    worker.Config
}

// options tune setup.
type options struct {
	maxRetry          int           // item retry budget (queue.Options.MaxRetry); default 3
	reconcileInterval time.Duration // default 1 h: tests start fan-outs themselves
	fanoutPageSize    int
	noStart           bool // build the worker without starting it
	// policyMaxAge is worker.Config.PolicyRequestMaxAge (default 30 s).
	policyMaxAge time.Duration
}

func setup(t *testing.T, o options) *bundle {
	t.Helper()
	ctx := context.Background()
	b := &bundle{t: t, ctx: ctx}
	logger := testLogger(t)

	sim, err := graphsim.New(graphsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	b.sim = sim
	b.tenant = sim.AddTenant(graphsim.TenantSpec{ID: uuid.NewString(), ClientID: uuid.NewString(),
		ClientSecret: "test-secret-" + uuid.NewString()})

	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	b.box = box
	b.store, err = history.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.store.Close() })
	sealed, keyID, err := box.Seal([]byte(b.tenant.ClientSecret()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := b.store.CreateTenant(ctx, &remediation.Tenant{
		ID: b.tenant.ID(), DisplayName: "Contoso", ClientID: b.tenant.ClientID(), Cloud: remediation.CloudCustom,
		GraphEndpoint: sim.GraphURL(), AuthorityHost: sim.AuthorityURL(), CreatedAt: now, UpdatedAt: now,
		SecretCiphertext: sealed, SecretKeyID: keyID,
	}); err != nil {
		t.Fatal(err)
	}

	b.redis = testenv.Redis(t)
	// As cmd/remediator: tenant changes are announced to the workers.
	announce := b.redis.Client()
	t.Cleanup(func() { announce.Close() })
	b.store.TenantChanged = queue.TenantChangeAnnouncer(announce, logger)
	maxRetry := o.maxRetry
	if maxRetry == 0 {
		maxRetry = 3
	}
	b.queue = queue.NewClient(b.redis.Opt(), queue.Options{MaxRetry: maxRetry, ItemTimeout: 30 * time.Second,
		PolicyFlushWindow: time.Second})
	t.Cleanup(func() { b.queue.Close() })
	b.insp = asynq.NewInspector(b.redis.Opt())
	t.Cleanup(func() { b.insp.Close() })

	reconcile := o.reconcileInterval
	if reconcile == 0 {
		reconcile = time.Hour
	}
	b.pacer, err = worker.NewCAPacer(b.redis.Opt(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.pacer.Close() })
	b.cfg = worker.Config{
		Redis:                    b.redis.Opt(),
		Store:                    b.store,
		Directories:              graph.NewConnector(graph.Options{Box: box, RootCAs: sim.CAPool(), Timeout: 10 * time.Second}),
		Executors:                actions.All(),
		Queue:                    b.queue,
		Concurrency:              8,
		BaseBackoff:              100 * time.Millisecond,
		MaxBackoff:               400 * time.Millisecond,
		ReconcileInterval:        reconcile,
		ShutdownTimeout:          5 * time.Second,
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		TaskCheckInterval:        50 * time.Millisecond,
		FanoutPageSize:           o.fanoutPageSize,
		PolicyFlusher:            &actions.PolicyFlusher{Store: b.store, Pace: b.pacer.Pace},
		PolicyRequestMaxAge:      o.policyMaxAge,
		Logger:                   logger,
	}
	b.worker, err = worker.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !o.noStart {
		b.start()
	}
	return b
}

// newWorker builds another worker from the bundle's config changed by mod.
func (b *bundle) newWorker(mod func(*worker.Config)) (*worker.Worker, error) {
	cfg := b.cfg
	cfg.Executors = append([]remediation.Executor(nil), cfg.Executors...)
	mod(&cfg)
	return worker.New(cfg)
}

func (b *bundle) start() {
	b.t.Helper()
	if err := b.worker.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(b.worker.Shutdown)
}

// addUser adds a user to the simulated tenant; identities are UPNs.
func (b *bundle) addUser(spec graphsim.UserSpec) graphsim.UserState {
	if spec.ID == "" {
		spec.ID = uuid.NewString()
	}
	return b.tenant.AddUser(spec)
}

// createJob stores a job; it does not start its fan-out.
func (b *bundle) createJob(action remediation.Action, priority string, identities ...string) *remediation.Job {
	b.t.Helper()
	return b.createJobWith(action, priority, nil, identities...)
}

// createJobWith stores a job changed by mod (e.g. a dry run).
func (b *bundle) createJobWith(action remediation.Action, priority string, mod func(*remediation.Job), identities ...string) *remediation.Job {
	b.t.Helper()
	norm := make([]string, len(identities))
	for i, id := range identities {
		n, err := remediation.NormalizeIdentity(id)
		if err != nil {
			b.t.Fatal(err)
		}
		norm[i] = n
	}
	j := &remediation.Job{
		ID: uuid.NewString(), TenantID: b.tenant.ID(), Action: action, Status: remediation.JobQueued,
		Reason: "test", RequestedBy: "tester", Actor: "tester", Priority: priority, CreatedAt: time.Now().UTC(),
	}
	if mod != nil {
		mod(j)
	}
	job, created, err := b.store.CreateJob(b.ctx, j, norm)
	if err != nil || !created {
		b.t.Fatalf("CreateJob: created=%v err=%v", created, err)
	}
	return job
}

// submit stores a job and starts its fan-out, like the API does.
func (b *bundle) submit(action remediation.Action, priority string, identities ...string) *remediation.Job {
	b.t.Helper()
	job := b.createJob(action, priority, identities...)
	if err := b.queue.StartFanout(b.ctx, job.ID, job.Priority); err != nil {
		b.t.Fatal(err)
	}
	return job
}

// waitJob polls until the job is completed or canceled.
func (b *bundle) waitJob(id string, within time.Duration) *remediation.Job {
	b.t.Helper()
	var job *remediation.Job
	b.eventually(within, "job "+id+" to finish", func() bool {
		var err error
		job, err = b.store.GetJob(b.ctx, id)
		if err != nil {
			b.t.Fatal(err)
		}
		return job.Status == remediation.JobCompleted || job.Status == remediation.JobCanceled
	})
	return job
}

// waitDrained polls until no task is pending, active, scheduled or
// waiting for a retry in any queue.
func (b *bundle) waitDrained(within time.Duration) {
	b.t.Helper()
	b.eventually(within, "queues to drain", func() bool {
		for _, q := range queue.Lanes() {
			info, err := b.insp.GetQueueInfo(q)
			if err != nil {
				if errors.Is(err, asynq.ErrQueueNotFound) || strings.Contains(err.Error(), "does not exist") {
					continue
				}
				b.t.Fatal(err)
			}
			if info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
				return false
			}
		}
		return true
	})
}

func (b *bundle) eventually(within time.Duration, what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// item returns a job's item by identity, with its call log.
func (b *bundle) item(jobID, identity string) (*remediation.Item, []remediation.Call) {
	b.t.Helper()
	it, calls, err := b.store.GetItem(b.ctx, jobID, strings.ToLower(identity))
	if err != nil {
		b.t.Fatalf("GetItem(%s): %v", identity, err)
	}
	return it, calls
}

// userRequests returns the simulator's Graph requests about one user
// (by object id or UPN in the path or the query), oldest first.
func (b *bundle) userRequests(u graphsim.UserState) []graphsim.Request {
	var out []graphsim.Request
	for _, r := range b.sim.Requests() {
		p := strings.ToLower(r.Path + "?" + r.Query)
		if r.Endpoint == graphsim.EndpointGraph &&
			(u.ID != "" && strings.Contains(p, strings.ToLower(u.ID)) || strings.Contains(p, strings.ToLower(u.UserPrincipalName))) {
			out = append(out, r)
		}
	}
	return out
}

// countOps counts requests per method.
func countOps(reqs []graphsim.Request, method string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == method {
			n++
		}
	}
	return n
}

// testLogger logs to the test output until the test ends.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close) // registered first: runs after every other cleanup
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
