package graph

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azauth "github.com/microsoft/kiota-authentication-azure-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DefaultTimeout bounds one Graph call (token acquisition included) when
// Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configure a Connector.
type Options struct {
	// Box opens the tenants' sealed credentials (a bare client secret or a
	// remediation.Credential). Required.
	Box remediation.SecretBox
	// RootCAs are the certificate authorities trusted for Graph and the
	// authority. Nil means the system pool (x509.SystemCertPool, which
	// honours SSL_CERT_FILE and SSL_CERT_DIR).
	RootCAs *x509.CertPool
	// ExtraCAs are PEM certificates trusted in addition to RootCAs.
	ExtraCAs []byte
	// Timeout bounds each call; DefaultTimeout when zero.
	Timeout time.Duration
	// Logger receives one record per Graph call; nothing is logged when nil.
	Logger *slog.Logger
	// TracerProvider makes a client span per Graph call ("graph <op>");
	// nil means none (the no-op provider).
	TracerProvider trace.TracerProvider
}

// Connector implements remediation.Directories: it gives the Directory of a
// tenant, with one cached credential and Graph client per tenant. It is
// safe for concurrent use.
type Connector struct {
	box       remediation.SecretBox
	timeout   time.Duration
	log       *slog.Logger
	tracer    trace.Tracer
	initErr   error
	authHTTP  *http.Client
	graphHTTP *http.Client

	mu   sync.Mutex
	dirs map[string]*directory
}

var (
	_ remediation.Directories = (*Connector)(nil)
	_ remediation.Verifier    = (*Connector)(nil)
)

// NewConnector returns a Connector. A configuration error (unreadable
// ExtraCAs, no system pool) is reported by every call of For.
func NewConnector(opts Options) *Connector {
	c := &Connector{
		box:     opts.Box,
		timeout: opts.Timeout,
		log:     opts.Logger,
		dirs:    make(map[string]*directory),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	c.tracer = tp.Tracer(tracerName)
	if c.box == nil {
		c.initErr = fmt.Errorf("graph: Options.Box is nil")
	}
	pool, err := certPool(opts.RootCAs, opts.ExtraCAs)
	if err != nil {
		c.initErr = fmt.Errorf("graph: trusted certificates: %w", err)
		pool = x509.NewCertPool()
	}
	base := baseTransport(pool)
	c.authHTTP = &http.Client{Transport: base}
	c.graphHTTP = graphHTTPClient(base)
	return c
}

// For returns the Directory of t. It also implements
// remediation.FullDirectory (Conditional Access policies, role assignments,
// groups): callers that need those type-assert. The credential (client
// secret or certificate) and client are built on first use and kept until
// the tenant changes (its UpdatedAt, sealed credential, client id, cloud or
// endpoints): a Directory obtained earlier keeps working with the old
// credential. Errors are *remediation.Error (EINVALID) for a tenant that
// cannot be used, or infrastructure errors (secret box).
func (c *Connector) For(ctx context.Context, t *remediation.Tenant) (remediation.Directory, error) {
	if c.initErr != nil {
		return nil, c.initErr
	}
	if t == nil || t.ID == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "tenant is missing")
	}
	fp := fingerprint(t)
	c.mu.Lock()
	d := c.dirs[t.ID]
	c.mu.Unlock()
	if d != nil && d.fingerprint == fp {
		return d, nil
	}
	d, err := c.build(t, fp)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.dirs[t.ID]
	switch {
	case cur != nil && cur.fingerprint == fp:
		// Another goroutine built the same version meanwhile: keep one.
		return cur, nil
	case cur != nil && cur.updatedAt.After(t.UpdatedAt):
		// t is an older snapshot of the tenant than the cached one: serve
		// it without evicting the newer credential.
		return d, nil
	}
	c.dirs[t.ID] = d
	c.log.Debug("graph credential created", slog.String("tenant_id", t.ID))
	return d, nil
}

// fingerprint identifies the version of a tenant's connection settings.
func fingerprint(t *remediation.Tenant) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UpdatedAt.UnixNano()))
	h.Write(b[:])
	e := t.Endpoints()
	for _, s := range []string{t.ClientID, t.Cloud, e.GraphEndpoint, e.AuthorityHost, t.SecretKeyID} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	h.Write(t.SecretCiphertext)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// build creates the credential and Graph client of t.
func (c *Connector) build(t *remediation.Tenant, fp [32]byte) (*directory, error) {
	tg, err := targetOf(t)
	if err != nil {
		return nil, err
	}
	cred, err := c.openCredential(t)
	if err != nil {
		return nil, err
	}
	redact := credentialRedactor(cred)
	tc, err := c.tokenCredential(t, cred, tg.AuthorityHost, redact)
	if err != nil {
		return nil, err
	}
	return c.newDirectory(t, fp, &cachedCredential{inner: tc}, tg, redact)
}

// target is where a tenant's calls go.
type target struct {
	remediation.Endpoints
	scope     string // "<graph origin>/.default"
	graphHost string // host name of the Graph endpoint
}

// targetOf checks the tenant's settings and returns its target.
func targetOf(t *remediation.Tenant) (target, error) {
	e := t.Endpoints()
	if e.GraphEndpoint == "" || e.AuthorityHost == "" || e.AuthorityHost == "/" {
		return target{}, remediation.Errorf(remediation.EINVALID, "tenant %s: cloud %q has no Graph endpoint or authority host", t.ID, t.Cloud)
	}
	gu, err := url.Parse(e.GraphEndpoint)
	if err != nil || gu.Scheme != "https" || gu.Host == "" {
		return target{}, remediation.Errorf(remediation.EINVALID, "tenant %s: Graph endpoint %q is not an https URL", t.ID, e.GraphEndpoint)
	}
	au, err := url.Parse(e.AuthorityHost)
	if err != nil || au.Scheme != "https" || au.Host == "" {
		return target{}, remediation.Errorf(remediation.EINVALID, "tenant %s: authority host %q is not an https URL", t.ID, e.AuthorityHost)
	}
	if t.ClientID == "" {
		return target{}, remediation.Errorf(remediation.EINVALID, "tenant %s has no client id", t.ID)
	}
	return target{Endpoints: e, scope: gu.Scheme + "://" + gu.Host + "/.default", graphHost: gu.Hostname()}, nil
}

// newDirectory creates the Graph client of t over the token credential tc.
func (c *Connector) newDirectory(t *remediation.Tenant, fp [32]byte, tc azcore.TokenCredential, tg target,
	redact func(string) string) (*directory, error) {
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(tc, []string{tg.scope}, []string{tg.graphHost})
	if err != nil {
		return nil, fmt.Errorf("graph: tenant %s: authentication provider: %w", t.ID, err)
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, c.graphHTTP)
	if err != nil {
		return nil, fmt.Errorf("graph: tenant %s: request adapter: %w", t.ID, err)
	}
	adapter.SetBaseUrl(tg.GraphEndpoint)
	// Not msgraphsdk.NewGraphServiceClient: it writes the package-level
	// store.BackingStoreFactoryInstance on every call, which races with
	// every model constructor of the other tenants' calls. A nil factory
	// keeps the default (the in-memory backing store, the same value).
	client := &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}
	return &directory{
		tenantID:    t.ID,
		fingerprint: fp,
		updatedAt:   t.UpdatedAt,
		client:      client,
		timeout:     c.timeout,
		log:         c.log,
		tracer:      c.tracer,
		redact:      redact,
	}, nil
}
