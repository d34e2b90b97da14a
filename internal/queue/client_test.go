package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/testenv"
)

func TestStartFanoutIsIdempotent(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for range 3 {
		if err := c.StartFanout(ctx, "job-1", "urgent"); err != nil {
			t.Fatalf("StartFanout: %v", err)
		}
	}
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	// An urgent job's fan-out runs on the urgent queue, ahead of bulk work.
	tasks, err := insp.ListPendingTasks(queue.QueueUrgent)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Fatalf("%d pending fan-out tasks, want 1", len(tasks))
	}
	ti := tasks[0]
	if ti.ID != "fanout:job-1" || ti.Type != queue.TypeFanout || ti.Timeout != queue.DefaultFanoutTimeout {
		t.Errorf("task = id %s type %s timeout %s", ti.ID, ti.Type, ti.Timeout)
	}
	var p queue.FanoutPayload
	if err := json.Unmarshal(ti.Payload, &p); err != nil || p != (queue.FanoutPayload{JobID: "job-1", Priority: "urgent"}) {
		t.Errorf("payload = %s (%v)", ti.Payload, err)
	}
	if err := c.StartFanout(ctx, "job-2", "bulk"); err != nil {
		t.Fatal(err)
	}
	if tasks, err := insp.ListPendingTasks(queue.QueueControl); err != nil || len(tasks) != 1 || tasks[0].ID != "fanout:job-2" {
		t.Fatalf("control queue = %v, %v; want the bulk job's fan-out", tasks, err)
	}
}

func TestEnqueueItems(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{MaxRetry: 4, ItemTimeout: time.Minute, EnqueueConcurrency: 3})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()

	seqs := make([]int, 50)
	for i := range seqs {
		seqs[i] = i
	}
	if err := c.EnqueueItems(ctx, "job-b", seqs, "bulk"); err != nil {
		t.Fatalf("EnqueueItems: %v", err)
	}
	// Enqueuing again, overlapping, conflicts on TaskIDs and is a success.
	if err := c.EnqueueItems(ctx, "job-b", append(seqs[40:], 50, 51), "bulk"); err != nil {
		t.Fatalf("EnqueueItems again: %v", err)
	}
	if err := c.EnqueueItems(ctx, "job-u", []int{0, 1}, "urgent"); err != nil {
		t.Fatalf("EnqueueItems urgent: %v", err)
	}

	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	bulk, err := insp.ListPendingTasks(queue.QueueBulk, asynq.PageSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	if len(bulk) != 52 {
		t.Fatalf("%d bulk tasks, want 52", len(bulk))
	}
	var ids []string
	for _, ti := range bulk {
		ids = append(ids, ti.ID)
		if ti.Type != queue.TypeItem || ti.MaxRetry != 4+queue.RetryReserve || ti.Timeout != time.Minute {
			t.Errorf("task %s: type %s max retry %d timeout %s", ti.ID, ti.Type, ti.MaxRetry, ti.Timeout)
		}
		var p queue.ItemPayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil || queue.ItemTaskID(p.JobID, p.Seq) != ti.ID {
			t.Errorf("task %s payload %s does not match its id", ti.ID, ti.Payload)
		}
	}
	for _, want := range []string{"item:job-b:0", "item:job-b:49", "item:job-b:51"} {
		if !slices.Contains(ids, want) {
			t.Errorf("task %s missing", want)
		}
	}
	urgent, err := insp.ListPendingTasks(queue.QueueUrgent)
	if err != nil {
		t.Fatal(err)
	}
	if len(urgent) != 2 {
		t.Errorf("%d urgent tasks, want 2", len(urgent))
	}
}

func TestEnqueueItemsReportsRedisDown(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{})
	t.Cleanup(func() { c.Close() })
	r.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnqueueItems(ctx, "job", []int{0, 1, 2, 3}, "bulk"); err == nil {
		t.Fatal("EnqueueItems succeeded with Redis down")
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis down")
	}
}

func TestTasksAndPayloads(t *testing.T) {
	if got := queue.Lanes(); !slices.Equal(got, []string{queue.QueueUrgent, queue.QueueControl, queue.QueueBulk}) {
		t.Errorf("Lanes() = %v, want urgent, control, bulk", got)
	}
	if queue.FanoutQueue("urgent") != queue.QueueUrgent || queue.FanoutQueue("bulk") != queue.QueueControl {
		t.Error("FanoutQueue maps priorities wrongly")
	}
	if queue.ItemQueue("urgent") != queue.QueueUrgent || queue.ItemQueue("bulk") != queue.QueueBulk || queue.ItemQueue("") != queue.QueueBulk {
		t.Error("ItemQueue maps priorities wrongly")
	}
	it, err := queue.NewItemTask("j", 7)
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Payload()) != `{"job_id":"j","seq":7}` {
		t.Errorf("item payload = %s", it.Payload())
	}
	p, err := queue.ParseItem(it)
	if err != nil || p != (queue.ItemPayload{JobID: "j", Seq: 7}) {
		t.Errorf("ParseItem = %+v, %v", p, err)
	}
	for _, bad := range []string{`{`, `{"seq":1}`, `{"job_id":"j","seq":-1}`} {
		if _, err := queue.ParseItem(asynq.NewTask(queue.TypeItem, []byte(bad))); err == nil || !errorsIsSkip(err) {
			t.Errorf("ParseItem(%s) = %v, want a SkipRetry error", bad, err)
		}
	}
	if _, err := queue.ParseFanout(asynq.NewTask(queue.TypeFanout, []byte(`{}`))); err == nil || !errorsIsSkip(err) {
		t.Errorf("ParseFanout({}) = %v, want a SkipRetry error", err)
	}
	if queue.RetryBudget(13) != 13-queue.RetryReserve || queue.RetryBudget(0) != 0 {
		t.Error("RetryBudget is wrong")
	}
}

func errorsIsSkip(err error) bool { return errors.Is(err, asynq.SkipRetry) }

func TestPolicyFlushTasks(t *testing.T) {
	r := testenv.Redis(t)
	c := queue.NewClient(r.Opt(), queue.Options{MaxRetry: 5})
	t.Cleanup(func() { c.Close() })
	insp := asynq.NewInspector(r.Opt())
	t.Cleanup(func() { insp.Close() })
	ctx := context.Background()

	// Requests made within one time bucket share one scheduled flush,
	// which runs no earlier than the bucket's end.
	var before time.Time
	for {
		before = time.Now()
		if before.Sub(before.Truncate(queue.DefaultPolicyFlushWindow)) < queue.DefaultPolicyFlushWindow-500*time.Millisecond {
			break // not too close to a bucket's end
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 3 {
		if err := c.SchedulePolicyFlush(ctx, "tenant-1", "mfa"); err != nil {
			t.Fatalf("SchedulePolicyFlush: %v", err)
		}
	}
	scheduled, err := insp.ListScheduledTasks(queue.QueueControl)
	if err != nil {
		t.Fatal(err)
	}
	if len(scheduled) != 1 {
		t.Fatalf("%d scheduled flushes, want 1", len(scheduled))
	}
	ti := scheduled[0]
	bucketEnd := before.Truncate(queue.DefaultPolicyFlushWindow).Add(queue.DefaultPolicyFlushWindow)
	if ti.ID != queue.PolicyFlushTaskID("tenant-1", "mfa", before, queue.DefaultPolicyFlushWindow) || ti.Type != queue.TypePolicyFlush ||
		ti.MaxRetry != 5+queue.RetryReserve || ti.Timeout != queue.DefaultPolicyFlushTimeout {
		t.Errorf("flush task = id %s type %s max retry %d timeout %s", ti.ID, ti.Type, ti.MaxRetry, ti.Timeout)
	}
	if ti.NextProcessAt.Before(bucketEnd) || ti.NextProcessAt.After(bucketEnd.Add(time.Second)) {
		t.Errorf("flush runs at %s, want at the bucket's end %s", ti.NextProcessAt, bucketEnd)
	}
	var p queue.PolicyFlushPayload
	if err := json.Unmarshal(ti.Payload, &p); err != nil || p != (queue.PolicyFlushPayload{TenantID: "tenant-1", Kind: "mfa"}) {
		t.Errorf("payload = %s (%v)", ti.Payload, err)
	}

	// One recovery flush at a time; continuations are all distinct.
	for range 3 {
		if err := c.RecoverPolicyFlush(ctx, "tenant-1", "mfa"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := c.ContinuePolicyFlush(ctx, "tenant-1", "mfa"); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := insp.ListPendingTasks(queue.QueueControl)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ti := range pending {
		ids = append(ids, ti.ID)
	}
	if len(pending) != 3 || !slices.Contains(ids, queue.RecoveryFlushTaskID("tenant-1", "mfa")) {
		t.Errorf("pending flushes %v, want the recovery flush and 2 continuations", ids)
	}

	if _, err := queue.NewPolicyFlushTask("", "mfa"); err == nil {
		t.Error("NewPolicyFlushTask accepted an empty tenant")
	}
	for _, bad := range []string{`{`, `{"tenant_id":"t"}`, `{"kind":"mfa"}`} {
		if _, err := queue.ParsePolicyFlush(asynq.NewTask(queue.TypePolicyFlush, []byte(bad))); err == nil || !errorsIsSkip(err) {
			t.Errorf("ParsePolicyFlush(%s) = %v, want a SkipRetry error", bad, err)
		}
	}
}
