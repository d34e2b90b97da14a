package queue_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hibiken/asynq"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
	"github.com/entraremediator/remediator/internal/tracing"
)

// TestPayloadsCarryTraceparent: the span of the enqueuing context goes
// into fan-out and item payloads; without one the field is left out.
func TestPayloadsCarryTraceparent(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{})
	t.Cleanup(func() { c.Close() })
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	want := tracing.Inject(ctx)
	if want == "" {
		t.Fatal("no traceparent for a recording span")
	}

	if err := c.StartFanout(ctx, "job-t", "bulk"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueItems(ctx, "job-t", []int{0}, "bulk"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueItems(context.Background(), "job-plain", []int{0}, "bulk"); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	payload := func(qname, id string) []byte {
		t.Helper()
		ti, err := insp.GetTaskInfo(qname, id)
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		return ti.Payload
	}
	var f queue.FanoutPayload
	if err := json.Unmarshal(payload(queue.QueueControl, queue.FanoutTaskID("job-t")), &f); err != nil || f.Trace != want {
		t.Errorf("fan-out payload trace %q (%v), want %q", f.Trace, err, want)
	}
	var it queue.ItemPayload
	if err := json.Unmarshal(payload(queue.QueueBulk, queue.ItemTaskID("job-t", 0)), &it); err != nil || it.Trace != want {
		t.Errorf("item payload trace %q (%v), want %q", it.Trace, err, want)
	}
	if got := string(payload(queue.QueueBulk, queue.ItemTaskID("job-plain", 0))); got != `{"job_id":"job-plain","seq":0}` {
		t.Errorf("item payload without a span = %s", got)
	}
}
