package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/remediation"
)

// deleteFixture gives tenant id a finished job (one succeeded, one failed
// item), settings, a policy ref, a pending policy request and a webhook
// with a delivery. It returns the job and the webhook.
func deleteFixture(t *testing.T, s AccessStore, id string) (*remediation.Job, *remediation.Webhook) {
	t.Helper()
	ctx := t.Context()
	mustTenant(t, s, id)
	if _, err := s.UpdateTenantSettings(ctx, id, remediation.TenantSettings{ProtectedIdentities: []string{"bg"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicyRef(ctx, id, remediation.PolicyMFA, remediation.PolicyRef{PolicyID: "p1"}); err != nil {
		t.Fatal(err)
	}
	j := mustCreate(t, s, newJob(id, remediation.ActionEnforceMFA), identities(id, 2))
	finish(t, s, j.ID, 0, remediation.ItemSucceeded)
	finish(t, s, j.ID, 1, remediation.ItemFailed)
	if err := s.AddPolicyRequest(ctx, remediation.PolicyRequest{TenantID: id, Kind: remediation.PolicyMFA,
		Op: remediation.PolicyOpAdd, UserID: "u1", JobID: j.ID, Seq: 0}); err != nil {
		t.Fatal(err)
	}
	w := mustWebhook(t, s, newWebhook(id, remediation.EventJobFinished))
	mustEnqueue(t, s, &remediation.WebhookDelivery{ID: "d-" + id, WebhookID: w.ID, Event: remediation.EventJobFinished})
	return mustGetJob(t, s, j.ID), w
}

var tenantDeleteTests = map[string]func(t *testing.T, s AccessStore){
	"DeleteKeepsJobsAndHistory": func(t *testing.T, s AccessStore) {
		ctx := t.Context()
		job, hook := deleteFixture(t, s, "t1")
		_, keepHook := deleteFixture(t, s, "t2")
		if err := s.DeleteTenant(ctx, "t1"); err != nil {
			t.Fatalf("DeleteTenant: %v", err)
		}
		_, err := s.GetTenant(ctx, "t1")
		wantCode(t, err, remediation.ENOTFOUND)
		if list, err := s.ListTenants(ctx); err != nil || len(list) != 1 || list[0].ID != "t2" {
			t.Fatalf("ListTenants = %v, %v; want only t2", list, err)
		}
		// Jobs, items and history stay readable.
		if got := mustGetJob(t, s, job.ID); got.Status != remediation.JobCompleted || got.TenantID != "t1" {
			t.Fatalf("GetJob = %+v", got)
		}
		if jobs := allJobs(t, s, remediation.JobFilter{TenantID: "t1"}); len(jobs) != 1 || jobs[0].ID != job.ID {
			t.Fatalf("ListJobs(t1) = %v, want the job", jobs)
		}
		if items, _, err := s.ListItems(ctx, job.ID, remediation.ItemFilter{}); err != nil || len(items) != 2 {
			t.Fatalf("ListItems = %v, %v", items, err)
		}
		if outs := allHistory(t, s, remediation.HistoryFilter{TenantIDs: []string{"t1"}}); len(outs) != 2 {
			t.Fatalf("History(t1) = %d outcomes, want 2", len(outs))
		}
		// Webhooks, deliveries, policy refs and requests are gone.
		if list, err := s.ListWebhooks(ctx, "t1"); err != nil || len(list) != 0 {
			t.Fatalf("ListWebhooks(t1) = %v, %v; want none", list, err)
		}
		_, err = s.GetWebhook(ctx, hook.ID)
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.GetDelivery(ctx, "d-t1")
		wantCode(t, err, remediation.ENOTFOUND)
		if reqs, err := s.PendingPolicyRequests(ctx, "t1", remediation.PolicyMFA, 10); err != nil || len(reqs) != 0 {
			t.Fatalf("PendingPolicyRequests(t1) = %v, %v; want none", reqs, err)
		}
		// The other tenant is untouched.
		t2 := mustGetTenant(t, s, "t2")
		if string(t2.SecretCiphertext) != "sealed:t2" || t2.Policies[remediation.PolicyMFA].PolicyID != "p1" ||
			!t2.Settings.IsProtected("bg") {
			t.Fatalf("t2 after deleting t1 = %+v", t2)
		}
		mustDelivery(t, s, "d-t2")
		if _, err := s.GetWebhook(ctx, keepHook.ID); err != nil {
			t.Fatalf("t2 webhook: %v", err)
		}
		if reqs, err := s.PendingPolicyRequests(ctx, "t2", remediation.PolicyMFA, 10); err != nil || len(reqs) != 1 {
			t.Fatalf("PendingPolicyRequests(t2) = %v, %v; want one", reqs, err)
		}
	},
	"DeletedTenantIsUnknown": func(t *testing.T, s AccessStore) {
		ctx := t.Context()
		job, _ := deleteFixture(t, s, "t1")
		if err := s.DeleteTenant(ctx, "t1"); err != nil {
			t.Fatalf("DeleteTenant: %v", err)
		}
		_, _, err := s.CreateJob(ctx, newJob("t1", remediation.ActionDisableUser), identities("u", 1))
		wantCode(t, err, remediation.ENOTFOUND)
		_, err = s.CreateDerivedJob(ctx, &remediation.Job{ID: uuid.NewString(), RetryOf: job.ID}, job.ID,
			[]remediation.ItemStatus{remediation.ItemFailed})
		wantCode(t, err, remediation.ENOTFOUND)
		wantCode(t, s.UpdateTenant(ctx, &remediation.Tenant{ID: "t1", DisplayName: "x"}), remediation.ENOTFOUND)
		_, err = s.UpdateTenantSettings(ctx, "t1", remediation.TenantSettings{})
		wantCode(t, err, remediation.ENOTFOUND)
		wantCode(t, s.SetPolicyRef(ctx, "t1", remediation.PolicyMFA, remediation.PolicyRef{PolicyID: "p"}), remediation.ENOTFOUND)
		wantCode(t, s.CreateWebhook(ctx, newWebhook("t1")), remediation.ENOTFOUND)
		wantCode(t, s.DeleteTenant(ctx, "t1"), remediation.ENOTFOUND)
		wantCode(t, s.DeleteTenant(ctx, "never"), remediation.ENOTFOUND)
	},
	"ConflictWhileJobsAreActive": func(t *testing.T, s AccessStore) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		w := mustWebhook(t, s, newWebhook("t1"))
		queued := mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("u", 2))
		wantCode(t, s.DeleteTenant(ctx, "t1"), remediation.ECONFLICT)
		mustTransition(t, s, remediation.Transition{JobID: queued.ID, Seq: 0, From: fromPending, To: remediation.ItemRunning})
		if got := mustGetJob(t, s, queued.ID); got.Status != remediation.JobRunning {
			t.Fatalf("job status %s, want running", got.Status)
		}
		wantCode(t, s.DeleteTenant(ctx, "t1"), remediation.ECONFLICT)
		// Nothing was deleted by the refused calls.
		if tn := mustGetTenant(t, s, "t1"); string(tn.SecretCiphertext) != "sealed:t1" {
			t.Fatalf("secret after refused delete = %q", tn.SecretCiphertext)
		}
		if _, err := s.GetWebhook(ctx, w.ID); err != nil {
			t.Fatalf("webhook after refused delete: %v", err)
		}
		// Canceled: pending items end at once, the running one finishes.
		if _, err := s.CancelJob(ctx, queued.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.DeleteTenant(ctx, "t1"), remediation.ECONFLICT)
		mustTransition(t, s, remediation.Transition{JobID: queued.ID, Seq: 0, From: fromRunning, To: remediation.ItemSucceeded})
		if err := s.DeleteTenant(ctx, "t1"); err != nil {
			t.Fatalf("DeleteTenant after the job ended: %v", err)
		}
	},
	"RegisterAgain": func(t *testing.T, s AccessStore) {
		ctx := t.Context()
		old, _ := deleteFixture(t, s, "t1")
		if err := s.DeleteTenant(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		again := &remediation.Tenant{ID: "t1", DisplayName: "Contoso again", ClientID: "app-2", Cloud: remediation.CloudUSGov,
			SecretCiphertext: []byte("sealed:new"), SecretKeyID: "k2"}
		if err := s.CreateTenant(ctx, again); err != nil {
			t.Fatalf("CreateTenant of a deleted id: %v", err)
		}
		got := mustGetTenant(t, s, "t1")
		if got.DisplayName != "Contoso again" || got.ClientID != "app-2" || got.Cloud != remediation.CloudUSGov ||
			string(got.SecretCiphertext) != "sealed:new" || got.SecretKeyID != "k2" || len(got.Policies) != 0 ||
			got.Settings.IsProtected("bg") || !sameTime(got.CreatedAt, again.CreatedAt) {
			t.Fatalf("registered again = %+v, want the new registration only", got)
		}
		if list, err := s.ListTenants(ctx); err != nil || len(list) != 1 {
			t.Fatalf("ListTenants = %v, %v", list, err)
		}
		j := mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("u", 1))
		if jobs := allJobs(t, s, remediation.JobFilter{TenantID: "t1"}); len(jobs) != 2 || jobs[0].ID != j.ID || jobs[1].ID != old.ID {
			t.Fatalf("ListJobs(t1) = %v, want the new job and the old one", jobs)
		}
		wantCode(t, s.CreateTenant(ctx, &remediation.Tenant{ID: "t1"}), remediation.ECONFLICT)
		if got := mustGetTenant(t, s, "t1"); got.DisplayName != "Contoso again" {
			t.Fatalf("a conflicting CreateTenant changed the tenant: %+v", got)
		}
	},
	"RacesWithCreateJob": func(t *testing.T, s AccessStore) {
		// A job created concurrently with the deletion either makes the
		// deletion fail or fails itself: a deleted tenant never gets a
		// queued job.
		for i := range 20 {
			id := fmt.Sprintf("race-%02d", i)
			mustTenant(t, s, id)
			var (
				wg                sync.WaitGroup
				createErr, delErr error
			)
			wg.Go(func() {
				_, _, createErr = s.CreateJob(t.Context(), newJob(id, remediation.ActionDisableUser), identities("u", 50))
			})
			wg.Go(func() { delErr = s.DeleteTenant(t.Context(), id) })
			wg.Wait()
			switch {
			case createErr == nil && delErr == nil:
				t.Fatalf("%s: both the job and the deletion succeeded", id)
			case createErr == nil:
				wantCode(t, delErr, remediation.ECONFLICT)
			default:
				wantCode(t, createErr, remediation.ENOTFOUND)
				if delErr != nil {
					t.Fatalf("%s: both failed: %v / %v", id, createErr, delErr)
				}
			}
		}
	},
}
