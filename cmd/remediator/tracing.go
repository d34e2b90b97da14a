package main

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/tracing"
)

// traceFlushTimeout bounds the export of the last spans at exit.
const traceFlushTimeout = 5 * time.Second

// setupTracing returns the tracer provider of a process in the role
// service (tracing.ServiceAPI, …), no-op unless REMEDIATOR_OTLP_ENDPOINT
// is set, and a stop that flushes it. It is passed to the API, the worker
// and the Graph connector; the global otel provider stays untouched (see
// tracing.Setup).
func setupTracing(ctx context.Context, cfg Config, service string, log *slog.Logger) (trace.TracerProvider, func(), error) {
	tp, shutdown, err := tracing.Setup(ctx, tracing.Config{
		Endpoint: cfg.OTLPEndpoint, SampleRatio: cfg.TraceSampleRatio, ServiceName: service, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if cfg.OTLPEndpoint != "" {
		log.Info("tracing on", slog.String("service", service), slog.Float64("sample_ratio", cfg.TraceSampleRatio))
	}
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("tracing: flush at exit", slog.Any("error", err))
		}
	}, nil
}
