package api

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/logctx"
)

// tracerName is the instrumentation scope of the API's spans.
const tracerName = "github.com/entraremediator/remediator/api"

// traceRequest starts the server span of a request, "METHOD <route>"
// (the route template, never the path: paths hold identities), puts it
// in the request's context, where the fan-out enqueued by a submission
// picks it up (queue.Client.StartFanout), and adds the request id to the
// context's log attributes. It runs after routing and outside accessLog,
// so the status it records is the one sent. The probes and /metrics are
// not traced. A caller's traceparent header is not honoured: the span is
// always a root.
func (s *Server) traceRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		route := c.Path()
		switch route {
		case pathHealthz, pathReadyz, pathMetrics:
			return next(c)
		}
		name := req.Method
		if route != "" {
			name += " " + route
		}
		ctx, span := s.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
		defer span.End()
		if id := requestIDOf(c); id != "" {
			ctx = logctx.With(ctx, slog.String("request_id", id))
		}
		c.SetRequest(req.WithContext(ctx))
		if err := next(c); err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}
