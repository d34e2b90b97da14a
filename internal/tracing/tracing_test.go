package tracing

import (
	"context"
	"regexp"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestSetupUnconfiguredIsNoop(t *testing.T) {
	tp, shutdown, err := Setup(context.Background(), Config{SampleRatio: 1, ServiceName: ServiceAPI})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tp.(noop.TracerProvider); !ok {
		t.Fatalf("provider without an endpoint is %T, want noop.TracerProvider", tp)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("a span of the unconfigured provider records or has ids")
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestSetupConfigured(t *testing.T) {
	tp, shutdown, err := Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 1, ServiceName: ServiceWorker})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tp.(*sdktrace.TracerProvider); !ok {
		t.Fatalf("provider with an endpoint is %T, want the SDK's", tp)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "x")
	if !span.IsRecording() || !span.SpanContext().IsSampled() {
		t.Error("ratio 1: span not recorded")
	}
	// Nothing was exported yet: shutdown with a canceled context returns
	// at once instead of retrying the unreachable collector.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = shutdown(ctx)
}

func TestSetupRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Endpoint: "otel-collector:4318", SampleRatio: 1},
		{Endpoint: "ftp://collector", SampleRatio: 1},
		{Endpoint: "http://", SampleRatio: 1},
		{Endpoint: "http://collector:4318", SampleRatio: 1.5},
		{Endpoint: "http://collector:4318", SampleRatio: -0.1},
	} {
		if _, _, err := Setup(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestExportURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"http://otel-collector:4318": "http://otel-collector:4318/v1/traces",
		"https://collector.example/": "https://collector.example/v1/traces",
		"https://collector.example/otlp/v1/traces": "https://collector.example/otlp/v1/traces",
	} {
		got, err := exportURL(in)
		if err != nil || got != want {
			t.Errorf("exportURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestInjectExtractRoundTrip(t *testing.T) {
	if got := Inject(context.Background()); got != "" {
		t.Fatalf("Inject without a span = %q, want empty", got)
	}
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "parent")
	defer span.End()

	tp1 := Inject(ctx)
	if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`).MatchString(tp1) {
		t.Fatalf("traceparent %q is not W3C", tp1)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), tp1))
	want := span.SpanContext()
	if !got.IsRemote() || got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsSampled() {
		t.Fatalf("extracted %v, want remote %v", got, want)
	}
	// A child started from the extracted context continues the trace.
	_, child := tp.Tracer("test").Start(Extract(context.Background(), tp1), "child")
	defer child.End()
	if child.SpanContext().TraceID() != want.TraceID() {
		t.Error("child of the extracted context is in another trace")
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01"} {
		if sc := trace.SpanContextFromContext(Extract(context.Background(), bad)); sc.IsValid() {
			t.Errorf("Extract(%q) gave a valid span context", bad)
		}
	}
}
