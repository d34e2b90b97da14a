package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/entraremediator/remediator/api"
	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/secrets"
	"github.com/entraremediator/remediator/internal/telemetry"
	"github.com/entraremediator/remediator/worker"
)

// Defaults of cmd/remediator (its REMEDIATOR_* defaults), used as they are.
const (
	graphTimeout      = 30 * time.Second
	shutdownTimeout   = 25 * time.Second
	reconcileInterval = 10 * time.Second
	maxRetry          = 12
	maxIdentities     = 100_000
	maxBodyBytes      = 16 << 20
	staleAfter        = 5 * time.Minute
)

// stack is the whole service, built in this process the way cmd/remediator
// builds `remediator api` and `remediator worker` replicas: every component
// has its own history store pool, queue client and Graph connector (behind
// a Graph budget gate).
type stack struct {
	cfg    config
	log    *slog.Logger
	redis  *redisServer
	ropt   asynq.RedisClientOpt
	rdb    *redis.Client // for INFO and the budget gate
	dbName string

	box      *secrets.Box
	setup    *history.Store // registers tenants
	apiStore *history.Store
	// workerStores are the workers' stores (for their group statistics).
	workerStores []*history.Store
	apiQueue     *queue.Client
	api          *api.Server
	apiKey       string
	workers      []*runningWorker

	caPEM []byte
}

// runningWorker is one worker replica with what it owns.
type runningWorker struct {
	w       *worker.Worker
	closers []io.Closer
}

// newStack starts Redis and a database, and opens the setup store. The
// simulators must be added (addSimulator) before start.
func newStack(ctx context.Context, cfg config, log *slog.Logger) (*stack, error) {
	s := &stack{cfg: cfg, log: log}
	var err error
	if s.redis, err = startRedis(); err != nil {
		return nil, err
	}
	s.ropt = asynq.RedisClientOpt{Network: "unix", Addr: s.redis.socket, PoolSize: 64}
	s.rdb = redis.NewClient(&redis.Options{Network: "unix", Addr: s.redis.socket})
	name, dbURL, err := createDatabase(ctx, cfg.dbAdmin)
	if err != nil {
		s.close()
		return nil, err
	}
	s.dbName = name
	s.cfg.dbURL = dbURL
	if s.box, err = secrets.NewBox(secrets.NewKey()); err != nil {
		s.close()
		return nil, err
	}
	if s.setup, err = history.Open(ctx, dbURL); err != nil {
		s.close()
		return nil, fmt.Errorf("open history store: %w", err)
	}
	s.apiKey = "rk_bench_" + hex.EncodeToString(randomBytes(16))
	return s, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// trust adds a simulator's CA to the CAs the Graph connectors trust.
func (s *stack) trust(sim *graphsim.Server) { s.caPEM = append(s.caPEM, sim.CACertPEM()...) }

// register stores a simulator tenant the way the API's POST /v1/tenants
// would (custom cloud pointing at the simulator, sealed secret).
func (s *stack) register(ctx context.Context, sim *graphsim.Server, t *graphsim.Tenant, name string,
	settings remediation.TenantSettings) error {
	ct, kid, err := s.box.Seal([]byte(t.ClientSecret()))
	if err != nil {
		return err
	}
	rt := &remediation.Tenant{
		ID: t.ID(), DisplayName: name, ClientID: t.ClientID(), Cloud: remediation.CloudCustom,
		GraphEndpoint: sim.GraphURL(), AuthorityHost: sim.AuthorityURL(),
		// With the defaults filled in: internal/history stores no settings
		// at all when only graph_limits is set.
		SecretCiphertext: ct, SecretKeyID: kid, Settings: settings.WithDefaults(),
	}
	if err := s.setup.CreateTenant(ctx, rt); err != nil {
		return fmt.Errorf("register tenant %s: %w", name, err)
	}
	return nil
}

// start builds and starts the API and the workers.
func (s *stack) start(ctx context.Context) error {
	var err error
	if s.apiStore, err = history.Open(ctx, s.cfg.dbURL); err != nil {
		return err
	}
	s.apiStore.TenantChanged = queue.TenantChangeAnnouncer(s.rdb, s.log) // as cmd/remediator
	s.apiQueue = queue.NewClient(s.ropt, queue.Options{MaxRetry: maxRetry})
	metrics := telemetry.New().WithQueue(s.ropt)
	s.api = api.New(api.Config{
		RateLimiter:    newRateLimiter(s.rdb, s.cfg.apiRateLimit),
		Verifier:       graph.NewConnector(graph.Options{Box: s.box, ExtraCAs: s.caPEM, Timeout: graphTimeout}),
		Metrics:        metrics,
		MetricsHandler: metrics.Handler(),
		Store:          s.apiStore,
		Dispatcher:     s.apiQueue,
		Box:            s.box,
		APIKey:         s.apiKey,
		MaxIdentities:  maxIdentities,
		MaxBodyBytes:   maxBodyBytes,
		Available:      available(),
		Logger:         s.log,
	})
	if err := s.api.Start("127.0.0.1:0"); err != nil {
		return err
	}
	for range s.cfg.workers {
		rw, err := s.newWorker(ctx)
		if err != nil {
			return err
		}
		if err := rw.w.Start(); err != nil {
			return err
		}
		s.workers = append(s.workers, rw)
	}
	return nil
}

func available() []remediation.Action {
	var out []remediation.Action
	for _, e := range actions.All() {
		out = append(out, e.Action())
	}
	return out
}

// newWorker builds one worker replica as cmd/remediator's runWorker does:
// its own store pool, queue client and Graph connector, the connector
// metered by a budget.Gate on the same Redis with the tenant's limits
// (worker.DefaultLimits: Microsoft's defaults with the tenant's
// graph_limits). With -budget=false the connector is not metered and the
// policy flusher paces Conditional Access calls with a worker.CAPacer, as
// the service did before the budget.
func (s *stack) newWorker(ctx context.Context) (*runningWorker, error) {
	rw := &runningWorker{}
	store, err := history.Open(ctx, s.cfg.dbURL)
	if err != nil {
		return nil, err
	}
	rw.closers = append(rw.closers, store)
	store.TenantChanged = queue.TenantChangeAnnouncer(s.rdb, s.log)
	s.workerStores = append(s.workerStores, store)
	q := queue.NewClient(s.ropt, queue.Options{MaxRetry: maxRetry})
	rw.closers = append(rw.closers, q)
	var dirs remediation.Directories = graph.NewConnector(graph.Options{Box: s.box, ExtraCAs: s.caPEM, Timeout: graphTimeout})
	// The policy holds every user of scenario 4 (the service's default cap
	// is actions.DefaultMaxPolicyUsers; REMEDIATOR_MAX_POLICY_USERS).
	flusher := &actions.PolicyFlusher{Store: store, MaxPolicyUsers: max(s.cfg.mfaN, actions.DefaultMaxPolicyUsers)}
	cfg := worker.Config{
		Redis:             s.ropt,
		Store:             store,
		Executors:         actions.All(),
		Queue:             q,
		Concurrency:       s.cfg.concurrency,
		ReconcileInterval: reconcileInterval,
		StaleAfter:        staleAfter,
		ShutdownTimeout:   shutdownTimeout,
		Logger:            s.log,
	}
	if s.cfg.budget {
		rdb := s.ropt.MakeRedisClient().(redis.UniversalClient)
		rw.closers = append(rw.closers, rdb)
		gate := budget.NewGate(rdb, budget.Options{})
		dirs = budget.Wrap(dirs, gate, worker.DefaultLimits, budget.WrapOptions{
			OnWait: func(name string, d time.Duration) {
				s.log.Debug("waiting for the Graph budget", slog.String("budget", name), slog.Duration("wait", d))
			},
			OnError: func(err error) { s.log.Warn("graph budget", slog.Any("error", err)) },
		})
		cfg.Gate, cfg.Limits = gate, worker.DefaultLimits
	} else {
		pacer, err := worker.NewCAPacer(s.ropt, 0)
		if err != nil {
			return nil, err
		}
		rw.closers = append(rw.closers, pacer)
		flusher.Pace = pacer.Pace
	}
	cfg.Directories, cfg.PolicyFlusher = dirs, flusher
	w, err := worker.New(cfg)
	if err != nil {
		return nil, err
	}
	rw.w = w
	return rw, nil
}

// close stops everything the stack started, in reverse order.
func (s *stack) close() {
	for _, rw := range s.workers {
		rw.w.Shutdown()
		for i := len(rw.closers) - 1; i >= 0; i-- {
			rw.closers[i].Close()
		}
	}
	if s.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.api.Shutdown(ctx)
		cancel()
	}
	for _, c := range []io.Closer{s.apiQueue, s.apiStore, s.setup} {
		if c != nil && !isNilCloser(c) {
			c.Close()
		}
	}
	if s.rdb != nil {
		s.rdb.Close()
	}
	if s.dbName != "" && !s.cfg.keepDB {
		dropDatabase(s.cfg.dbAdmin, s.dbName)
	}
	if s.redis != nil {
		s.redis.stop()
	}
}

// isNilCloser reports a typed nil pointer in an io.Closer.
func isNilCloser(c io.Closer) bool {
	switch v := c.(type) {
	case *queue.Client:
		return v == nil
	case *history.Store:
		return v == nil
	}
	return false
}

// baseURL is the API's URL.
func (s *stack) baseURL() string { return "http://" + s.api.Addr() }

// newSimulator starts a Graph simulator with opts (request log off).
func newSimulator(opts graphsim.Options) (*graphsim.Server, error) {
	opts.MaxLoggedRequests = -1
	sim, err := graphsim.New(opts)
	if err != nil {
		return nil, err
	}
	if err := sim.Start(); err != nil {
		return nil, fmt.Errorf("graph simulator: %w", err)
	}
	return sim, nil
}

// seedUsers adds n enabled member users to t and returns their object ids.
func seedUsers(t *graphsim.Tenant, prefix string, n int) []string {
	ids := make([]string, n)
	for i := range n {
		u := t.AddUser(graphsim.UserSpec{
			UserPrincipalName: fmt.Sprintf("%s%06d@%s", prefix, i, t.Domain()),
			AccountEnabled:    true,
		})
		ids[i] = u.ID
	}
	return ids
}

// newHTTPClient is the client the bench talks to the API with.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 512
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

var errTimeout = errors.New("timed out")

// groupStats sums the workers' group-commit statistics (history.Store.GroupStats).
func (s *stack) groupStats() (txs, ops int64) {
	for _, st := range s.workerStores {
		t, o := st.GroupStats()
		txs, ops = txs+t, ops+o
	}
	return txs, ops
}
