package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/secrets"
	"github.com/entraremediator/remediator/internal/testenv"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stack is a production-shaped deployment for one test: real Redis and
// PostgreSQL, the Graph simulator over HTTPS, and the real binary's `api`
// and `worker` commands run through Main as separate roles.
type stack struct {
	t       *testing.T
	sim     *graphsim.Server
	redis   *testenv.RedisServer
	base    string
	key     string
	env     map[string]string
	logs    *syncBuffer
	cancels []context.CancelFunc
	done    []chan error
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// stackOptions tune newStackWith.
type stackOptions struct {
	workers     int           // in-process workers
	simLatency  time.Duration // per Graph call
	databaseURL string        // default: a fresh database on the shared cluster
	redisAOF    bool
	env         map[string]string
	// caLimit keeps the simulator's Conditional Access limit (Graph's 1
	// request/s per tenant); off by default.
	caLimit bool
}

func newStack(t *testing.T, workers int) *stack {
	t.Helper()
	return newStackWith(t, stackOptions{workers: workers})
}

func newStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	redis := testenv.RedisWith(t, testenv.RedisOptions{TCP: true, AOF: o.redisAOF})
	pg := o.databaseURL
	if pg == "" {
		pg = testenv.Postgres(t)
	}
	caRate := -1.0 // off
	if o.caLimit {
		caRate = 0 // Graph's 1 request/s
	}
	sim, err := graphsim.New(graphsim.Options{Latency: o.simLatency, CARequestsPerSecond: caRate})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := sim.WriteCA(caFile); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := &stack{t: t, sim: sim, redis: redis, base: "http://" + addr, key: "test-api-key-" + hex.EncodeToString(secrets.NewKey()[:8]), logs: &syncBuffer{}}
	s.env = map[string]string{
		"REMEDIATOR_HTTP_ADDR":              addr,
		"REMEDIATOR_API_KEY":                s.key,
		"REMEDIATOR_REDIS_URL":              redis.URL(),
		"REMEDIATOR_DATABASE_URL":           pg,
		"REMEDIATOR_ENCRYPTION_KEYS":        hex.EncodeToString(secrets.NewKey()),
		"REMEDIATOR_EXTRA_CA_FILE":          caFile,
		"REMEDIATOR_ALLOW_CUSTOM_ENDPOINTS": "true",
		"REMEDIATOR_LOG_LEVEL":              "debug",
		"REMEDIATOR_RECONCILE_INTERVAL":     "1s",
		"REMEDIATOR_DATA_DIR":               t.TempDir(),
		"REMEDIATOR_METRICS_ADDR":           "127.0.0.1:0",
	}
	for k, v := range o.env {
		s.env[k] = v
	}
	s.start("api")
	for range o.workers {
		s.start("worker")
	}
	s.waitReady()
	t.Cleanup(s.stop)
	return s
}

func (s *stack) getenv(k string) string { return s.env[k] }

func (s *stack) start(role string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{role}, s.getenv, io.Discard, s.logs) }()
	s.cancels = append(s.cancels, cancel)
	s.done = append(s.done, done)
}

func (s *stack) stop() {
	for _, c := range s.cancels {
		c()
	}
	for i, d := range s.done {
		select {
		case err := <-d:
			if err != nil {
				s.t.Errorf("process %d ended with %v", i, err)
			}
		case <-time.After(40 * time.Second):
			s.t.Errorf("process %d did not stop", i)
		}
	}
	s.cancels, s.done = nil, nil
}

func (s *stack) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("API not ready; logs:\n%s", s.logs.String())
}

// do sends a JSON request with the API key and decodes a JSON answer.
func (s *stack) do(method, path string, body any, hdr map[string]string, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// registerTenant adds a simulator tenant and registers it over the API.
func (s *stack) registerTenant(spec graphsim.TenantSpec) *graphsim.Tenant {
	s.t.Helper()
	tn := s.sim.AddTenant(spec)
	var got map[string]any
	code := s.do("POST", "/v1/tenants", map[string]any{
		"tenant_id": tn.ID(), "display_name": "E2E " + tn.Domain(), "client_id": tn.ClientID(),
		"client_secret": tn.ClientSecret(), "cloud": "custom",
		"graph_endpoint": s.sim.GraphURL(), "authority_host": s.sim.AuthorityURL(),
	}, nil, &got)
	if code != http.StatusCreated {
		s.t.Fatalf("register tenant: %d %v", code, got)
	}
	// The simulator enforces no write quota here: lift our own budget
	// (Microsoft's smallest tier by default) so that tests run at machine
	// speed. Conditional Access keeps its 1 request/s pacing.
	lift := map[string]any{"graph_limits": map[string]any{"resource_units": 10_000_000, "writes": 10_000_000, "tenant_writes": 10_000_000}}
	if code := s.do("PATCH", "/v1/tenants/"+tn.ID(), lift, nil, nil); code != http.StatusOK {
		s.t.Fatalf("lift graph limits: %d", code)
	}
	return tn
}

type jobView struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Total      int            `json:"total"`
	Counts     map[string]int `json:"counts"`
	Actor      string         `json:"actor"`
	Reason     string         `json:"reason"`
	Duplicates int            `json:"duplicates_merged"`
	// CancelRequested: a cancel was accepted.
	CancelRequested bool `json:"cancel_requested"`
}

type itemView struct {
	Identity       string `json:"identity"`
	Status         string `json:"status"`
	Detail         string `json:"detail"`
	Attempts       int    `json:"attempts"`
	GraphRequestID string `json:"graph_request_id"`
	Error          *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	AttemptLog []struct {
		Operation  string `json:"operation"`
		HTTPStatus int    `json:"http_status"`
		ErrorCode  string `json:"error_code"`
		RequestID  string `json:"request_id"`
	} `json:"attempt_log"`
}

// waitJob polls the job until it is completed or canceled.
func (s *stack) waitJob(id string, timeout time.Duration) jobView {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var j jobView
	for time.Now().Before(deadline) {
		if code := s.do("GET", "/v1/remediations/"+id, nil, nil, &j); code != 200 {
			s.t.Fatalf("get job: %d", code)
		}
		if j.Status == "completed" || j.Status == "canceled" {
			return j
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("job %s not finished after %s: %+v\nlogs:\n%s", id, timeout, j, tail(s.logs.String(), 4000))
	return j
}

// items returns every item of a job, following cursors.
func (s *stack) items(id string) map[string]itemView {
	s.t.Helper()
	out := map[string]itemView{}
	cursor := ""
	for {
		var page struct {
			Items      []itemView `json:"items"`
			NextCursor string     `json:"next_cursor"`
		}
		if code := s.do("GET", fmt.Sprintf("/v1/remediations/%s/items?limit=1000&cursor=%s", id, cursor), nil, nil, &page); code != 200 {
			s.t.Fatalf("items: %d", code)
		}
		for _, it := range page.Items {
			out[it.Identity] = it
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// outcomes counts the terminal outcomes per identity in the tenant's history.
func (s *stack) outcomes(tenantID string) map[string]int {
	s.t.Helper()
	out := map[string]int{}
	cursor := ""
	for {
		var page struct {
			History []struct {
				Identity string `json:"identity"`
			} `json:"history"`
			NextCursor string `json:"next_cursor"`
		}
		if code := s.do("GET", fmt.Sprintf("/v1/history?tenant_id=%s&limit=1000&cursor=%s", tenantID, cursor), nil, nil, &page); code != 200 {
			s.t.Fatalf("history: %d", code)
		}
		for _, h := range page.History {
			out[h.Identity]++
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// submit posts a job and returns it (202 expected).
func (s *stack) submit(tenantID, action string, identities []string) jobView {
	s.t.Helper()
	var job jobView
	if code := s.do("POST", "/v1/tenants/"+tenantID+"/remediations", map[string]any{
		"action": action, "identities": identities, "reason": "fault test"}, nil, &job); code != 202 {
		s.t.Fatalf("submit: %d %+v", code, job)
	}
	return job
}

// waitCount polls the job until counts[status] >= n.
func (s *stack) waitCount(id, status string, n int, timeout time.Duration) jobView {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var j jobView
	for time.Now().Before(deadline) {
		s.do("GET", "/v1/remediations/"+id, nil, nil, &j)
		if j.Counts[status] >= n {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("job %s: %s never reached %d: %+v", id, status, n, j)
	return j
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func mustNotContain(t *testing.T, what, haystack string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(haystack, sec) {
			t.Errorf("%s contains a secret (%d chars)", what, len(sec))
		}
	}
}
