// Package api is the HTTP API of Entra Remediator, built on echo/v4.
//
// It validates remediation requests, records them in the history store
// (remediation.Store) and hands them to the queue (remediation.Dispatcher);
// it never waits for the per-identity work, except for a small dry run (at
// most 100 identities), whose preview it waits for up to Config.DryRunWait
// so that it can answer with the items (dryrun.go). Every route lives under /v1 and
// needs "Authorization: Bearer <api key>", except /healthz and /readyz.
//
// Paths, JSON field names and status words are a contract with the portal.
// Every error answer has the body {"error":{"code","message","details"}},
// where code is one of the remediation error codes (see errors.go for the
// mapping to HTTP statuses).
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Defaults of Config.
const (
	DefaultMaxIdentities = 100000
	DefaultMaxBodyBytes  = 16 << 20
	DefaultDryRunWait    = 10 * time.Second
)

// requestedBy is the principal recorded on jobs while the API knows a single
// bootstrap API key.
const requestedBy = "api-key:bootstrap"

// Config holds the dependencies and limits of a Server.
type Config struct {
	// Store is the history store (required).
	Store remediation.Store
	// Dispatcher starts the fan-out of accepted jobs (required).
	Dispatcher remediation.Dispatcher
	// Box seals tenant client secrets before they are stored (required).
	Box remediation.SecretBox
	// APIKey is the bearer token callers must present. Empty rejects every
	// authenticated route.
	APIKey string
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
	// Logger receives warnings, internal errors and debug access logs
	// (default slog.Default()).
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// NewID returns a new job id (default a UUID version 7).
	NewID func() string
}

// Server is the HTTP API. Create it with New.
type Server struct {
	cfg       Config
	echo      *echo.Echo
	log       *slog.Logger
	available map[remediation.Action]bool

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
	if cfg.NewID == nil {
		cfg.NewID = newUUIDv7
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		available: make(map[remediation.Action]bool, len(cfg.Available)),
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
	e.Use(s.requestID, s.accessLog, s.recoverPanic, s.authenticate, s.limitBody)

	// Probes (orchestrator, load balancer); no authentication.
	e.GET(pathHealthz, s.handleHealthz)
	e.GET(pathReadyz, s.handleReadyz)

	// Portal; bearer API key.
	v1 := e.Group("/v1")
	v1.POST("/tenants", s.handleTenantCreate)
	v1.GET("/tenants", s.handleTenantList)
	v1.GET("/tenants/:tenant_id", s.handleTenantGet)
	v1.PATCH("/tenants/:tenant_id", s.handleTenantUpdate)
	v1.POST("/tenants/:tenant_id/remediations", s.handleRemediationCreate)
	v1.GET("/remediations", s.handleRemediationList)
	v1.GET("/remediations/:id", s.handleRemediationGet)
	v1.POST("/remediations/:id/undo", s.handleRemediationUndo)
	v1.POST("/remediations/:id/retry", s.handleRemediationRetry)
	v1.POST("/remediations/:id/cancel", s.handleRemediationCancel)
	v1.GET("/remediations/:id/items", s.handleItemList)
	v1.GET("/remediations/:id/items/:identity", s.handleItemGet)
	v1.GET("/history", s.handleHistory)
	v1.GET("/actions", s.handleActionList)
	return e
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
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
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

// ctxKeyRequestID is the echo.Context key of the request id.
const ctxKeyRequestID = "api.request_id"

// requestID takes a well-formed X-Request-Id from the caller or makes one,
// and echoes it in the response.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(ctxKeyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':'
		if !ok {
			return false
		}
	}
	return true
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxKeyRequestID).(string)
	return id
}

// accessLog writes one debug line per request. It renders a handler error
// itself so that the logged status is the one sent.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		ctx := c.Request().Context()
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.LogAttrs(ctx, slog.LevelDebug, "api: request",
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.String("route", c.Path()),
				slog.Int("status", c.Response().Status),
				slog.Int64("bytes", c.Response().Size),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", requestIDOf(c)))
		}
		return nil
	}
}

// errPanic is returned for a recovered panic, which is already logged.
var errPanic = errors.New("api: handler panicked")

// recoverPanic turns a handler panic into a logged 500 answer.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c.Request().Context(), "api: handler panicked",
				slog.String("panic", fmt.Sprint(r)),
				slog.String("route", c.Path()),
				slog.String("request_id", requestIDOf(c)),
				slog.String("stack", string(debug.Stack())))
			err = errPanic
		}()
		return next(c)
	}
}

// Paths of the probes, the only routes without authentication.
const (
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
)

// authenticate checks the bearer API key in constant time (both sides are
// hashed first so that the length of the key does not leak either). Every
// request needs it but the probes, unknown routes included.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.APIKey))
	return func(c echo.Context) error {
		if p := c.Request().URL.Path; p == pathHealthz || p == pathReadyz {
			return next(c)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		const scheme = "Bearer "
		ok := len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme)
		if ok {
			got := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
			ok = subtle.ConstantTimeCompare(got[:], want[:]) == 1 && s.cfg.APIKey != ""
		}
		if !ok {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="remediator"`)
			return remediation.Errorf(remediation.EUNAUTHORIZED, "A valid API key is required: Authorization: Bearer <key>.")
		}
		return next(c)
	}
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, while reading otherwise (see decodeJSON).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.cfg.MaxBodyBytes {
			return tooLarge(s.cfg.MaxBodyBytes)
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.MaxBodyBytes)
		}
		return next(c)
	}
}

func tooLarge(limit int64) error {
	return &remediation.Error{
		Code:    remediation.ETOOLARGE,
		Message: fmt.Sprintf("The request body exceeds %d bytes.", limit),
		Details: map[string]any{"max_body_bytes": limit},
	}
}
