package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/tracing"
)

const (
	testAPIKey   = "test-api-key-0123456789"
	testSecret   = "s3cr3t-Client-Secret~value"
	tenantA      = "11111111-1111-1111-1111-111111111111"
	tenantB      = "22222222-2222-2222-2222-222222222222"
	testClientID = "33333333-3333-3333-3333-333333333333"
)

// fakeDispatcher records StartFanout calls and fails on demand. onStart,
// when set, is called with each job id (outside the lock), as a worker
// would pick the job up.
type fakeDispatcher struct {
	mu       sync.Mutex
	calls    []fanoutCall
	startErr error
	pingErr  error
	onStart  func(jobID string)
	traces   []string // the traceparent of each StartFanout context
}

type fanoutCall struct{ JobID, Priority string }

var _ remediation.Dispatcher = (*fakeDispatcher)(nil)

func (d *fakeDispatcher) StartFanout(ctx context.Context, jobID, priority string) error {
	d.mu.Lock()
	d.calls = append(d.calls, fanoutCall{jobID, priority})
	d.traces = append(d.traces, tracing.Inject(ctx))
	err, hook := d.startErr, d.onStart
	d.mu.Unlock()
	if hook != nil && err == nil {
		hook(jobID)
	}
	return err
}

// setOnStart installs the StartFanout hook.
func (d *fakeDispatcher) setOnStart(f func(jobID string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onStart = f
}

func (d *fakeDispatcher) Ping(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pingErr
}

func (d *fakeDispatcher) Calls() []fanoutCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]fanoutCall(nil), d.calls...)
}

// xorBox is a trivial SecretBox: XOR with a constant, so the plaintext
// never appears in the ciphertext.
type xorBox struct{}

func (xorBox) Seal(p []byte) ([]byte, string, error) { return xor(p), "test-key-1", nil }
func (xorBox) Open(c []byte, keyID string) ([]byte, error) {
	if keyID != "test-key-1" {
		return nil, errors.New("unknown key")
	}
	return xor(c), nil
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0x5a
	}
	return out
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a Server over a real SQLite history store and a fake dispatcher.
type env struct {
	t      *testing.T
	srv    *Server
	store  *history.Store
	disp   *fakeDispatcher
	logs   *syncBuffer
	bodies []string // every response body, to look for secrets
}

func newEnv(t *testing.T, opts ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t}
	e.srv, e.store, e.disp, e.logs = newServer(t, opts...)
	return e
}

// newServer is the server of newEnv, for any testing.TB (fuzz targets).
func newServer(tb testing.TB, opts ...func(*Config)) (*Server, *history.Store, *fakeDispatcher, *syncBuffer) {
	tb.Helper()
	ctx := context.Background()
	st, err := history.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "h.db"))
	if err != nil {
		tb.Fatalf("open history store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	disp, logs := &fakeDispatcher{}, &syncBuffer{}
	cfg := Config{
		Store:      st,
		Dispatcher: disp,
		Box:        xorBox{},
		APIKey:     testAPIKey,
		Available: []remediation.Action{remediation.ActionDisableUser, remediation.ActionRevokeSessions,
			remediation.ActionRemoveGroupMemberships},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Tests of the dry-run wait set their own; others never wait.
		DryRunWait: -1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return New(cfg), st, disp, logs
}

// req describes one request; Body is sent as is when it is a string,
// JSON-encoded otherwise.
type req struct {
	Method, Path string
	Body         any
	Header       map[string]string
	NoAuth       bool
	Chunked      bool // hide the length of the body
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	hr := httptest.NewRequest(r.Method, r.Path, body)
	if r.Chunked && body != nil {
		hr.Body = io.NopCloser(struct{ io.Reader }{body})
		hr.ContentLength = -1
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !r.NoAuth {
		hr.Header.Set("Authorization", "Bearer "+testAPIKey)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, hr)
	e.bodies = append(e.bodies, w.Body.String())
	checkAnswer(e.t, hr, w)
	return w
}

// get is do for a GET with authentication.
func (e *env) get(path string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{Method: http.MethodGet, Path: path})
}

// decode unmarshals the body of w into v.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode body %q: %v", w.Body.String(), err)
	}
	return v
}

// apiError is the error body as a client reads it.
type apiError struct {
	Error struct {
		Code      string         `json:"code"`
		Message   string         `json:"message"`
		Details   map[string]any `json:"details"`
		RequestID string         `json:"request_id"`
	} `json:"error"`
}

// wantError checks the status and the error code of w.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) apiError {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON", ct)
	}
	e := decode[apiError](t, w)
	if e.Error.Code != code {
		t.Fatalf("error code = %q, want %q; body %s", e.Error.Code, code, w.Body.String())
	}
	if e.Error.Message == "" {
		t.Fatalf("error without message: %s", w.Body.String())
	}
	return e
}

// wantStatus checks the status of w.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body.String())
	}
}

// addTenant registers a tenant through the API.
func (e *env) addTenant(id string) {
	e.t.Helper()
	w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: map[string]any{
		"tenant_id": id, "display_name": "Tenant " + id[:4], "client_id": testClientID, "client_secret": testSecret,
	}})
	wantStatus(e.t, w, http.StatusCreated)
}

// job is the job body as a client reads it.
type job struct {
	ID               string                         `json:"id"`
	TenantID         string                         `json:"tenant_id"`
	Action           string                         `json:"action"`
	Status           string                         `json:"status"`
	Total            int                            `json:"total"`
	DuplicatesMerged int                            `json:"duplicates_merged"`
	Counts           map[remediation.ItemStatus]int `json:"counts"`
	Reason           string                         `json:"reason"`
	Actor            string                         `json:"actor"`
	RequestedBy      string                         `json:"requested_by"`
	Context          json.RawMessage                `json:"context"`
	Parameters       json.RawMessage                `json:"parameters"`
	DryRun           bool                           `json:"dry_run"`
	ConfirmAdmin     bool                           `json:"confirm_admin_targets"`
	UndoOf           *string                        `json:"undo_of"`
	RetryOf          *string                        `json:"retry_of"`
	Priority         string                         `json:"priority"`
	CancelRequested  bool                           `json:"cancel_requested"`
	CreatedAt        *string                        `json:"created_at"`
	StartedAt        *string                        `json:"started_at"`
	FinishedAt       *string                        `json:"finished_at"`
}

// submit creates a job through the API and returns it.
func (e *env) submit(tenant, action string, identities ...string) job {
	e.t.Helper()
	w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants/" + tenant + "/remediations",
		Body: map[string]any{"action": action, "identities": identities, "reason": "test"}})
	wantStatus(e.t, w, http.StatusAccepted)
	return decode[job](e.t, w)
}

// jobCount returns the number of jobs in the store.
func (e *env) jobCount() int {
	e.t.Helper()
	n, cursor := 0, ""
	for {
		jobs, next, err := e.store.ListJobs(context.Background(), remediation.JobFilter{Limit: 1000, Cursor: cursor})
		if err != nil {
			e.t.Fatalf("list jobs: %v", err)
		}
		n += len(jobs)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// assertNoSecret fails if the test secret appears in any response or log.
func (e *env) assertNoSecret() {
	e.t.Helper()
	for _, b := range e.bodies {
		if strings.Contains(b, testSecret) {
			e.t.Fatalf("secret in a response body: %s", b)
		}
	}
	if strings.Contains(e.logs.String(), testSecret) || strings.Contains(e.logs.String(), testAPIKey) {
		e.t.Fatalf("secret in the logs")
	}
}

func identities(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// allActions makes every catalog action available.
func allActions(c *Config) {
	c.Available = nil
	for _, a := range remediation.Catalog() {
		c.Available = append(c.Available, a.Name)
	}
}

// post sends a POST with an optional body (nil: none) and headers.
func (e *env) post(path string, body any, header map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{Method: http.MethodPost, Path: path, Body: body, Header: header})
}

// storedJob reads a job from the store.
func (e *env) storedJob(id string) *remediation.Job {
	e.t.Helper()
	j, err := e.store.GetJob(context.Background(), id)
	if err != nil {
		e.t.Fatalf("get job %s: %v", id, err)
	}
	return j
}

// storedItems reads all items of a job from the store.
func (e *env) storedItems(id string) []*remediation.Item {
	e.t.Helper()
	items, _, err := e.store.ListItems(context.Background(), id, remediation.ItemFilter{Limit: 1000})
	if err != nil {
		e.t.Fatalf("list items of %s: %v", id, err)
	}
	return items
}

// unchanged fails when the number of stored jobs or of fan-outs started
// differs from before; use it after a refused request.
func (e *env) unchanged(jobs, calls int) {
	e.t.Helper()
	if n := e.jobCount(); n != jobs {
		e.t.Errorf("%d jobs stored, want %d", n, jobs)
	}
	if n := len(e.disp.Calls()); n != calls {
		e.t.Errorf("%d fan-outs started, want %d", n, calls)
	}
}
