package tracing

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"log/slog"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Service names of the roles, the service.name resource attribute.
const (
	ServiceAPI    = "remediator-api"
	ServiceWorker = "remediator-worker"
	ServiceAll    = "remediator" // all-in-one `run`
)

// tracesPath is the OTLP/HTTP path of traces, added to an endpoint
// without a path.
const tracesPath = "/v1/traces"

// Config configures Setup.
type Config struct {
	// Endpoint is the http(s) URL of an OTLP/HTTP collector, e.g.
	// http://otel-collector:4318 (/v1/traces is added when the URL has no
	// path). Empty: tracing is off.
	Endpoint string
	// SampleRatio is the share of new traces recorded, 0 to 1; a span
	// with a parent follows its parent's decision.
	SampleRatio float64
	// ServiceName is the service.name of the spans (ServiceAPI, …).
	ServiceName string
	// Logger receives export failures (default slog.Default()).
	Logger *slog.Logger
}

// CheckEndpoint reports whether endpoint is empty or a usable http(s)
// collector URL.
func CheckEndpoint(endpoint string) error {
	_, err := exportURL(endpoint)
	return err
}

// exportURL returns the URL spans are posted to.
func exportURL(endpoint string) (string, error) {
	if endpoint == "" {
		return "", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an http(s) URL of an OTLP/HTTP collector")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String(), nil
}

// SilenceGlobal installs the no-op provider as otel's global one, which
// kiota-http-go's per-middleware spans use: they stay silent, and since
// no-op spans carry their parent's span context, our own "graph …" span
// stays the parent of anything below it. An untouched global provider
// would do the same at a higher cost (it builds a delegating span per
// middleware: several per Graph call). Call it once, from main.
func SilenceGlobal() {
	otel.SetTracerProvider(noop.NewTracerProvider())
}

// Setup returns the tracer provider of the process and its shutdown,
// which flushes the spans not yet exported. Without an Endpoint it
// returns the no-op provider and a shutdown that does nothing.
//
// Setup never installs its provider as otel's global one, and callers
// must not either: kiota-http-go (inside msgraph-sdk-go) starts a span per
// middleware of every Graph request through otel.GetTracerProvider(), and
// those must stay silent (see SilenceGlobal). Pass the returned provider
// explicitly instead.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	endpoint, err := exportURL(cfg.Endpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: endpoint: %w", err)
	}
	if endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, nil, fmt.Errorf("tracing: sample ratio %v is not between 0 and 1", cfg.SampleRatio)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(loggingExporter{SpanExporter: exp, log: log}),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return tp, tp.Shutdown, nil
}

// loggingExporter logs failed exports with the process logger instead of
// otel's global error handler (which writes to the standard logger).
type loggingExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger
}

func (e loggingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.log.WarnContext(ctx, "tracing: spans not exported", slog.Int("spans", len(spans)), slog.Any("error", err))
	}
	return nil
}
