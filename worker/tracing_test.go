package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/logctx"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/worker"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTaskSpansChain: the fan-out task's span continues the trace of the
// span that started it, each item task's span is a child of the fan-out
// span, and the Graph calls of an item are children of its span; the
// item's log records carry its task id, job id and trace id.
func TestTaskSpansChain(t *testing.T) {
	b := setup(t, options{noStart: true})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	logs := &lockedBuffer{}
	w, err := b.newWorker(func(c *worker.Config) {
		c.TracerProvider = tp
		// The reconciler would start the fan-out of the new job itself
		// (without the test's trace) if it ran before StartFanout.
		c.ReconcileInterval = time.Hour
		c.Directories = graph.NewConnector(graph.Options{Box: b.box, RootCAs: b.sim.CAPool(), Timeout: 10 * time.Second, TracerProvider: tp})
		c.Logger = slog.New(logctx.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	u := b.addUser(graphsim.UserSpec{UserPrincipalName: "traced@contoso.com", AccountEnabled: true})
	job := b.createJob(remediation.ActionDisableUser, "urgent", u.UserPrincipalName)
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	if err := b.queue.StartFanout(ctx, job.ID, job.Priority); err != nil {
		t.Fatal(err)
	}
	request.End()
	if got := b.waitJob(job.ID, 30*time.Second); got.Counts[remediation.ItemSucceeded] != 1 {
		t.Fatalf("job counts %v", got.Counts)
	}

	find := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		var s sdktrace.ReadOnlySpan
		b.eventually(10*time.Second, "span "+name, func() bool {
			for _, e := range rec.Ended() {
				if e.Name() == name {
					s = e
					return true
				}
			}
			return false
		})
		return s
	}
	fanout := find("task " + queue.TypeFanout)
	item := find("task " + queue.TypeItem)
	patch := find("graph " + graph.OpSetAccountEnabled)
	traceID := request.SpanContext().TraceID()
	for _, c := range []struct {
		span   sdktrace.ReadOnlySpan
		parent trace.SpanContext
		kind   trace.SpanKind
	}{
		{fanout, request.SpanContext(), trace.SpanKindConsumer},
		{item, fanout.SpanContext(), trace.SpanKindConsumer},
		{patch, item.SpanContext(), trace.SpanKindClient},
	} {
		if c.span.SpanContext().TraceID() != traceID || c.span.Parent().SpanID() != c.parent.SpanID() || c.span.SpanKind() != c.kind {
			t.Errorf("span %s: trace %s parent %s kind %v; want trace %s parent %s kind %v", c.span.Name(),
				c.span.SpanContext().TraceID(), c.span.Parent().SpanID(), c.span.SpanKind(), traceID, c.parent.SpanID(), c.kind)
		}
	}
	attrs := map[string]string{}
	for _, kv := range item.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["task.id"] != queue.ItemTaskID(job.ID, 0) || attrs["job_id"] != job.ID || attrs["seq"] != "0" || attrs["task.retry_count"] != "0" {
		t.Errorf("item span attributes %v", attrs)
	}

	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "item finished" {
			continue
		}
		found = true
		if m["task_id"] != queue.ItemTaskID(job.ID, 0) || m["job_id"] != job.ID || m["task_type"] != queue.TypeItem ||
			m["trace_id"] != traceID.String() || m["span_id"] != item.SpanContext().SpanID().String() {
			t.Errorf("item log line lacks its ids: %s", line)
		}
		if strings.Count(line, `"job_id"`) != 1 {
			t.Errorf("job_id twice: %s", line)
		}
	}
	if !found {
		t.Errorf("no item finished log line:\n%s", logs.String())
	}
}
