package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// TestActionsEnforceMFABulkDryRunSharesThePolicyRead: the items of a bulk
// dry run of enforce_mfa all read the tenant's policy, which Graph meters
// at one Conditional Access request per second: they share the read, so
// that 60 previews do not take a minute.
func TestActionsEnforceMFABulkDryRunSharesThePolicyRead(t *testing.T) {
	s := newStackWith(t, stackOptions{workers: 1, caLimit: true})
	tn := s.registerTenant(graphsim.TenantSpec{AppHasPrivilegedRole: true})
	covered := addMembers(tn, "covered", 1)
	others := addMembers(tn, "preview", 60)
	job := s.remediate(tn.ID(), map[string]any{"action": "enforce_mfa", "identities": covered}, time.Minute)
	wantCounts(t, job, map[string]int{"succeeded": 1})
	policy := onlyPolicy(t, tn)

	s.sim.ResetLog()
	code, raw := s.call("POST", "/v1/tenants/"+tn.ID()+"/remediations", map[string]any{"action": "enforce_mfa",
		"identities": concat(covered, others), "dry_run": true, "reason": "e2e bulk dry run"})
	if code != http.StatusOK && code != http.StatusAccepted { // 200: the answer waited for the previews
		t.Fatalf("bulk dry run: %d", code)
	}
	dry := s.waitJob(decodeAs[jobView](t, raw).ID, time.Minute)
	wantCounts(t, dry, map[string]int{"succeeded": 61})
	items := s.actionItems(dry.ID)
	wantItem(t, items, covered[0], "succeeded", "", "already covered: no change")
	for _, id := range others {
		wantItem(t, items, id, "succeeded", "", "would add to the MFA policy")
	}
	reads := 0
	for _, r := range s.sim.Requests() {
		if r.Operation == "GET /identity/conditionalAccess/policies/{pid}" {
			reads++
		}
	}
	t.Logf("61 previews: %d reads of policy %s", reads, policy.ID)
	if reads == 0 || reads > 10 {
		t.Errorf("%d reads of the policy for 61 previews, want a few shared ones", reads)
	}
	if w := tenantWrites(s.sim, tn.ID()); len(w) != 0 {
		t.Errorf("the dry run wrote:%s", describe(w))
	}
}
