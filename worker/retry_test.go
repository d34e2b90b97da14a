package worker_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/queue"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestUnavailableForeverFailsAfterMaxRetry(t *testing.T) {
	const maxRetry = 2
	b := setup(t, options{maxRetry: maxRetry})
	alice := b.addUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.com", AccountEnabled: true})
	bob := b.addUser(graphsim.UserSpec{UserPrincipalName: "bob@contoso.com", AccountEnabled: true})
	b.sim.InjectFault(graphsim.FaultSpec{Operation: "PATCH /users/{id}", UserID: alice.ID, Status: http.StatusServiceUnavailable})

	job := b.submit(remediation.ActionDisableUser, "bulk", alice.UserPrincipalName, bob.UserPrincipalName)
	job = b.waitJob(job.ID, 30*time.Second)
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemFailed] != 1 || job.Counts[remediation.ItemSucceeded] != 1 {
		t.Fatalf("job %s counts %v, want completed, 1 failed, 1 succeeded", job.Status, job.Counts)
	}

	it, calls := b.item(job.ID, alice.UserPrincipalName)
	if it.Status != remediation.ItemFailed || it.Attempts != maxRetry+1 {
		t.Errorf("item %s attempts %d, want failed after %d attempts", it.Status, it.Attempts, maxRetry+1)
	}
	if it.Error == nil || it.Error.Code != "serviceNotAvailable" || !strings.HasPrefix(it.Error.Message, "retries exhausted: ") {
		t.Errorf("item error = %+v, want serviceNotAvailable \"retries exhausted: …\"", it.Error)
	}
	reqs := b.userRequests(alice)
	if got := countOps(reqs, http.MethodPatch); got != maxRetry+1 {
		t.Errorf("%d PATCH attempts, want %d", got, maxRetry+1)
	}
	if last := reqs[len(reqs)-1]; it.GraphRequestID != last.RequestID || last.Status != http.StatusServiceUnavailable {
		t.Errorf("graph_request_id %q, want the last 503's %q", it.GraphRequestID, last.RequestID)
	}
	attempts := map[int]bool{}
	for _, c := range calls {
		attempts[c.Attempt] = true
	}
	if len(calls) != len(reqs) || len(attempts) != maxRetry+1 {
		t.Errorf("call log: %d calls over attempts %v, want %d calls over %d attempts", len(calls), attempts, len(reqs), maxRetry+1)
	}
	if st, _ := b.tenant.User(alice.ID); !st.AccountEnabled {
		t.Error("alice disabled despite the 503s")
	}

	// The task was archived only after the item became terminal, and no
	// task is left waiting.
	b.waitDrained(10 * time.Second)
	archived, err := b.insp.ListArchivedTasks(queue.QueueBulk)
	if err != nil {
		t.Fatal(err)
	}
	if len(archived) != 1 || archived[0].ID != queue.ItemTaskID(job.ID, it.Seq) || archived[0].Retried != maxRetry {
		var got []string
		for _, a := range archived {
			got = append(got, a.ID)
		}
		t.Errorf("archived tasks %v, want only alice's item after %d retries", got, maxRetry)
	}
}
