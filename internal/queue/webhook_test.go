package queue_test

import (
	"errors"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestEnqueueWebhookIsIdempotent(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{})
	t.Cleanup(func() { c.Close() })
	for range 3 {
		if err := c.EnqueueWebhook(t.Context(), "d1", 4); err != nil {
			t.Fatalf("EnqueueWebhook: %v", err)
		}
	}
	if err := c.EnqueueWebhook(t.Context(), "d2", 0); err != nil {
		t.Fatalf("EnqueueWebhook: %v", err)
	}
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	tasks, err := insp.ListPendingTasks(queue.QueueControl)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 {
		t.Fatalf("%d pending webhook tasks, want 2", len(tasks))
	}
	want := map[string]int{"webhook:d1": 4 + queue.RetryReserve, "webhook:d2": queue.DefaultWebhookMaxRetry + queue.RetryReserve}
	for _, ti := range tasks {
		if ti.Type != queue.TypeWebhook || ti.MaxRetry != want[ti.ID] || ti.Timeout != queue.WebhookTimeout {
			t.Errorf("task %s: type %s max retry %d timeout %s", ti.ID, ti.Type, ti.MaxRetry, ti.Timeout)
		}
		p, err := queue.ParseWebhook(asynq.NewTask(ti.Type, ti.Payload))
		if err != nil || queue.WebhookTaskID(p.DeliveryID) != ti.ID {
			t.Errorf("task %s: payload %s (%v)", ti.ID, ti.Payload, err)
		}
	}
}

func TestWebhookTaskErrors(t *testing.T) {
	if _, err := queue.NewWebhookTask(""); err == nil {
		t.Error("NewWebhookTask(\"\") succeeded")
	}
	for _, payload := range []string{``, `{}`, `{"delivery_id":""}`, `[1]`} {
		_, err := queue.ParseWebhook(asynq.NewTask(queue.TypeWebhook, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("ParseWebhook(%q) = %v, want SkipRetry", payload, err)
		}
	}
}
