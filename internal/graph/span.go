package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/remediation"
)

// tracerName is the instrumentation scope of the Graph spans.
const tracerName = "github.com/entraremediator/remediator/internal/graph"

// Span attributes of a Graph call. Neither the target (an object id or a
// UPN) nor any URL is recorded: the operation template is enough, and a
// UPN is personal data.
const (
	attrOperation  = attribute.Key("graph.operation")
	attrTenantID   = attribute.Key("graph.tenant_id")
	attrRequestID  = attribute.Key("graph.request_id")
	attrThrottled  = attribute.Key("graph.throttled")
	attrRetryAfter = attribute.Key("graph.retry_after") // seconds
	attrStatusCode = attribute.Key("http.response.status_code")
	attrErrorType  = attribute.Key("error.type")
)

// startSpan starts the client span of one Graph call. The SDK's own
// (kiota) spans below it go to the untouched global provider and record
// nothing (see tracing.Setup).
func (d *directory) startSpan(ctx context.Context, op string) (context.Context, trace.Span) {
	return d.tracer.Start(ctx, "graph "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrOperation.String(op), attrTenantID.String(d.tenantID)))
}

// callSpanAttrs records the answer of a call: its HTTP status (0: none
// came) and Graph's request-id.
func callSpanAttrs(span trace.Span, status int, requestID string) {
	if !span.IsRecording() {
		return
	}
	if status != 0 {
		span.SetAttributes(attrStatusCode.Int(status))
	}
	if requestID != "" {
		span.SetAttributes(attrRequestID.String(requestID))
	}
}

// endSpan ends the span of a call that returned err. A failure sets the
// error status with the Graph error code only: Graph's messages may name
// the target.
func endSpan(span trace.Span, err error) {
	defer span.End()
	if err == nil || !span.IsRecording() {
		return
	}
	var ge *remediation.GraphError
	if !errors.As(err, &ge) {
		span.SetAttributes(attrErrorType.String(fmt.Sprintf("%T", err)))
		span.SetStatus(codes.Error, "graph call not made")
		return
	}
	span.SetAttributes(attrErrorType.String(ge.Code))
	if ge.Status == http.StatusTooManyRequests {
		span.SetAttributes(attrThrottled.Bool(true))
	}
	if ge.RetryAfter > 0 {
		span.SetAttributes(attrRetryAfter.Float64(ge.RetryAfter.Seconds()))
	}
	span.SetStatus(codes.Error, ge.Code)
}
