// Package api is the HTTP API of Entra Remediator, built on echo/v4.
//
// It validates remediation requests, records them in the history store
// (remediation.Store) and hands them to the queue (remediation.Dispatcher);
// it never waits for the per-identity work, except for a small dry run (at
// most 100 identities), whose preview it waits for up to Config.DryRunWait
// so that it can answer with the items (dryrun.go). A job's progress is
// also streamed as Server-Sent Events (events.go). Every route lives under
// /v1 and needs "Authorization: Bearer <api key>", except /healthz,
// /readyz, /metrics and /openapi.yaml, the OpenAPI 3 description of the
// whole API (openapi.yaml, kept exact by openapi_test.go).
//
// Paths, JSON field names and status words are a contract with the portal.
// Every error answer has the body {"error":{"code","message","details"}},
// where code is one of the remediation error codes (see errors.go for the
// mapping to HTTP statuses).
//
// Callers authenticate with the bootstrap key (Config.APIKey, an admin for
// all tenants) or with stored API keys (keys.go), each with a role (viewer,
// operator, admin) and optionally limited to tenants; authz.go says how
// roles and tenant scopes are enforced. Administrative actions are written
// to the audit log (audit.go).
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Defaults of Config.
const (
	DefaultMaxIdentities = 100000
	DefaultMaxBodyBytes  = 16 << 20
	DefaultDryRunWait    = 10 * time.Second
	// maxHeaderBytes caps the request line and headers.
	maxHeaderBytes = 64 << 10
)

// Config holds the dependencies and limits of a Server.
type Config struct {
	// Store is the history store (required).
	Store remediation.Store
	// Dispatcher starts the fan-out of accepted jobs (required).
	Dispatcher remediation.Dispatcher
	// Box seals tenant credentials and webhook signing secrets before they
	// are stored (required).
	Box remediation.SecretBox
	// APIKey is the bootstrap bearer token: an admin for all tenants
	// (recorded as "api-key:bootstrap"). Empty: only stored keys work.
	APIKey string
	// Access keeps API keys, the audit log and webhooks. Nil: taken from
	// Store when it implements remediation.AccessStore; without one only
	// the bootstrap key authenticates and the key, audit, webhook and
	// tenant-delete routes answer 501.
	Access remediation.AccessStore
	// RateLimiter limits requests per API key (nil: no limit).
	RateLimiter RateLimiter
	// Verifier checks tenant credentials for POST
	// /v1/tenants/{id}/verify (nil: that route answers 501).
	Verifier remediation.Verifier
	// AllowPrivateWebhooks permits webhook URLs over http and to
	// loopback, private and other internal addresses (tests, labs).
	AllowPrivateWebhooks bool
	// LookupIP resolves webhook hosts (default net.DefaultResolver).
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// MaxIdentities caps the identities of one job (default 100000).
	MaxIdentities int
	// MaxBodyBytes caps request bodies (default 16 MiB).
	MaxBodyBytes int64
	// AllowCustomEndpoints permits tenants with cloud "custom" (own Graph
	// and authority URLs); refused with 403 otherwise.
	AllowCustomEndpoints bool
	// Available lists the actions this build executes; other catalog
	// actions are answered with 501.
	Available []remediation.Action
	// DryRunWait is how long POST …/remediations (and undo, retry) waits
	// for a dry run of at most 100 identities to complete so that it can
	// answer 200 with the items (default 10 s; negative: never wait).
	DryRunWait time.Duration
	// Metrics observes every request (route template, method, status,
	// duration); nil: none. MetricsHandler, when set, is served without
	// authentication at /metrics (Prometheus scrapes; no secrets in it).
	Metrics        HTTPObserver
	MetricsHandler http.Handler
	// Logger receives warnings, internal errors and debug access logs
	// (default slog.Default()).
	Logger *slog.Logger
	// TracerProvider makes a server span per request (tracing.go); nil
	// means none (the no-op provider).
	TracerProvider trace.TracerProvider
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// NewID returns a new job or webhook id (default a UUID version 7).
	NewID func() string
}

// HTTPObserver records HTTP request metrics.
type HTTPObserver interface {
	ObserveHTTP(route, method string, code int, d time.Duration)
}

// Server is the HTTP API. Create it with New.
type Server struct {
	cfg       Config
	echo      *echo.Echo
	log       *slog.Logger
	tracer    trace.Tracer
	available map[remediation.Action]bool
	access    remediation.AccessStore // nil when none is configured
	touched   touchThrottle
	// streamsDone is closed when the HTTP server shuts down: event streams
	// end, so that Shutdown does not wait for them (events.go).
	streamsDone chan struct{}
	endStreams  sync.Once

	mu       sync.Mutex
	httpSrv  *http.Server
	listener net.Listener
	serveErr chan error
}

// New returns a Server for cfg, with defaults filled in. It panics if
// Store, Dispatcher or Box is nil: that is a wiring mistake.
func New(cfg Config) *Server {
	if cfg.Store == nil || cfg.Dispatcher == nil || cfg.Box == nil {
		panic("api.New: Store, Dispatcher and Box are required")
	}
	if cfg.MaxIdentities <= 0 {
		cfg.MaxIdentities = DefaultMaxIdentities
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.DryRunWait == 0 {
		cfg.DryRunWait = DefaultDryRunWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.NewID == nil {
		cfg.NewID = newUUIDv7
	}
	if cfg.LookupIP == nil {
		cfg.LookupIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if cfg.Access == nil {
		cfg.Access, _ = cfg.Store.(remediation.AccessStore)
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		tracer:    cfg.TracerProvider.Tracer(tracerName),
		available: make(map[remediation.Action]bool, len(cfg.Available)),
		access:    cfg.Access,

		streamsDone: make(chan struct{}),
	}
	if s.access == nil {
		s.log.Warn("api: no access store: only the bootstrap key authenticates; keys, audit and webhooks are off")
	}
	for _, a := range cfg.Available {
		s.available[a] = true
	}
	s.echo = s.newEcho()
	return s
}

func newUUIDv7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// newEcho builds the router: global middleware, then the public probes, then
// the authenticated /v1 group.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// Middleware runs after routing, for every request including unknown
	// routes; no group middleware, which would turn 405s into 404s.
	e.Use(s.requestID, s.traceRequest, s.accessLog, s.recoverPanic, s.authenticate, s.rateLimit, s.limitBody)

	// Probes (orchestrator, load balancer); no authentication.
	e.GET(pathHealthz, s.handleHealthz)
	e.GET(pathReadyz, s.handleReadyz)
	if s.cfg.MetricsHandler != nil {
		e.GET(pathMetrics, echo.WrapHandler(s.cfg.MetricsHandler))
	}
	// The OpenAPI description of this API (openapi.go); no authentication.
	e.GET(pathOpenAPI, s.handleOpenAPI)

	// Portal and operators; bearer API key with the role each route needs.
	v1 := e.Group("/v1")
	for _, r := range s.routes() {
		v1.Add(r.method, r.path, r.handler, s.require(r.need))
	}
	return e
}

// route is one authenticated route under /v1.
type route struct {
	method, path string
	need         need
	handler      echo.HandlerFunc
}

// routes lists every /v1 route with what it requires (authz.go).
func (s *Server) routes() []route {
	const get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	return []route{
		{post, "/tenants", needRootAudited, s.handleTenantCreate},
		{get, "/tenants", needViewer, s.handleTenantList},
		{get, "/tenants/:tenant_id", needViewer, s.handleTenantGet},
		{patch, "/tenants/:tenant_id", needAdminAudited, s.handleTenantUpdate},
		{del, "/tenants/:tenant_id", needAdminAudited, s.handleTenantDelete},
		{put, "/tenants/:tenant_id/credentials", needAdminAudited, s.handleTenantCredentials},
		{post, "/tenants/:tenant_id/verify", needAdminAudited, s.handleTenantVerify},
		{post, "/tenants/:tenant_id/webhooks", needAdminAudited, s.handleWebhookCreate},
		{get, "/tenants/:tenant_id/webhooks", needAdmin, s.handleWebhookList},
		{del, "/tenants/:tenant_id/webhooks/:webhook_id", needAdminAudited, s.handleWebhookDelete},
		{get, "/tenants/:tenant_id/webhooks/:webhook_id/deliveries", needAdmin, s.handleDeliveryList},
		{post, "/tenants/:tenant_id/remediations", needOperator, s.handleRemediationCreate},
		{get, "/remediations", needViewer, s.handleRemediationList},
		{get, "/remediations/:id", needViewer, s.handleRemediationGet},
		{get, "/remediations/:id/events", needViewer, s.handleRemediationEvents},
		{post, "/remediations/:id/undo", needOperatorAudited, s.handleRemediationUndo},
		{post, "/remediations/:id/retry", needOperatorAudited, s.handleRemediationRetry},
		{post, "/remediations/:id/cancel", needOperatorAudited, s.handleRemediationCancel},
		{get, "/remediations/:id/items", needViewer, s.handleItemList},
		{get, "/remediations/:id/items/:identity", needViewer, s.handleItemGet},
		{get, "/history", needViewer, s.handleHistory},
		{get, "/actions", needViewer, s.handleActionList},
		{get, "/audit", needAdmin, s.handleAuditList},
		{post, "/keys", needRootAudited, s.handleKeyCreate},
		{get, "/keys", needRoot, s.handleKeyList},
		{del, "/keys/:key_id", needRootAudited, s.handleKeyRevoke},
	}
}

// Handler returns the http.Handler serving the API.
func (s *Server) Handler() http.Handler { return s.echo }

// Start listens on addr (":0" picks a free port) and serves in the
// background. It returns once the listener is bound, or the listen error;
// Addr then reports the bound address. Stop the server with Shutdown.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return errors.New("api: server already started")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { s.endStreams.Do(func() { close(s.streamsDone) }) })
	s.httpSrv, s.listener, s.serveErr = srv, l, make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else if err != nil {
			s.log.Error("api: serve failed", slog.Any("err", err))
		}
		s.serveErr <- err
	}()
	s.log.Info("api: listening", slog.String("addr", l.Addr().String()))
	return nil
}

// Addr returns the address the server listens on, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Shutdown stops accepting connections and waits for running requests to
// end or ctx to expire. It returns the error that stopped serving, if any.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.httpSrv, s.serveErr
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	select {
	case err := <-done:
		done <- err // keep it for a second Shutdown call
		return err
	case <-ctx.Done():
		return fmt.Errorf("api: shutdown: %w", ctx.Err())
	}
}
