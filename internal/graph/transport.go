package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// certPool returns the pool the clients trust: a copy of root (the system
// pool when nil, which honours SSL_CERT_FILE and SSL_CERT_DIR) with the
// PEM certificates of extra added.
func certPool(root *x509.CertPool, extra []byte) (*x509.CertPool, error) {
	var pool *x509.CertPool
	if root != nil {
		pool = root.Clone()
	} else {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, err
		}
		pool = sys
	}
	if len(extra) > 0 && !pool.AppendCertsFromPEM(extra) {
		return nil, errors.New("ExtraCAs holds no PEM certificate")
	}
	return pool, nil
}

// baseTransport is the network transport shared by the token and Graph
// clients: the default transport trusting pool, speaking HTTP/1.1 over
// kept-alive connections, as many as calls in flight.
//
// Not HTTP/2: every Graph request and answer carries headers with values
// of their own (client-request-id, request-id, traceparent, dates), which
// churn HPACK's dynamic table (an insertion and an eviction per field, on
// both sides); at hundreds of calls per second that cost more CPU than
// the Graph SDK's whole pipeline. Parallel HTTP/1.1 connections cost a TLS
// handshake once each and nothing per call.
func baseTransport(pool *x509.CertPool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.MaxIdleConns = 0 // no limit across hosts
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// maxIdleConnsPerHost keeps a connection per call in flight to one Graph
// host (a worker's concurrency), so that none is closed and opened again.
const maxIdleConnsPerHost = 512

// middlewares is the Graph client's pipeline, outermost first, in a fixed
// order. It is the SDK's default list (msgraphgocore.GetDefaultMiddlewaresWithOptions)
// without the retry handler, plus the exchange recorder.
func middlewares() []khttp.Middleware {
	opts := msgraphsdk.GetDefaultClientOptions()
	return []khttp.Middleware{
		recorder{},
		msgraphgocore.NewGraphTelemetryHandler(&opts),
		khttp.NewUrlReplaceHandler(true, msgraphgocore.ReplacementPairs),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
		khttp.NewRedirectHandler(),
		khttp.NewCompressionHandler(),
	}
}

// graphHTTPClient is the *http.Client of the Graph request adapters.
// Redirects are followed by the redirect middleware, time limits come from
// the call's context.
func graphHTTPClient(base http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(base, middlewares()...),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// exchange holds what the recorder saw of the HTTP exchange of one call.
// A call may carry more than one request (a continuous-access-evaluation
// challenge is answered once): the last one wins, Requests counts them.
type exchange struct {
	mu        sync.Mutex
	status    int
	requestID string
	duration  time.Duration
	requests  int
}

func (x *exchange) record(status int, requestID string, d time.Duration) {
	x.mu.Lock()
	x.status, x.requestID, x.duration = status, requestID, d
	x.requests++
	x.mu.Unlock()
}

func (x *exchange) get() (status int, requestID string, d time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.requestID, x.duration
}

type exchangeKey struct{}

func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

// recorder is a middleware that stores the status, request-id header and
// duration of every request into the exchange of the request's context.
type recorder struct{}

// Intercept implements khttp.Middleware.
func (recorder) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.Next(req, i)
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x == nil {
		return resp, err
	}
	if resp != nil {
		x.record(resp.StatusCode, resp.Header.Get("request-id"), time.Since(start))
	} else {
		x.record(0, "", time.Since(start))
	}
	return resp, err
}
