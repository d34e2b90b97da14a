package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/logctx"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/tracing"
)

// tracerName is the instrumentation scope of the worker's spans.
const tracerName = "github.com/entraremediator/remediator/worker"

// taskRef is what every task payload may tell about itself: the
// traceparent of the span that enqueued it, and its job and item.
type taskRef struct {
	Trace string `json:"traceparent"`
	JobID string `json:"job_id"`
	Seq   *int   `json:"seq"`
}

// traceTask is the mux middleware of every task: a consumer span "task
// <type>", child of the payload's traceparent (the API request for a
// fan-out, the fan-out for an item), and the task's ids in the context's
// log attributes (task_id, task_type, job_id, seq). A malformed payload
// is left to the handler to refuse.
func (w *Worker) traceTask(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var ref taskRef
		_ = json.Unmarshal(t.Payload(), &ref)
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)

		spanAttrs := []attribute.KeyValue{
			attribute.String("task.id", id), attribute.String("task.type", t.Type()), attribute.Int("task.retry_count", retried)}
		logAttrs := []slog.Attr{slog.String("task_id", id), slog.String("task_type", t.Type())}
		if ref.JobID != "" {
			spanAttrs = append(spanAttrs, attribute.String("job_id", ref.JobID))
			logAttrs = append(logAttrs, slog.String("job_id", ref.JobID))
		}
		if ref.Seq != nil {
			spanAttrs = append(spanAttrs, attribute.Int("seq", *ref.Seq))
			logAttrs = append(logAttrs, slog.Int("seq", *ref.Seq))
		}
		ctx, span := w.tracer.Start(tracing.Extract(ctx, ref.Trace), "task "+t.Type(),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(spanAttrs...))
		defer span.End()
		err := next.ProcessTask(logctx.With(ctx, logAttrs...), t)
		taskOutcome(span, err)
		return err
	})
}

// taskOutcome records how a task ended. A scheduled retry, a budget
// bounce and a held lock are normal: an attribute says so. Anything else
// sets the error status with the error's code or type, never its message
// (Graph's messages may name the target).
func taskOutcome(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	var (
		re *retryError
		be *bounceError
		le *busyError
		ge *remediation.GraphError
		me *remediation.Error
	)
	switch {
	case errors.As(err, &re):
		span.SetAttributes(attribute.String("task.outcome", "retry_scheduled"), attribute.Float64("task.retry_delay", re.delay.Seconds()))
		return
	case errors.As(err, &be):
		span.SetAttributes(attribute.String("task.outcome", "budget_wait"), attribute.Float64("task.retry_delay", be.delay.Seconds()))
		return
	case errors.As(err, &le):
		span.SetAttributes(attribute.String("task.outcome", "lock_busy"), attribute.Float64("task.retry_delay", le.delay.Seconds()))
		return
	}
	kind := fmt.Sprintf("%T", err)
	switch {
	case errors.As(err, &ge):
		kind = ge.Code
	case errors.As(err, &me):
		kind = me.Code
	}
	outcome := "error"
	if errors.Is(err, asynq.SkipRetry) {
		outcome = "failed"
	}
	span.SetAttributes(attribute.String("task.outcome", outcome), attribute.String("error.type", kind))
	span.SetStatus(codes.Error, kind)
}
