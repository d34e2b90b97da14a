package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
)

// TestCallSpans: every Graph call is a client span, child of the
// caller's span, with the operation, status and Graph request-id, and
// neither the target's UPN nor a URL.
func TestCallSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	b := setup(t, graph.Options{TracerProvider: tp})
	upn := "traced.user@contoso.example"
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: upn, AccountEnabled: true})
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "PATCH /users/{id}", UserID: u.ID, Status: 429, RetryAfter: 2 * time.Second, Times: 1})
	d := b.dir(t)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "task")
	if _, err := d.GetUser(ctx, upn); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAccountEnabled(ctx, u.ID, false); err == nil {
		t.Fatal("throttled PATCH succeeded")
	}
	parent.End()

	var calls []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), "graph ") {
			calls = append(calls, s)
		}
	}
	if len(calls) != 2 {
		t.Fatalf("%d graph spans, want 2", len(calls))
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value
			if strings.Contains(kv.Value.Emit(), upn) || strings.Contains(kv.Value.Emit(), "https://") {
				t.Errorf("span %s: attribute %s = %q names the target or a URL", s.Name(), kv.Key, kv.Value.Emit())
			}
		}
		return m
	}
	get, patch := calls[0], calls[1]
	for _, s := range calls {
		if s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s: kind %v parent %v, want a client span under the task", s.Name(), s.SpanKind(), s.Parent().SpanID())
		}
	}
	g := attrs(get)
	if get.Name() != "graph GET /users/{id}" || g["graph.operation"].AsString() != graph.OpGetUser ||
		g["http.response.status_code"].AsInt64() != 200 || g["graph.request_id"].AsString() == "" || get.Status().Code == codes.Error {
		t.Errorf("GET span %s: %v %v", get.Name(), g, get.Status())
	}
	p := attrs(patch)
	if patch.Name() != "graph PATCH /users/{id}" || p["http.response.status_code"].AsInt64() != 429 ||
		!p["graph.throttled"].AsBool() || p["graph.retry_after"].AsFloat64() != 2 || patch.Status().Code != codes.Error ||
		p["graph.request_id"].AsString() == "" {
		t.Errorf("throttled PATCH span %s: %v %v", patch.Name(), p, patch.Status())
	}
}
