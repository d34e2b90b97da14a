// Package tracing sets up OpenTelemetry tracing for one process and
// carries a span context across the queue as a W3C traceparent.
//
// Tracing is off unless an OTLP/HTTP collector is configured: Setup then
// returns the no-op provider, whose spans cost next to nothing and are
// never exported. The provider is handed to the API, the worker and the
// Graph connector explicitly; the process-wide otel provider is left
// alone on purpose (see Setup).
package tracing
