package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// traceContext is the W3C Trace Context propagator.
var traceContext propagation.TraceContext

// Inject returns the W3C traceparent of the span context in ctx, or ""
// when ctx holds no valid one. It never carries baggage or tracestate.
func Inject(ctx context.Context) string {
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c.Get("traceparent")
}

// Extract returns ctx with the remote span context of traceparent; ctx
// itself when traceparent is empty or malformed.
func Extract(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
