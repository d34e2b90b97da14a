package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/queue"
)

// otlpSpan is one received span with the service that sent it.
type otlpSpan struct {
	service string
	span    *tracepb.Span
}

func (s otlpSpan) traceID() string  { return hex.EncodeToString(s.span.GetTraceId()) }
func (s otlpSpan) spanID() string   { return hex.EncodeToString(s.span.GetSpanId()) }
func (s otlpSpan) parentID() string { return hex.EncodeToString(s.span.GetParentSpanId()) }

func (s otlpSpan) attr(key string) string {
	for _, kv := range s.span.GetAttributes() {
		if kv.GetKey() == key {
			switch v := kv.GetValue().GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return strconv.FormatInt(v.IntValue, 10)
			case *commonpb.AnyValue_BoolValue:
				return strconv.FormatBool(v.BoolValue)
			}
			return kv.GetValue().String()
		}
	}
	return ""
}

// otlpReceiver is an OTLP/HTTP trace collector: it decodes the protobuf
// bodies POSTed to /v1/traces (gzip or not) and keeps their spans and,
// for leak checks, their JSON rendering.
type otlpReceiver struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []otlpSpan
	raw   strings.Builder
	bad   []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	fail := func(msg string) {
		r.mu.Lock()
		r.bad = append(r.bad, msg)
		r.mu.Unlock()
		http.Error(w, msg, http.StatusBadRequest)
	}
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		fail(req.Method + " " + req.URL.Path + " " + req.Header.Get("Content-Type"))
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			fail("gzip: " + err.Error())
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		fail("read: " + err.Error())
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		fail("decode: " + err.Error())
		return
	}
	r.mu.Lock()
	r.raw.WriteString(protojson.Format(&msg))
	for _, rs := range msg.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				r.spans = append(r.spans, otlpSpan{service: service, span: sp})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (r *otlpReceiver) snapshot() ([]otlpSpan, string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...), r.raw.String(), append([]string(nil), r.bad...)
}

// TestTracingEndToEnd runs the api and a worker with tracing on, against
// an OTLP/HTTP receiver: one single-identity job makes one trace from the
// API request through the fan-out and item tasks to the Graph calls, and
// nothing exported names the target or the API key. The worker's log
// line of the item carries its task, job and trace ids.
func TestTracingEndToEnd(t *testing.T) {
	rcv := newOTLPReceiver(t)
	// The reconciler runs only at start: a fan-out it enqueued before the
	// API's own would not continue the request's trace.
	s := newStackWith(t, stackOptions{workers: 1, env: map[string]string{
		"REMEDIATOR_OTLP_ENDPOINT": rcv.srv.URL, "REMEDIATOR_RECONCILE_INTERVAL": "1h"}})
	tn := s.registerTenant(graphsim.TenantSpec{})
	upn := "traced.person@" + tn.Domain()
	tn.AddUser(graphsim.UserSpec{UserPrincipalName: upn, AccountEnabled: true})

	job := s.submit(tn.ID(), "disable_user", []string{upn})
	if final := s.waitJob(job.ID, 60*time.Second); final.Status != "completed" || final.Counts["succeeded"] != 1 {
		t.Fatalf("job: %+v", final)
	}
	// A path with the UPN in it: its span is named after the route.
	if code := s.do("GET", "/v1/remediations/"+job.ID+"/items/"+upn, nil, nil, nil); code != http.StatusOK {
		t.Fatalf("get item: %d", code)
	}

	const submitRoute = "POST /v1/tenants/:tenant_id/remediations"
	itemTask := queue.ItemTaskID(job.ID, 0)
	var (
		api, fanout, item, call otlpSpan
		spans                   []otlpSpan
		raw                     string
		bad                     []string
	)
	// find reports whether every span of the chain has arrived (the batch
	// exporter sends every few seconds).
	find := func() bool {
		spans, raw, bad = rcv.snapshot()
		api, fanout, item, call = otlpSpan{}, otlpSpan{}, otlpSpan{}, otlpSpan{}
		for _, sp := range spans {
			switch name := sp.span.GetName(); {
			case name == submitRoute:
				api = sp
			case name == "task "+queue.TypeFanout && sp.attr("job_id") == job.ID:
				fanout = sp
			case name == "task "+queue.TypeItem && sp.attr("task.id") == itemTask:
				item = sp
			}
		}
		for _, sp := range spans {
			if strings.HasPrefix(sp.span.GetName(), "graph ") && item.span != nil && sp.parentID() == item.spanID() {
				call = sp
			}
		}
		return api.span != nil && fanout.span != nil && item.span != nil && call.span != nil &&
			strings.Contains(raw, "GET /v1/remediations/:id/items/:identity")
	}
	deadline := time.Now().Add(60 * time.Second)
	for !find() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if len(bad) > 0 {
		t.Errorf("receiver refused exports: %v", bad)
	}
	names := make([]string, len(spans))
	for i, sp := range spans {
		names[i] = sp.service + ": " + sp.span.GetName()
	}
	if api.span == nil || fanout.span == nil || item.span == nil || call.span == nil {
		t.Fatalf("incomplete chain: api %v fan-out %v item %v graph %v; received %q",
			api.span != nil, fanout.span != nil, item.span != nil, call.span != nil, names)
	}

	traceID := api.traceID()
	for _, c := range []struct {
		what    string
		sp      otlpSpan
		parent  string
		service string
		kind    tracepb.Span_SpanKind
	}{
		{"api", api, "", "remediator-api", tracepb.Span_SPAN_KIND_SERVER},
		{"fan-out", fanout, api.spanID(), "remediator-worker", tracepb.Span_SPAN_KIND_CONSUMER},
		{"item", item, fanout.spanID(), "remediator-worker", tracepb.Span_SPAN_KIND_CONSUMER},
		{"graph", call, item.spanID(), "remediator-worker", tracepb.Span_SPAN_KIND_CLIENT},
	} {
		if c.sp.traceID() != traceID || c.sp.parentID() != c.parent || c.sp.service != c.service || c.sp.span.GetKind() != c.kind {
			t.Errorf("%s span %q: trace %s parent %q service %s kind %v; want trace %s parent %q service %s kind %v",
				c.what, c.sp.span.GetName(), c.sp.traceID(), c.sp.parentID(), c.sp.service, c.sp.span.GetKind(),
				traceID, c.parent, c.service, c.kind)
		}
	}
	if api.attr("http.route") != "/v1/tenants/:tenant_id/remediations" || api.attr("http.response.status_code") != "202" {
		t.Errorf("api span attributes: route %q status %q", api.attr("http.route"), api.attr("http.response.status_code"))
	}
	if item.attr("job_id") != job.ID || item.attr("seq") != "0" {
		t.Errorf("item span: job_id %q seq %q", item.attr("job_id"), item.attr("seq"))
	}
	if call.attr("graph.operation") == "" || call.attr("graph.request_id") == "" || call.attr("http.response.status_code") == "" {
		t.Errorf("graph span %q lacks operation, request id or status", call.span.GetName())
	}
	if strings.Contains(raw, upn) || strings.Contains(strings.ToLower(raw), strings.ToLower(upn)) {
		t.Error("exported spans name the target's UPN")
	}
	mustNotContain(t, "exported spans", raw, s.key, tn.ClientSecret())

	// The worker's log line of the finished item.
	found := false
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "item finished" || m["job_id"] != job.ID {
			continue
		}
		found = true
		if m["task_id"] != itemTask || m["trace_id"] != traceID || m["span_id"] != item.spanID() {
			t.Errorf("item log line lacks task, job or trace id: %s", line)
		}
		if bytes.Count([]byte(line), []byte(`"job_id"`)) != 1 {
			t.Errorf("job_id twice: %s", line)
		}
	}
	if !found {
		t.Errorf("no worker log line of the item; logs:\n%s", tail(s.logs.String(), 4000))
	}
}

// TestTracingConfig: the tracing variables are checked at start.
func TestTracingConfig(t *testing.T) {
	for env, ok := range map[[2]string]bool{
		{"", ""}:                                true,
		{"http://otel-collector:4318", "0.25"}:  true,
		{"https://collector.example/otlp", "0"}: true,
		{"otel-collector:4318", ""}:             false,
		{"grpc://otel-collector:4317", ""}:      false,
		{"http://otel-collector:4318", "1.5"}:   false,
		{"http://otel-collector:4318", "NaN"}:   false,
		{"", "-1"}:                              false,
	} {
		vars := map[string]string{"REMEDIATOR_OTLP_ENDPOINT": env[0], "REMEDIATOR_TRACE_SAMPLE_RATIO": env[1]}
		_, err := LoadConfig(func(k string) string { return vars[k] })
		if (err == nil) != ok {
			t.Errorf("endpoint %q ratio %q: error %v, want ok=%v", env[0], env[1], err, ok)
		}
	}
}
