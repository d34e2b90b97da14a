package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The conformance harness: an HTTP middleware that validates every request
// against openapi.yaml (openapi3filter.ValidateRequest) and every answer
// (ValidateResponse, undocumented statuses included), plus each event of a
// text/event-stream answer against the schema of its event.

// headerSkipRequest marks a request that is malformed on purpose (to get an
// error answer): only its answer is validated. The harness removes it.
const headerSkipRequest = "X-Conformance-Invalid-Request"

func init() {
	// The event stream is validated event by event (checkEvents).
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiYAML)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// conformance validates traffic against the document and records which
// answers of which operation were seen.
type conformance struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /path" → statuses
}

func newConformance(t *testing.T) *conformance {
	t.Helper()
	doc := loadOpenAPI(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router of openapi.yaml: %v", err)
	}
	return &conformance{t: t, doc: doc, router: router, seen: map[string]map[int]bool{},
		opts: &openapi3filter.Options{
			IncludeResponseStatus:             true,
			MultiError:                        true,
			RejectWhenRequestBodyNotSpecified: true,
			AuthenticationFunc:                bearerPresent,
			SchemaValidationOptions:           []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
		}}
}

// bearerPresent is the harness's check of the bearer security scheme: the
// request carries a bearer token (whether the key is valid is the API's).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return in.NewError(errNoBearer)
	}
	return nil
}

var errNoBearer = errors.New("no bearer token")

// wrap returns next with every request and answer validated.
func (cf *conformance) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		skipRequest := r.Header.Get(headerSkipRequest) != ""
		r.Header.Del(headerSkipRequest)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			cf.t.Errorf("%s %s: read the request body: %v", r.Method, r.URL, err)
		}
		route, params, err := cf.router.FindRoute(r)
		if err != nil {
			cf.t.Errorf("%s %s: not in openapi.yaml: %v", r.Method, r.URL.Path, err)
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		check := r.Clone(ctx)
		check.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: cf.opts}
		if !skipRequest {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				cf.t.Errorf("%s %s: request does not match openapi.yaml: %v", r.Method, r.URL, err)
			}
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		status := cw.statusCode()

		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status,
			Header: cw.Header(), Options: cf.opts}
		out.SetBodyBytes(cw.body.Bytes())
		if err := openapi3filter.ValidateResponse(context.WithoutCancel(ctx), out); err != nil {
			cf.t.Errorf("%s %s: answer %d does not match openapi.yaml: %v\nbody: %.2000s", r.Method, r.URL, status, err,
				cw.body.String())
		}
		if strings.HasPrefix(cw.Header().Get("Content-Type"), "text/event-stream") {
			cf.checkEvents(r.URL.Path, cw.body.Bytes())
		}
		cf.record(r.Method+" "+route.Path, status)
	})
}

func (cf *conformance) record(op string, status int) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.seen[op] == nil {
		cf.seen[op] = map[int]bool{}
	}
	cf.seen[op][status] = true
}

// statuses returns the answers seen of each operation.
func (cf *conformance) statuses() map[string][]int {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	out := map[string][]int{}
	for op, m := range cf.seen {
		for st := range m {
			out[op] = append(out[op], st)
		}
		sort.Ints(out[op])
	}
	return out
}

// eventSchemas are the schemas of the data of each event of a job stream.
var eventSchemas = map[string]string{eventProgress: "Job", eventItem: "Item", eventDone: "Job"}

// checkEvents validates a text/event-stream body: comments, and events
// named in eventSchemas whose data matches the event's schema.
func (cf *conformance) checkEvents(path string, stream []byte) {
	for _, ev := range parseSSE(stream) {
		if ev.name == "" {
			continue // a comment
		}
		name, ok := eventSchemas[ev.name]
		if !ok {
			cf.t.Errorf("%s: event %q is not described in openapi.yaml", path, ev.name)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
			cf.t.Errorf("%s: event %s: data is not JSON: %v", path, ev.name, err)
			continue
		}
		err := cf.doc.Components.Schemas[name].Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors(),
			openapi3.EnableFormatValidation())
		if err != nil {
			cf.t.Errorf("%s: event %s does not match schema %s: %v\ndata: %s", path, ev.name, name, err, ev.data)
		}
	}
}

// sseEvent is one event of a text/event-stream; a comment has no name.
type sseEvent struct {
	name, data, comment string
}

// parseSSE splits a text/event-stream into its events and comments.
func parseSSE(stream []byte) []sseEvent {
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if cur.add(sc.Text()) {
			out = append(out, cur)
			cur = sseEvent{}
		}
	}
	if cur != (sseEvent{}) {
		out = append(out, cur)
	}
	return out
}

// add reads one line of a stream into e and reports whether it ended a
// non-empty event (or comment).
func (e *sseEvent) add(line string) bool {
	switch {
	case line == "":
		return *e != (sseEvent{})
	case strings.HasPrefix(line, ":"):
		e.comment = strings.TrimSpace(line[1:])
	case strings.HasPrefix(line, "event: "):
		e.name = line[len("event: "):]
	case strings.HasPrefix(line, "data: "):
		e.data += line[len("data: "):]
	}
	return false
}

// captureWriter passes an answer through and keeps a copy of it.
type captureWriter struct {
	http.ResponseWriter
	mu     sync.Mutex
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	c.mu.Lock()
	if c.status == 0 {
		c.status = code
	}
	c.mu.Unlock()
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	c.mu.Unlock()
	return c.ResponseWriter.Write(b)
}

// Flush lets event streams through as they are written.
func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the connection's deadlines.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *captureWriter) statusCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// client sends the tour's requests to a validating test server.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// newValidatedServer serves h through the harness on a real listener.
func newValidatedServer(t *testing.T, cf *conformance, h http.Handler) *client {
	t.Helper()
	ts := httptest.NewServer(cf.wrap(h))
	t.Cleanup(ts.Close)
	return &client{t: t, base: ts.URL, hc: ts.Client()}
}

// call is one request of the tour.
type call struct {
	method, path string
	body         any // string: sent as is; otherwise JSON-encoded; nil: none
	key          string
	header       map[string]string
	invalid      bool // malformed on purpose: only the answer is validated
}

// answer is an answer of the API.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends c and checks that the answer has status want.
func (cl *client) do(c call, want int) answer {
	cl.t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			cl.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	r, err := http.NewRequest(c.method, cl.base+c.path, body)
	if err != nil {
		cl.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		r.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.invalid {
		r.Header.Set(headerSkipRequest, "1")
	}
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	res, err := cl.hc.Do(r)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		cl.t.Fatalf("%s %s: read answer: %v", c.method, c.path, err)
	}
	if res.StatusCode != want {
		cl.t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, res.StatusCode, want, b)
	}
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// json decodes the answer's body into a map.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
	return m
}

// answerChecker validates the answers of the env helpers (helpers_test.go)
// against openapi.yaml: every API test's answers, whatever it sends.
var answerChecker struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// checkAnswer validates the answer w to r when r names a documented
// operation (requests to unknown routes or methods are the tests' own).
func checkAnswer(t testing.TB, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	ac := &answerChecker
	ac.once.Do(func() {
		loader := openapi3.NewLoader()
		if ac.doc, ac.err = loader.LoadFromData(openapiYAML); ac.err == nil {
			ac.router, ac.err = gorillamux.NewRouter(ac.doc)
		}
	})
	if ac.err != nil {
		t.Fatalf("openapi.yaml: %v", ac.err)
	}
	route, params, err := ac.router.FindRoute(r)
	if err != nil {
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()}}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(), Options: opts}
	out.SetBodyBytes(w.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: answer %d does not match openapi.yaml: %v\nbody: %.1000s", r.Method, r.URL, w.Code, err, w.Body.String())
	}
}
