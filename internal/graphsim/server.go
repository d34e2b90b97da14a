package graphsim

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server.
type Options struct {
	// Addr is the TCP address to listen on; default 127.0.0.1:0.
	Addr string
	// Hosts are extra DNS names or IP addresses for the server certificate,
	// besides 127.0.0.1, ::1 and localhost.
	Hosts []string
	// Latency is added to every Graph call (not to token requests).
	Latency time.Duration
	// Logger receives start/stop messages at info level and one line per
	// request at debug level. Default: discard.
	Logger *slog.Logger
	// MaxLoggedRequests bounds the request log (oldest entries are dropped);
	// 0 means 100000, a negative value disables the log.
	MaxLoggedRequests int
	// Quotas turns Graph's identity-and-access throttling on for every
	// tenant (a tenant can change it with SetQuotas); nil = off.
	Quotas *Quotas
	// TimeScale runs quota windows, the Conditional Access limit and
	// Retry-After values this many times faster (e.g. 10 for benchmarks);
	// 0 or 1 = real time. Options.Latency is not scaled.
	TimeScale float64
	// CARequestsPerSecond limits Conditional Access requests per tenant
	// (all methods, all apps; answered 429 without Retry-After). 0 means
	// Graph's 1 per second; negative turns the limit off.
	CARequestsPerSecond float64
	// CAPolicyMaxBytes is the largest Conditional Access policy, as compact
	// JSON, a tenant accepts (Graph stores policies as size-limited JSON
	// documents); 0 = DefaultCAPolicyMaxBytes. TenantSpec can override it.
	CAPolicyMaxBytes int
}

// Server is a Microsoft Graph and Entra token endpoint simulator.
type Server struct {
	opts Options
	log  *slog.Logger

	ca      *x509.Certificate
	caPEM   []byte
	leaf    tls.Certificate
	signKey []byte
	// verified caches the claims of tokens whose signature, audience and
	// claims were checked (see verifyToken), as Graph's front ends do:
	// lifetimes are still checked on every request.
	verified     sync.Map // token -> *tokenClaims
	verifiedSize atomic.Int64

	graph *router[graphHandler]
	login *router[loginHandler]

	mu      sync.RWMutex
	tenants map[string]*Tenant // by lower-case tenant id and domain

	faults faultSet
	reqlog requestLog

	clockFn atomic.Pointer[func() time.Time] // quota clock (tests replace it)
	epoch   time.Time
	ruCost  map[string]int       // base resource units of GET routes other than 1
	apps    map[string]*appQuota // by client id; guarded by mu

	startMu sync.Mutex
	httpSrv *http.Server
	ln      net.Listener
	url     string
	closed  bool
}

// New creates a Server with a fresh certificate authority (ECDSA P-256) and
// a server certificate for 127.0.0.1, ::1, localhost and opts.Hosts. It does
// not listen yet: call Start, or mount Handler yourself.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: lg, tenants: make(map[string]*Tenant),
		ruCost: make(map[string]int), apps: make(map[string]*appQuota)}
	s.setClock(time.Now)
	s.epoch = s.clock()
	if err := s.makeCerts(opts.Hosts); err != nil {
		return nil, fmt.Errorf("graphsim: certificates: %w", err)
	}
	s.signKey = make([]byte, 32)
	if _, err := rand.Read(s.signKey); err != nil {
		return nil, fmt.Errorf("graphsim: signing key: %w", err)
	}
	limit := opts.MaxLoggedRequests
	if limit == 0 {
		limit = 100000
	}
	s.reqlog.limit = limit
	s.graph = newRouter[graphHandler]()
	s.registerGraphRoutes()
	s.login = newRouter[loginHandler]()
	s.registerLoginRoutes()
	return s, nil
}

// registerGraphRoutes registers every Graph resource area. Each area lives
// in its own file and adds its routes here.
func (s *Server) registerGraphRoutes() {
	s.registerUserRoutes(s.graph)
	s.registerCARoutes(s.graph)
	s.registerAuthStrengthRoutes(s.graph)
	s.registerRoleRoutes(s.graph)
	s.registerPIMRoutes(s.graph)
	s.registerGroupRoutes(s.graph)
	s.registerMembershipRoutes(s.graph)
	s.registerOrganizationRoutes(s.graph)
}

// handleList registers a GET route that lists a collection (base cost 2
// resource units).
func (s *Server) handleList(rt *router[graphHandler], pattern string, h graphHandler) {
	rt.handle(http.MethodGet, pattern, h)
	s.ruCost[http.MethodGet+" "+pattern] = 2
}

// Start listens on Options.Addr with TLS and serves in the background.
func (s *Server) Start() error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.closed {
		return errors.New("graphsim: server closed")
	}
	if s.httpSrv != nil {
		return errors.New("graphsim: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("graphsim: listen %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.url = "https://" + urlHost(ln.Addr().(*net.TCPAddr))
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{s.leaf},
			MinVersion:   tls.VersionTLS12,
		},
	}
	srv := s.httpSrv
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("graphsim: serve", slog.String("error", err.Error()))
		}
	}()
	s.log.Info("graphsim: listening", slog.String("url", s.url))
	return nil
}

func urlHost(a *net.TCPAddr) string {
	port := strconv.Itoa(a.Port)
	switch {
	case a.IP == nil || a.IP.IsUnspecified():
		return "127.0.0.1:" + port
	default:
		return net.JoinHostPort(a.IP.String(), port)
	}
}

// URL returns the base URL, e.g. "https://127.0.0.1:41234"; empty before
// Start.
func (s *Server) URL() string {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	return s.url
}

// GraphURL returns the Graph base URL including the version: URL()+"/v1.0".
func (s *Server) GraphURL() string { return s.URL() + "/v1.0" }

// AuthorityURL returns the Entra authority host for azidentity's
// cloud.Configuration.ActiveDirectoryAuthorityHost: URL()+"/".
func (s *Server) AuthorityURL() string { return s.URL() + "/" }

// Handler returns the simulator's HTTP handler (login and Graph). URLs it
// generates (OpenID configuration) use the request's Host.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r)
	if len(segs) > 0 && segs[0] == graphVersion {
		s.serveGraph(w, r, segs[1:])
		return
	}
	s.serveLogin(w, r, segs)
}

// Close stops the listener and closes open connections. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.httpSrv == nil {
		return nil
	}
	s.log.Info("graphsim: stopped", slog.String("url", s.url))
	if err := s.httpSrv.Close(); err != nil {
		return fmt.Errorf("graphsim: close: %w", err)
	}
	return nil
}

// AddTenant registers a tenant with its app registration and returns it.
// Empty ID and ClientID get random GUIDs and an empty ClientSecret a random
// secret; an existing tenant with the same ID is replaced.
func (s *Server) AddTenant(spec TenantSpec) *Tenant {
	t := newTenant(spec)
	if s.opts.Quotas != nil {
		q := *s.opts.Quotas
		t.q.q = &q
	}
	t.q.caRate = s.opts.CARequestsPerSecond
	if t.q.caRate == 0 {
		t.q.caRate = 1
	}
	t.q.start = s.since()
	if t.caMaxBytes == 0 {
		t.caMaxBytes = s.opts.CAPolicyMaxBytes
	}
	if t.caMaxBytes <= 0 {
		t.caMaxBytes = DefaultCAPolicyMaxBytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.tenants[t.id]; old != nil && old.domain != "" {
		delete(s.tenants, old.domain)
	}
	s.tenants[t.id] = t
	if t.domain != "" {
		s.tenants[t.domain] = t
	}
	return t
}

// Tenant returns the tenant with the given id (or domain name), or nil.
func (s *Server) Tenant(id string) *Tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[strings.ToLower(id)]
}
