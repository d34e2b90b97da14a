package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestEnqueueItemsAtSchedulesEachItem(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{MaxRetry: 4, EnqueueConcurrency: 3})
	t.Cleanup(func() { c.Close() })
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	ctx := context.Background()

	now := time.Now()
	seqs := []int{0, 1, 2, 3, 4}
	at := []time.Time{{}, now.Add(-time.Minute), now.Add(time.Minute), now.Add(2 * time.Minute), now.Add(3 * time.Minute)}
	if err := c.EnqueueItemsAt(ctx, "job-s", seqs, "bulk", at); err != nil {
		t.Fatalf("EnqueueItemsAt: %v", err)
	}
	pending, err := insp.ListPendingTasks(queue.QueueBulk)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Fatalf("%d pending tasks, want 2 (no time, a past time)", len(pending))
	}
	scheduled, err := insp.ListScheduledTasks(queue.QueueBulk)
	if err != nil {
		t.Fatal(err)
	}
	if len(scheduled) != 3 {
		t.Fatalf("%d scheduled tasks, want 3", len(scheduled))
	}
	for _, ti := range scheduled {
		var want time.Time
		for i, s := range seqs {
			if ti.ID == queue.ItemTaskID("job-s", s) {
				want = at[i]
			}
		}
		// asynq keeps whole seconds.
		if want.IsZero() || ti.NextProcessAt.Unix() != want.Unix() || ti.MaxRetry != 4+queue.RetryReserve {
			t.Errorf("task %s at %s max retry %d, want at %s", ti.ID, ti.NextProcessAt, ti.MaxRetry, want)
		}
	}

	// A task that exists keeps its time; a second call is a success.
	if err := c.EnqueueItemsAt(ctx, "job-s", seqs[2:3], "bulk", []time.Time{now}); err != nil {
		t.Fatalf("EnqueueItemsAt again: %v", err)
	}
	if ti, err := insp.GetTaskInfo(queue.QueueBulk, queue.ItemTaskID("job-s", 2)); err != nil || ti.State != asynq.TaskStateScheduled {
		t.Errorf("re-enqueued task: %+v %v, want still scheduled", ti, err)
	}

	if err := c.EnqueueItemsAt(ctx, "job-s", seqs, "bulk", at[:2]); err == nil {
		t.Error("EnqueueItemsAt with fewer times than items succeeded")
	}
}
