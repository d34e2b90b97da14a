package graphsim

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	graphVersion     = "v1.0"
	graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	agsDiagnostic    = `{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"003","RoleInstance":"AM2PEPF0000A1B2"}}`
	maxBodyBytes     = 4 << 20 // Graph's request size limit
)

// graphHandler serves one Graph route. It writes the success answer itself
// and returns an *apiError for an error answer.
type graphHandler func(c *call) *apiError

// call is one authenticated Graph request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	tenant *Tenant
	claims *tokenClaims
	params map[string]string
	query  url.Values
	body   []byte // gunzipped
}

// writeJSON answers status with an OData JSON body.
func (c *call) writeJSON(status int, body []byte) {
	h := c.w.Header()
	h.Set("Content-Type", graphContentType)
	h.Set("OData-Version", "4.0")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// noContent answers 204.
func (c *call) noContent() { c.w.WriteHeader(http.StatusNoContent) }

// serveGraph serves /v1.0/...: common headers, request log, bearer token,
// routing, faults, latency, body decoding, then the route's handler.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, segs []string) {
	start := time.Now()
	rid := uuid.NewString()
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = rid
	}
	h := w.Header()
	h.Set("request-id", rid)
	h.Set("client-request-id", crid)
	h.Set("x-ms-ags-diagnostic", agsDiagnostic)
	h.Set("x-ms-resource-unit", "1")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-cache")
	sw := &statusWriter{ResponseWriter: w}
	rec := Request{
		Time: start, Endpoint: EndpointGraph, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		RequestID: rid, ClientRequestID: crid, ContentEncoding: r.Header.Get("Content-Encoding"),
	}
	defer func() {
		rec.Status = sw.status
		rec.Duration = time.Since(start)
		s.record(r.Context(), rec)
	}()
	fail := func(e *apiError) { writeGraphError(sw, e.status, e.code, e.message, rid, crid) }

	raw, readErr := readBody(r.Body)
	body, decodeErr := raw, error(nil)
	if readErr == nil {
		body, decodeErr = decodeBody(raw, rec.ContentEncoding)
	}
	rec.Body = body

	claims, tenant, authErr := s.authenticate(r)
	if authErr != nil {
		h.Set("WWW-Authenticate", wwwAuthenticateGraphBearer)
		fail(authErr)
		return
	}
	rec.TenantID = tenant.id

	segs = canonicalCasts(segs)
	m := s.graph.match(r.Method, segs)
	if m.route == nil {
		tenant.countRequest()
		fail(routeError(r.Method, segs, m))
		return
	}
	rec.Operation = m.route.op

	query := r.URL.Query()
	cost := s.resourceUnits(r.Method, m.route.op, query.Get("$select") != "", query.Get("$expand") != "")
	ca := strings.HasPrefix(m.route.pattern, caPathPrefix)
	if ca {
		cost = 1
	}
	h.Set("x-ms-resource-unit", strconv.Itoa(cost))
	ratio, th := s.admit(tenant, cost, r.Method != http.MethodGet, ca)
	if th != nil {
		writeThrottled(sw, th, rid, crid)
		return
	}
	if ratio > 0.8 {
		h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(ratio, 'f', 2, 64))
	}

	f := s.faults.take(false, tenant.id, r.Method, m.route.pattern, func(uid string) bool {
		return tenant.identifies(m.params["id"], uid)
	})
	delay := s.opts.Latency
	if f != nil {
		rec.FaultID = f.id
		delay += f.spec.Latency
	}
	if !sleep(r.Context(), delay) {
		return
	}
	if f != nil && f.spec.Status != 0 && !f.spec.ApplyThenFail {
		s.writeFault(sw, f, claims, r.Method, rid, crid)
		return
	}

	switch {
	case errors.Is(readErr, errBodyTooLarge):
		fail(&apiError{http.StatusRequestEntityTooLarge, codeRequestEntityTooLarge, "The request is larger than the maximum allowed size."})
		return
	case readErr != nil:
		fail(&apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload})
		return
	case decodeErr != nil:
		fail(&apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload})
		return
	}

	if e := authorize(claims, m.route.op); e != nil {
		fail(e)
		return
	}
	c := &call{s: s, w: sw, r: r, tenant: tenant, claims: claims, params: m.params, query: query, body: body}
	if f != nil && f.spec.ApplyThenFail {
		c.w = &discardWriter{h: make(http.Header)}
		_ = m.route.h(c)
		s.writeFault(sw, f, claims, r.Method, rid, crid)
		return
	}
	if e := m.route.h(c); e != nil {
		fail(e)
	}
}

// routeError is the answer for a request no route serves.
func routeError(method string, segs []string, m matchResult[graphHandler]) *apiError {
	switch {
	case m.methodNotAllowed:
		return &apiError{http.StatusMethodNotAllowed, codeRequestBadRequest, "Specified HTTP method is not allowed for the request uri."}
	case m.badSegment != "":
		return segmentNotFound(m.badSegment)
	case len(segs) == 0:
		return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid request."}
	}
	return &apiError{http.StatusNotImplemented, codeNotImplemented,
		"graphsim does not simulate " + method + " /" + strings.Join(segs, "/") + "."}
}

// authenticate validates the bearer token and returns its claims and tenant.
func (s *Server) authenticate(r *http.Request) (*tokenClaims, *Tenant, *apiError) {
	authz := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(authz, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, nil, &apiError{http.StatusUnauthorized, codeInvalidAuthToken, msgAccessTokenEmpty}
	}
	claims, err := s.verifyToken(tok, time.Now())
	if errors.Is(err, errTokenExpired) {
		return nil, nil, &apiError{http.StatusUnauthorized, codeInvalidAuthToken, msgAccessTokenExpired}
	}
	invalid := &apiError{http.StatusUnauthorized, codeInvalidAuthToken, msgAccessTokenInvalid}
	if err != nil {
		return nil, nil, invalid
	}
	t := s.Tenant(claims.Tid)
	if t == nil || t.id != claims.Tid || t.clientID != claims.AppID {
		return nil, nil, invalid
	}
	return claims, t, nil
}

// writeFault answers with an injected fault's status, error body and
// throttling headers.
func (s *Server) writeFault(w http.ResponseWriter, f *fault, claims *tokenClaims, method, rid, crid string) {
	status := f.spec.Status
	if status == 0 {
		status = http.StatusGatewayTimeout
	}
	code, msg := defaultError(status)
	if f.spec.Code != "" {
		code = f.spec.Code
	}
	if f.spec.Message != "" {
		msg = f.spec.Message
	}
	h := w.Header()
	if f.spec.RetryAfter > 0 {
		h.Set("Retry-After", itoaCeilSeconds(f.spec.RetryAfter))
	}
	if status == http.StatusTooManyRequests {
		kind, info := "ReadWrite", "WriteLimitExceeded"
		if method == http.MethodGet {
			kind, info = "Read", "ResourceUnitLimitExceeded"
		}
		h.Set("x-ms-throttle-scope", "Tenant_Application/"+kind+"/"+claims.AppID+"/"+claims.Tid)
		h.Set("x-ms-throttle-information", info)
	}
	writeGraphError(w, status, code, msg, rid, crid)
}

func writeGraphError(w http.ResponseWriter, status int, code, msg, rid, crid string) {
	w.Header().Set("Content-Type", graphContentType)
	w.WriteHeader(status)
	_, _ = w.Write(graphErrorJSON(code, msg, rid, crid))
}

var errBodyTooLarge = errors.New("request body too large")

func readBody(body io.Reader) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBodyBytes+1))
	if err != nil {
		return b, err
	}
	if len(b) > maxBodyBytes {
		return b, errBodyTooLarge
	}
	return b, nil
}

// decodeBody undoes Content-Encoding (gzip, as kiota sends every body).
func decodeBody(raw []byte, encoding string) ([]byte, error) {
	if len(raw) == 0 || encoding == "" || strings.EqualFold(encoding, "identity") {
		return raw, nil
	}
	if !strings.EqualFold(encoding, "gzip") {
		return raw, errors.New("unsupported Content-Encoding " + encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return raw, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxBodyBytes+1))
	if err != nil {
		return raw, err
	}
	if len(b) > maxBodyBytes {
		return raw, errBodyTooLarge
	}
	return b, nil
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// record appends rec to the request log and logs it at debug level.
func (s *Server) record(ctx context.Context, rec Request) {
	s.reqlog.add(rec)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "graphsim: request",
			slog.String("endpoint", rec.Endpoint), slog.String("tenant", rec.TenantID),
			slog.String("method", rec.Method), slog.String("path", rec.Path),
			slog.Int("status", rec.Status), slog.String("request_id", rec.RequestID),
			slog.String("fault", rec.FaultID), slog.Duration("duration", rec.Duration))
	}
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter swallows the answer of a write whose fault replaces it.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// itoaCeilSeconds formats d as whole seconds, rounded up (Retry-After).
func itoaCeilSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// canonicalCasts rewrites type-cast segments that use the namespace alias
// ("graph.group", as the SDKs send them) to the full name
// ("microsoft.graph.group"), which Graph treats alike.
func canonicalCasts(segs []string) []string {
	for i, seg := range segs {
		if len(seg) > 6 && strings.EqualFold(seg[:6], "graph.") {
			segs[i] = "microsoft." + seg
		}
	}
	return segs
}
