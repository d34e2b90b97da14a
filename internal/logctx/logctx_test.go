package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not one JSON record: %s: %v", b, err)
	}
	return m
}

func TestHandlerAddsContextAttrsAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())

	ctx, span := tp.Tracer("test").Start(context.Background(), "task")
	defer span.End()
	ctx = With(ctx, slog.String("task_id", "item:j1:3"), slog.String("job_id", "j0"))
	ctx = With(ctx, slog.String("job_id", "j1"), slog.Int("seq", 3)) // replaces job_id
	log.InfoContext(ctx, "item finished", slog.String("status", "succeeded"))

	m := decode(t, buf.Bytes())
	sc := span.SpanContext()
	want := map[string]any{
		"msg": "item finished", "status": "succeeded", "task_id": "item:j1:3", "job_id": "j1", "seq": float64(3),
		"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(),
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (record %s)", k, m[k], v, buf.Bytes())
		}
	}
}

func TestHandlerRecordAttrsWin(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	ctx := With(context.Background(), slog.String("request_id", "from-ctx"), slog.String("job_id", "j1"))
	log.InfoContext(ctx, "graph call", slog.String("request_id", "graph-req"))
	if n := bytes.Count(buf.Bytes(), []byte(`"request_id"`)); n != 1 {
		t.Fatalf("request_id appears %d times: %s", n, buf.Bytes())
	}
	m := decode(t, buf.Bytes())
	if m["request_id"] != "graph-req" || m["job_id"] != "j1" {
		t.Fatalf("record %s", buf.Bytes())
	}
	if _, ok := m["trace_id"]; ok {
		t.Error("trace_id without a span")
	}
}

func TestHandlerWithoutContextMethod(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With(slog.String("component", "x"))
	log.Info("plain")
	m := decode(t, buf.Bytes())
	if m["component"] != "x" || len(m) != 4 { // time, level, msg, component
		t.Fatalf("record %s", buf.Bytes())
	}
	if got := Attrs(context.Background()); got != nil {
		t.Fatalf("Attrs of an empty context: %v", got)
	}
}
