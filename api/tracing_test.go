package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/logctx"
	"github.com/entraremediator/remediator/internal/tracing"
)

// TestRequestSpans: one server span per request named after the route
// template, the span in the context the fan-out is started with, and the
// request and trace ids in the request's log records.
func TestRequestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	logs := &syncBuffer{}
	e := newEnv(t, func(c *Config) {
		c.TracerProvider = tp
		c.Logger = slog.New(logctx.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	e.addTenant(tenantA)
	upn := "traced.person@contoso.example"
	j := e.submit(tenantA, "disable_user", upn)
	wantStatus(t, e.get("/v1/remediations/"+j.ID+"/items/"+upn), http.StatusOK)
	wantStatus(t, e.get("/healthz"), http.StatusOK)

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), upn) || strings.Contains(kv.Value.Emit(), testAPIKey) {
				t.Errorf("span %s: attribute %s = %q", s.Name(), kv.Key, kv.Value.Emit())
			}
		}
	}
	if len(rec.Ended()) != 3 {
		t.Errorf("%d spans, want 3 (tenant, submission, item; no probe): %v", len(rec.Ended()), byName)
	}
	submit, ok := byName["POST /v1/tenants/:tenant_id/remediations"]
	if !ok {
		t.Fatalf("no submission span; spans %v", byName)
	}
	if _, ok := byName["GET /v1/remediations/:id/items/:identity"]; !ok {
		t.Errorf("no item span named after its route; spans %v", byName)
	}
	attrs := map[string]string{}
	for _, kv := range submit.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if submit.SpanKind() != trace.SpanKindServer || attrs["http.request.method"] != "POST" ||
		attrs["http.route"] != "/v1/tenants/:tenant_id/remediations" || attrs["http.response.status_code"] != "202" {
		t.Errorf("submission span: kind %v attributes %v", submit.SpanKind(), attrs)
	}

	// The fan-out was started in the submission span's context.
	e.disp.mu.Lock()
	traces := append([]string(nil), e.disp.traces...)
	e.disp.mu.Unlock()
	sc := submit.SpanContext()
	if len(traces) != 1 || traces[0] != tracing.Inject(trace.ContextWithSpanContext(t.Context(), sc)) {
		t.Errorf("fan-out traceparents %q, want the submission span %s", traces, sc.SpanID())
	}

	// The access log line of the submission has its request and trace ids.
	found := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "api: request" && m["route"] == "/v1/tenants/:tenant_id/remediations" {
			found = true
			if m["trace_id"] != sc.TraceID().String() || m["span_id"] != sc.SpanID().String() || m["request_id"] == "" || m["request_id"] == nil {
				t.Errorf("access log line %s lacks the trace or request id", line)
			}
			if strings.Count(line, `"request_id"`) != 1 {
				t.Errorf("request_id twice: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no access log line of the submission:\n%s", logs.String())
	}
}
