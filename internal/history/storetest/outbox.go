package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// OutboxStore is an AccessStore that also records webhook deliveries in
// the transactions of jobs and items (remediation.DeliveryStore).
type OutboxStore interface {
	AccessStore
	remediation.DeliveryStore
}

// RunOutbox runs the contract suite of the webhook outbox. open must
// return a new, empty store for each call; it is called once per subtest.
func RunOutbox(t *testing.T, open func(t *testing.T) OutboxStore) {
	runGroup(t, "Outbox", outboxTests, open)
}

// deliveriesOf returns a webhook's deliveries by event.
func deliveriesOf(t testing.TB, s OutboxStore, webhookID string) map[string][]*remediation.WebhookDelivery {
	t.Helper()
	list, err := s.ListDeliveries(context.Background(), webhookID, 1000)
	if err != nil {
		t.Fatalf("ListDeliveries(%s): %v", webhookID, err)
	}
	out := map[string][]*remediation.WebhookDelivery{}
	for _, d := range list {
		out[d.Event] = append(out[d.Event], d)
	}
	return out
}

// wantEvents fails unless the webhook has exactly n deliveries per event.
func wantEvents(t testing.TB, s OutboxStore, webhookID string, want map[string]int) map[string][]*remediation.WebhookDelivery {
	t.Helper()
	got := deliveriesOf(t, s, webhookID)
	for _, ev := range []string{remediation.EventJobFinished, remediation.EventItemFailed} {
		if len(got[ev]) != want[ev] {
			t.Fatalf("webhook %s has %d %s deliveries, want %d (all: %v)", webhookID, len(got[ev]), ev, want[ev], got)
		}
	}
	return got
}

// jobFinished decodes a job.finished delivery and checks it against the
// stored job.
func jobFinished(t testing.TB, s OutboxStore, d *remediation.WebhookDelivery, jobID string) remediation.WebhookJob {
	t.Helper()
	var p remediation.JobFinishedPayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", d.Payload, err)
	}
	j := mustGetJob(t, s, jobID)
	got := p.Job
	if p.Event != remediation.EventJobFinished || got.ID != j.ID || got.TenantID != j.TenantID || got.Action != j.Action ||
		got.Status != j.Status || got.Total != j.Total || got.Reason != j.Reason || got.Actor != j.Actor ||
		got.RequestedBy != j.RequestedBy || !got.CreatedAt.Equal(j.CreatedAt) || got.FinishedAt == nil ||
		j.FinishedAt == nil || !got.FinishedAt.Equal(*j.FinishedAt) || got.DryRun != j.DryRun {
		t.Fatalf("job.finished payload = %s, want job %+v", d.Payload, j)
	}
	for _, st := range remediation.ItemStatuses {
		if got.Counts[st] != j.Counts[st] {
			t.Fatalf("payload counts = %v, want %v", got.Counts, j.Counts)
		}
	}
	if d.Status != remediation.DeliveryPending || d.Attempts != 0 || d.TenantID != j.TenantID || d.DeliveredAt != nil {
		t.Fatalf("delivery = %+v, want a new pending delivery", d)
	}
	return got
}

var outboxTests = map[string]func(t *testing.T, s OutboxStore){
	"JobFinishedAndItemFailed": func(t *testing.T, s OutboxStore) {
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		finished := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished))
		failed := mustWebhook(t, s, newWebhook("t1", remediation.EventItemFailed))
		both := mustWebhook(t, s, newWebhook("t1", remediation.EventItemFailed, remediation.EventJobFinished))
		none := mustWebhook(t, s, newWebhook("t1"))
		other := mustWebhook(t, s, newWebhook("t2", remediation.EventJobFinished, remediation.EventItemFailed))
		job := mustJob(t, s, "t1", 3)

		finish(t, s, job.ID, 0, remediation.ItemSucceeded)
		for _, w := range []*remediation.Webhook{finished, failed, both, none, other} {
			wantEvents(t, s, w.ID, nil)
		}
		mustTransition(t, s, remediation.Transition{JobID: job.ID, Seq: 1, To: remediation.ItemRunning,
			From: []remediation.ItemStatus{remediation.ItemPending}, CountAttempt: true})
		it := mustTransition(t, s, remediation.Transition{JobID: job.ID, Seq: 1, To: remediation.ItemFailed,
			From: []remediation.ItemStatus{remediation.ItemRunning}, GraphRequestID: "req-42",
			Error: &remediation.ItemError{Code: "Authorization_RequestDenied", Message: "insufficient privileges"}})
		wantEvents(t, s, finished.ID, nil)
		got := wantEvents(t, s, failed.ID, map[string]int{remediation.EventItemFailed: 1})
		wantEvents(t, s, both.ID, map[string]int{remediation.EventItemFailed: 1})
		d := got[remediation.EventItemFailed][0]
		var p remediation.ItemFailedPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", d.Payload, err)
		}
		want := remediation.WebhookItem{JobID: job.ID, TenantID: "t1", Action: job.Action, Identity: it.Identity,
			Error: it.Error, Attempts: 1, GraphRequestID: "req-42"}
		p.Item.FailedAt = time.Time{}
		if p.Event != remediation.EventItemFailed || p.Item.Error == nil || *p.Item.Error != *want.Error {
			t.Fatalf("item.failed payload = %s, want %+v", d.Payload, want)
		}
		p.Item.Error = want.Error
		if p.Item != want {
			t.Fatalf("item.failed payload = %+v, want %+v", p.Item, want)
		}
		if d.Status != remediation.DeliveryPending || d.TenantID != "t1" {
			t.Fatalf("item.failed delivery = %+v", d)
		}

		finish(t, s, job.ID, 2, remediation.ItemSkipped)
		got = wantEvents(t, s, finished.ID, map[string]int{remediation.EventJobFinished: 1})
		if p := jobFinished(t, s, got[remediation.EventJobFinished][0], job.ID); p.Status != remediation.JobCompleted ||
			p.Counts[remediation.ItemSucceeded] != 1 || p.Counts[remediation.ItemFailed] != 1 ||
			p.Counts[remediation.ItemSkipped] != 1 || p.Total != 3 {
			t.Fatalf("job.finished payload = %+v", p)
		}
		wantEvents(t, s, failed.ID, map[string]int{remediation.EventItemFailed: 1})
		wantEvents(t, s, both.ID, map[string]int{remediation.EventItemFailed: 1, remediation.EventJobFinished: 1})
		wantEvents(t, s, none.ID, nil)
		wantEvents(t, s, other.ID, nil)

		// Transitions that do not apply, and a cancel of the finished job,
		// record nothing more.
		if _, ok, err := s.TransitionItem(t.Context(), remediation.Transition{JobID: job.ID, Seq: 1,
			To: remediation.ItemFailed, From: []remediation.ItemStatus{remediation.ItemRunning}}); err != nil || ok {
			t.Fatalf("TransitionItem of a failed item = %v, %v", ok, err)
		}
		if _, err := s.CancelJob(t.Context(), job.ID); err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		wantEvents(t, s, both.ID, map[string]int{remediation.EventItemFailed: 1, remediation.EventJobFinished: 1})
	},
	"ConcurrentFinalTransitions": func(t *testing.T, s OutboxStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished, remediation.EventItemFailed))
		const n = 8
		for range 4 {
			job := mustJob(t, s, "t1", n)
			for seq := range n {
				mustTransition(t, s, remediation.Transition{JobID: job.ID, Seq: seq, To: remediation.ItemRunning,
					From: []remediation.ItemStatus{remediation.ItemPending}})
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for seq := range n {
				wg.Go(func() {
					to := remediation.ItemSucceeded
					if seq%2 == 1 {
						to = remediation.ItemFailed
					}
					_, _, errs[seq] = s.TransitionItem(t.Context(), remediation.Transition{JobID: job.ID, Seq: seq, To: to,
						From: []remediation.ItemStatus{remediation.ItemRunning}})
				})
			}
			wg.Wait()
			for seq, err := range errs {
				if err != nil {
					t.Fatalf("TransitionItem(%d): %v", seq, err)
				}
			}
			if j := mustGetJob(t, s, job.ID); j.Status != remediation.JobCompleted {
				t.Fatalf("job status = %s, want completed", j.Status)
			}
		}
		got := wantEvents(t, s, w.ID, map[string]int{remediation.EventJobFinished: 4, remediation.EventItemFailed: 4 * n / 2})
		jobs := map[string]bool{}
		for _, d := range got[remediation.EventJobFinished] {
			var p remediation.JobFinishedPayload
			if err := json.Unmarshal(d.Payload, &p); err != nil {
				t.Fatal(err)
			}
			jobs[p.Job.ID] = true
			jobFinished(t, s, d, p.Job.ID)
		}
		if len(jobs) != 4 {
			t.Fatalf("job.finished deliveries cover %d jobs, want 4", len(jobs))
		}
	},
	"CanceledJob": func(t *testing.T, s OutboxStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished, remediation.EventItemFailed))

		// Nothing running: the cancel finishes the job.
		idle := mustJob(t, s, "t1", 2)
		for range 2 {
			if _, err := s.CancelJob(t.Context(), idle.ID); err != nil {
				t.Fatalf("CancelJob: %v", err)
			}
		}
		got := wantEvents(t, s, w.ID, map[string]int{remediation.EventJobFinished: 1})
		if p := jobFinished(t, s, got[remediation.EventJobFinished][0], idle.ID); p.Status != remediation.JobCanceled ||
			p.Counts[remediation.ItemCanceled] != 2 {
			t.Fatalf("job.finished payload of a canceled job = %+v", p)
		}

		// One item running: the job finishes canceled when it ends.
		busy := mustJob(t, s, "t1", 3)
		mustTransition(t, s, remediation.Transition{JobID: busy.ID, Seq: 0, To: remediation.ItemRunning,
			From: []remediation.ItemStatus{remediation.ItemPending}})
		if _, err := s.CancelJob(t.Context(), busy.ID); err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		wantEvents(t, s, w.ID, map[string]int{remediation.EventJobFinished: 1})
		mustTransition(t, s, remediation.Transition{JobID: busy.ID, Seq: 0, To: remediation.ItemSucceeded,
			From: []remediation.ItemStatus{remediation.ItemRunning}})
		got = wantEvents(t, s, w.ID, map[string]int{remediation.EventJobFinished: 2})
		var last *remediation.WebhookDelivery
		for _, d := range got[remediation.EventJobFinished] {
			var p remediation.JobFinishedPayload
			if err := json.Unmarshal(d.Payload, &p); err != nil {
				t.Fatalf("payload %s: %v", d.Payload, err)
			}
			if p.Job.ID == busy.ID {
				last = d
			}
		}
		if last == nil {
			t.Fatalf("no job.finished delivery of job %s", busy.ID)
		}
		if p := jobFinished(t, s, last, busy.ID); p.Status != remediation.JobCanceled ||
			p.Counts[remediation.ItemSucceeded] != 1 || p.Counts[remediation.ItemCanceled] != 2 {
			t.Fatalf("job.finished payload = %+v", p)
		}
	},
	"NoWebhooks": func(t *testing.T, s OutboxStore) {
		job := mustJob(t, s, "t1", 2)
		finish(t, s, job.ID, 0, remediation.ItemFailed)
		finish(t, s, job.ID, 1, remediation.ItemSucceeded)
		if list, err := s.PendingDeliveries(t.Context(), 100); err != nil || len(list) != 0 {
			t.Fatalf("PendingDeliveries = %v, %v; want none", list, err)
		}
	},
	"PendingDeliveriesDue": func(t *testing.T, s OutboxStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished))
		ids := make([]string, 5)
		for i := range ids {
			ids[i] = uuid.NewString()
			mustEnqueue(t, s, &remediation.WebhookDelivery{ID: ids[i], WebhookID: w.ID, Event: remediation.EventJobFinished})
		}
		now := time.Now()
		// ids[0] is delivered, ids[1] failed: neither is pending.
		for i, st := range []string{remediation.DeliveryDelivered, remediation.DeliveryFailed} {
			if err := s.UpdateDelivery(t.Context(), &remediation.WebhookDelivery{ID: ids[i], Status: st, Attempts: 1}); err != nil {
				t.Fatalf("UpdateDelivery: %v", err)
			}
		}
		// ids[2] is deferred to the future; ids[3] and ids[4] were due in
		// the past, ids[4] longer ago.
		for id, at := range map[string]time.Time{ids[2]: now.Add(time.Hour), ids[3]: now.Add(-time.Minute),
			ids[4]: now.Add(-2 * time.Minute)} {
			if err := s.DeferDelivery(t.Context(), id, at); err != nil {
				t.Fatalf("DeferDelivery: %v", err)
			}
		}
		job := mustJob(t, s, "t1", 1)
		finish(t, s, job.ID, 0, remediation.ItemSucceeded)
		outbox := deliveriesOf(t, s, w.ID)[remediation.EventJobFinished]
		var fromJob string
		for _, d := range outbox {
			if !slices.Contains(ids, d.ID) {
				fromJob = d.ID
			}
		}
		if fromJob == "" {
			t.Fatalf("no delivery recorded for job %s", job.ID)
		}
		pending := func(limit int) []string {
			t.Helper()
			list, err := s.PendingDeliveries(t.Context(), limit)
			if err != nil {
				t.Fatalf("PendingDeliveries(%d): %v", limit, err)
			}
			var out []string
			for _, d := range list {
				if d.Status != remediation.DeliveryPending || d.WebhookID != w.ID {
					t.Fatalf("PendingDeliveries returned %+v", d)
				}
				out = append(out, d.ID)
			}
			return out
		}
		if got, want := pending(0), []string{ids[4], ids[3], fromJob}; !slices.Equal(got, want) {
			t.Fatalf("PendingDeliveries = %v, want %v", got, want)
		}
		if got, want := pending(2), []string{ids[4], ids[3]}; !slices.Equal(got, want) {
			t.Fatalf("PendingDeliveries(2) = %v, want %v", got, want)
		}
		// Deferring a delivered one changes nothing; unknown ids are not found.
		if err := s.DeferDelivery(t.Context(), ids[0], now.Add(-time.Hour)); err != nil {
			t.Fatalf("DeferDelivery of a delivered delivery: %v", err)
		}
		wantCode(t, s.DeferDelivery(t.Context(), "nope", now), remediation.ENOTFOUND)
		if err := s.DeferDelivery(t.Context(), ids[2], now.Add(-3*time.Minute)); err != nil {
			t.Fatalf("DeferDelivery: %v", err)
		}
		if got, want := pending(0), []string{ids[2], ids[4], ids[3], fromJob}; !slices.Equal(got, want) {
			t.Fatalf("PendingDeliveries after an earlier due time = %v, want %v", got, want)
		}
		// Deleting the webhook deletes its pending deliveries.
		if err := s.DeleteWebhook(t.Context(), w.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		if got := pending(0); len(got) != 0 {
			t.Fatalf("PendingDeliveries after DeleteWebhook = %v", got)
		}
	},
	"DeletedWebhookGetsNothing": func(t *testing.T, s OutboxStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished, remediation.EventItemFailed))
		job := mustJob(t, s, "t1", 2)
		finish(t, s, job.ID, 0, remediation.ItemFailed)
		if err := s.DeleteWebhook(t.Context(), w.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		finish(t, s, job.ID, 1, remediation.ItemFailed)
		if j := mustGetJob(t, s, job.ID); j.Status != remediation.JobCompleted {
			t.Fatalf("job status = %s", j.Status)
		}
		if list, err := s.PendingDeliveries(t.Context(), 100); err != nil || len(list) != 0 {
			t.Fatalf("PendingDeliveries = %v, %v; want none", list, err)
		}
	},
}
