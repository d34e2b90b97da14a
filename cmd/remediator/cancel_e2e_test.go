package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// TestEndToEndCancelLargeJob cancels, through the API, a running bulk job
// larger than two cancel windows on a tenant held to 40 writes/s: from
// the answer on no item starts (only the items running then write to
// Graph) and every item not started shows canceled, the rows left are
// canceled by the job's fan-out task, and the
// job ends canceled with counts that add up and one outcome per identity.
func TestEndToEndCancelLargeJob(t *testing.T) {
	s := newStack(t, 1)
	tn := s.registerTenant(graphsim.TenantSpec{})
	s.settings(tn.ID(), map[string]any{"graph_limits": map[string]any{"writes": 40, "writes_window_s": 1}})
	n := 2*remediation.CancelWindow + 300
	ids := make([]string, n)
	for i := range ids {
		ids[i] = tn.AddUser(graphsim.UserSpec{UserPrincipalName: fmt.Sprintf("bulk%05d@%s", i, tn.Domain()), AccountEnabled: true}).ID
	}
	job := s.submit(tn.ID(), "revoke_sessions", ids)
	s.waitCount(job.ID, "succeeded", 20, 60*time.Second)

	var answer jobView
	if code := s.do("POST", "/v1/remediations/"+job.ID+"/cancel", nil, nil, &answer); code != http.StatusOK {
		t.Fatalf("cancel: %d %+v", code, answer)
	}
	writesAtAnswer := len(tenantWrites(s.sim, tn.ID()))
	if answer.Status != "running" || !answer.CancelRequested || answer.Counts["pending"]+answer.Counts["retrying"] != 0 ||
		answer.Counts["canceled"] < n-answer.Counts["running"]-answer.Counts["succeeded"] {
		t.Fatalf("cancel answer: %+v; want running, every item not started counted canceled", answer)
	}

	final := s.waitJob(job.ID, 60*time.Second)
	if final.Status != "canceled" {
		t.Fatalf("job after the cancel: %+v; want canceled", final)
	}
	if open := final.Counts["pending"] + final.Counts["running"] + final.Counts["retrying"]; open != 0 ||
		final.Counts["succeeded"]+final.Counts["canceled"] != n || final.Counts["canceled"] < 2*remediation.CancelWindow {
		t.Fatalf("final counts %v of %d items; want succeeded + canceled = total, most canceled", final.Counts, n)
	}
	t.Logf("answer %v; final %v", answer.Counts, final.Counts)
	// Only the items running at the answer wrote after it.
	writes := len(tenantWrites(s.sim, tn.ID()))
	if after := writes - writesAtAnswer; after > answer.Counts["running"] {
		t.Errorf("%d Graph writes after the cancel answer, with %d items running then", after, answer.Counts["running"])
	}
	if writes != final.Counts["succeeded"] {
		t.Errorf("%d Graph writes for %d succeeded items", writes, final.Counts["succeeded"])
	}
	outcomes := s.outcomes(tn.ID())
	if len(outcomes) != n {
		t.Errorf("%d identities in the history, want %d", len(outcomes), n)
	}
	for id, c := range outcomes {
		if c != 1 {
			t.Errorf("identity %s has %d outcomes, want 1", id, c)
			break
		}
	}
}
