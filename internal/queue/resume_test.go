package queue_test

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestRequeueItemsCountsWhatWasLost(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{EnqueueConcurrency: 4})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.EnqueueItems(ctx, "job", []int{0, 1, 2}, "bulk"); err != nil {
		t.Fatal(err)
	}
	n, err := c.RequeueItems(ctx, "job", []int{0, 1, 2, 3, 4}, "bulk")
	if err != nil || n != 2 {
		t.Fatalf("RequeueItems = %d, %v; want 2 created (3 and 4)", n, err)
	}
	if n, err := c.RequeueItems(ctx, "job", []int{3, 4}, "bulk"); err != nil || n != 0 {
		t.Fatalf("RequeueItems again = %d, %v; want 0", n, err)
	}
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	tasks, err := insp.ListPendingTasks(queue.QueueBulk)
	if err != nil || len(tasks) != 5 {
		t.Fatalf("%d pending tasks (%v), want 5", len(tasks), err)
	}
	r.Kill()
	if _, err := c.RequeueItems(ctx, "job", []int{5, 6}, "bulk"); err == nil {
		t.Fatal("RequeueItems succeeded with Redis down")
	}
}

func TestResumeFanoutOncePerCursor(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.StartFanout(ctx, "job", "bulk"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{1000, 1000, 2000} {
		if err := c.ResumeFanout(ctx, "job", "bulk", at); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	tasks, err := insp.ListPendingTasks(queue.QueueControl)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, ti := range tasks {
		ids[ti.ID] = true
		if ti.Type != queue.TypeFanout {
			t.Errorf("task %s has type %s", ti.ID, ti.Type)
		}
	}
	if len(tasks) != 3 || !ids["fanout:job"] || !ids[queue.ResumeFanoutTaskID("job", 1000)] || !ids["fanout:job:resume:2000"] {
		t.Fatalf("fan-out tasks = %v, want the fan-out and one resume per cursor", ids)
	}
}
