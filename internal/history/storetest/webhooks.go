package storetest

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// newWebhook returns a webhook of tenant with a fresh id.
func newWebhook(tenant string, events ...string) *remediation.Webhook {
	return &remediation.Webhook{ID: uuid.NewString(), TenantID: tenant, URL: "https://hooks.example/" + tenant,
		Events: events, CreatedBy: "api-key:admin", SecretCiphertext: []byte{0, 1, 0xfe}, SecretKeyID: "k1"}
}

func mustWebhook(t testing.TB, s AccessStore, w *remediation.Webhook) *remediation.Webhook {
	t.Helper()
	if err := s.CreateWebhook(t.Context(), w); err != nil {
		t.Fatalf("CreateWebhook(%s): %v", w.ID, err)
	}
	return w
}

func mustEnqueue(t testing.TB, s AccessStore, d *remediation.WebhookDelivery) *remediation.WebhookDelivery {
	t.Helper()
	if err := s.EnqueueDelivery(t.Context(), d); err != nil {
		t.Fatalf("EnqueueDelivery(%s): %v", d.ID, err)
	}
	return d
}

func mustDelivery(t testing.TB, s AccessStore, id string) *remediation.WebhookDelivery {
	t.Helper()
	d, err := s.GetDelivery(t.Context(), id)
	if err != nil {
		t.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d
}

func webhookIDs(list []*remediation.Webhook) []string {
	var ids []string
	for _, w := range list {
		ids = append(ids, w.ID)
	}
	return ids
}

var webhookTests = map[string]func(t *testing.T, s AccessStore){
	"CreateGetList": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		base := time.Now().Add(-time.Hour)
		var hooks []*remediation.Webhook
		for i, tn := range []string{"t1", "t2", "t1"} {
			w := newWebhook(tn, remediation.EventJobFinished, remediation.EventItemFailed)
			w.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			hooks = append(hooks, mustWebhook(t, s, w))
		}
		got, err := s.GetWebhook(t.Context(), hooks[0].ID)
		if err != nil {
			t.Fatalf("GetWebhook: %v", err)
		}
		w := hooks[0]
		if got.ID != w.ID || got.TenantID != "t1" || got.URL != w.URL ||
			!slices.Equal(got.Events, []string{remediation.EventJobFinished, remediation.EventItemFailed}) ||
			got.CreatedBy != w.CreatedBy || !bytes.Equal(got.SecretCiphertext, w.SecretCiphertext) ||
			got.SecretKeyID != "k1" || !sameTime(got.CreatedAt, w.CreatedAt) {
			t.Fatalf("GetWebhook = %+v, want %+v", got, w)
		}
		for _, tc := range []struct {
			tenant string
			want   []string
		}{
			{"t1", []string{hooks[0].ID, hooks[2].ID}},
			{"t2", []string{hooks[1].ID}},
			{"", webhookIDs(hooks)},
			{"t9", nil},
		} {
			list, err := s.ListWebhooks(t.Context(), tc.tenant)
			if err != nil || !slices.Equal(webhookIDs(list), tc.want) {
				t.Fatalf("ListWebhooks(%q) = %v, %v; want %v", tc.tenant, webhookIDs(list), err, tc.want)
			}
		}
		_, err = s.GetWebhook(t.Context(), "nope")
		wantCode(t, err, remediation.ENOTFOUND)
	},
	"CreateErrors": func(t *testing.T, s AccessStore) {
		wantCode(t, s.CreateWebhook(t.Context(), newWebhook("t9")), remediation.ENOTFOUND)
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		dup := newWebhook("t1")
		dup.ID = w.ID
		wantCode(t, s.CreateWebhook(t.Context(), dup), remediation.ECONFLICT)
		noURL := newWebhook("t1")
		noURL.URL = ""
		wantCode(t, s.CreateWebhook(t.Context(), noURL), remediation.EINVALID)
		if got, err := s.GetWebhook(t.Context(), w.ID); err != nil || got.Events == nil || len(got.Events) != 0 {
			t.Fatalf("webhook without events = %+v, %v; want an empty list", got, err)
		}
	},
	"Delete": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		keep := mustWebhook(t, s, newWebhook("t1"))
		d := mustEnqueue(t, s, &remediation.WebhookDelivery{ID: uuid.NewString(), WebhookID: w.ID,
			Event: remediation.EventJobFinished})
		other := mustEnqueue(t, s, &remediation.WebhookDelivery{ID: uuid.NewString(), WebhookID: keep.ID,
			Event: remediation.EventJobFinished})
		if err := s.DeleteWebhook(t.Context(), w.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		_, err := s.GetWebhook(t.Context(), w.ID)
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.GetDelivery(t.Context(), d.ID)
		wantCode(t, err, remediation.ENOTFOUND)
		wantCode(t, s.DeleteWebhook(t.Context(), w.ID), remediation.ENOTFOUND)
		mustDelivery(t, s, other.ID)
		if list, err := s.ListWebhooks(t.Context(), "t1"); err != nil || !slices.Equal(webhookIDs(list), []string{keep.ID}) {
			t.Fatalf("ListWebhooks = %v, %v; want only %s", webhookIDs(list), err, keep.ID)
		}
	},
	"DeliveryLifecycle": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1", remediation.EventJobFinished))
		before := time.Now().Add(-time.Second)
		payload := json.RawMessage(`{"job_id": "j1",  "status":"completed"}`)
		d := mustEnqueue(t, s, &remediation.WebhookDelivery{ID: "d1", WebhookID: w.ID, Event: remediation.EventJobFinished,
			Payload: payload})
		got := mustDelivery(t, s, "d1")
		if got.WebhookID != w.ID || got.TenantID != "t1" || got.Event != remediation.EventJobFinished ||
			string(got.Payload) != string(payload) || got.Status != "pending" || got.Attempts != 0 ||
			got.LastStatus != 0 || got.LastError != "" || got.DeliveredAt != nil ||
			got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("GetDelivery = %+v, want the pending delivery of %+v", got, d)
		}
		// A repeat is a no-op.
		mustEnqueue(t, s, &remediation.WebhookDelivery{ID: "d1", WebhookID: w.ID, Event: remediation.EventItemFailed,
			Payload: json.RawMessage(`{}`)})
		if again := mustDelivery(t, s, "d1"); again.Event != remediation.EventJobFinished || string(again.Payload) != string(payload) {
			t.Fatalf("after a repeated enqueue: %+v, want the first delivery", again)
		}
		got.Status, got.Attempts, got.LastStatus, got.LastError = "pending", 1, 503, "service unavailable"
		if err := s.UpdateDelivery(t.Context(), got); err != nil {
			t.Fatalf("UpdateDelivery: %v", err)
		}
		if u := mustDelivery(t, s, "d1"); u.Attempts != 1 || u.LastStatus != 503 || u.LastError != "service unavailable" ||
			u.DeliveredAt != nil {
			t.Fatalf("after a failed attempt: %+v", u)
		}
		at := time.Date(2025, 5, 6, 7, 8, 9, 10111213, time.UTC)
		got.Status, got.Attempts, got.LastStatus, got.LastError, got.DeliveredAt = "delivered", 2, 204, "", &at
		if err := s.UpdateDelivery(t.Context(), got); err != nil {
			t.Fatalf("UpdateDelivery: %v", err)
		}
		u := mustDelivery(t, s, "d1")
		if u.Status != "delivered" || u.Attempts != 2 || u.LastStatus != 204 || u.LastError != "" ||
			!sameTimePtr(u.DeliveredAt, &at) || string(u.Payload) != string(payload) || !u.CreatedAt.Equal(got.CreatedAt) {
			t.Fatalf("after delivery: %+v", u)
		}
	},
	"DeliveryErrors": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		err := s.EnqueueDelivery(t.Context(), &remediation.WebhookDelivery{ID: "d1", WebhookID: "nope", Event: "job.finished"})
		wantCode(t, err, remediation.ENOTFOUND)
		err = s.EnqueueDelivery(t.Context(), &remediation.WebhookDelivery{ID: "d1", WebhookID: w.ID})
		wantCode(t, err, remediation.EINVALID)
		err = s.UpdateDelivery(t.Context(), &remediation.WebhookDelivery{ID: "nope", Status: "failed"})
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.GetDelivery(t.Context(), "nope")
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.ListDeliveries(t.Context(), "nope", 10)
		wantCode(t, err, remediation.ENOTFOUND)
		if list, err := s.ListDeliveries(t.Context(), w.ID, 10); err != nil || len(list) != 0 {
			t.Fatalf("ListDeliveries of a new webhook = %v, %v; want none", list, err)
		}
	},
	"ListDeliveriesNewestFirst": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		other := mustWebhook(t, s, newWebhook("t1"))
		base := time.Now().Add(-time.Hour)
		var want []string // newest first
		for i := range 5 {
			d := mustEnqueue(t, s, &remediation.WebhookDelivery{ID: uuid.NewString(), WebhookID: w.ID,
				Event: remediation.EventItemFailed, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
			want = append([]string{d.ID}, want...)
		}
		mustEnqueue(t, s, &remediation.WebhookDelivery{ID: uuid.NewString(), WebhookID: other.ID, Event: "job.finished"})
		ids := func(limit int) []string {
			list, err := s.ListDeliveries(t.Context(), w.ID, limit)
			if err != nil {
				t.Fatalf("ListDeliveries(%d): %v", limit, err)
			}
			var out []string
			for _, d := range list {
				out = append(out, d.ID)
			}
			return out
		}
		if got := ids(3); !slices.Equal(got, want[:3]) {
			t.Fatalf("ListDeliveries(3) = %v, want %v", got, want[:3])
		}
		if got := ids(0); !slices.Equal(got, want) {
			t.Fatalf("ListDeliveries(0) = %v, want all %v", got, want)
		}
	},
	"ConcurrentEnqueueOfOneID": func(t *testing.T, s AccessStore) {
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				errs[i] = s.EnqueueDelivery(t.Context(), &remediation.WebhookDelivery{ID: "same", WebhookID: w.ID,
					Event: remediation.EventJobFinished})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("enqueue %d: %v", i, err)
			}
		}
		if list, err := s.ListDeliveries(t.Context(), w.ID, 100); err != nil || len(list) != 1 {
			t.Fatalf("ListDeliveries = %d, %v; want one delivery", len(list), err)
		}
	},
}
