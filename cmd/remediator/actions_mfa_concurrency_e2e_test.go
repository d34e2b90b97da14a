package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// TestActionsEnforceMFAConcurrentJobs: 50 enforce_mfa jobs of 100 users
// each, submitted at once for one tenant, against the simulator's real
// Conditional Access limit (1 request/s per tenant) and a policy size
// limit far above the product's cap: one policy, no user lost or written
// twice, few Conditional Access writes.
//
// The product caps one policy's includeUsers (REMEDIATOR_MAX_POLICY_USERS,
// default 1,000; beyond it adds fail with policy_full); this test raises
// the cap to 5,000 so that all users fit.
func TestActionsEnforceMFAConcurrentJobs(t *testing.T) {
	const jobs, per = 50, 100
	s := newStackWith(t, stackOptions{workers: 2, caLimit: true,
		env: map[string]string{"REMEDIATOR_WORKER_CONCURRENCY": "16", "REMEDIATOR_MAX_POLICY_USERS": "5000"}})
	tn := s.registerTenant(graphsim.TenantSpec{CAPolicyMaxBytes: 4 << 20})
	users := addMembers(tn, "c", jobs*per)
	start := time.Now()

	ids := make([]string, jobs)
	errs := make([]error, jobs)
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, raw, err := s.post("/v1/tenants/"+tn.ID()+"/remediations", map[string]any{
				"action": "enforce_mfa", "identities": users[i*per : (i+1)*per], "reason": fmt.Sprintf("concurrent %d", i)})
			var j jobView
			switch {
			case err != nil:
				errs[i] = err
			case code != http.StatusAccepted:
				errs[i] = fmt.Errorf("submit: %d %s", code, raw)
			default:
				errs[i] = json.Unmarshal(raw, &j)
				ids[i] = j.ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}

	counts := map[string]int{}
	for _, id := range ids {
		for st, n := range s.waitJob(id, max(120*time.Second-time.Since(start), time.Second)).Counts {
			counts[st] += n
		}
	}
	elapsed := time.Since(start)
	st := tn.Stats()
	t.Logf("%d users in %d concurrent jobs: %s, %d Conditional Access writes, %d CA requests, %d answered 429",
		jobs*per, jobs, elapsed.Round(time.Millisecond), st.CAWrites, st.CARequests, st.CAThrottled)

	pol := onlyPolicy(t, tn)
	want := jobs * per
	if counts["succeeded"] != want || counts["failed"] != jobs*per-want || counts["succeeded"]+counts["failed"] != jobs*per {
		t.Errorf("item counts %v, want %d succeeded and %d failed (policy_full)", counts, want, jobs*per-want)
	}
	if n := len(userIDsIn(pol.IncludeUsers)); n != want || len(pol.IncludeUsers) != want {
		t.Errorf("policy includes %d entries (%d user ids), want %d", len(pol.IncludeUsers), n, want)
	}
	// The succeeded items are exactly the policy's users; the others
	// failed with policy_full.
	var added []string
	for _, id := range ids {
		for uid, it := range s.actionItems(id) {
			switch {
			case it.Status == "succeeded" && it.Detail == "added to the MFA policy":
				added = append(added, uid)
			case it.Status == "failed" && it.errCode() == "policy_full":
			default:
				t.Errorf("item %s: %s %q %q", uid, it.Status, it.errCode(), it.Detail)
			}
		}
	}
	if !sameIDs(added, pol.IncludeUsers) {
		t.Errorf("%d items say added, the policy holds %d users: not the same users", len(added), len(pol.IncludeUsers))
	}
	if st.CAWrites > 60 {
		t.Errorf("%d Conditional Access writes for %d concurrent jobs, want at most 60", st.CAWrites, jobs)
	}
	if info := s.tenantInfo(tn.ID()); info.MFAPolicyID == nil || *info.MFAPolicyID != pol.ID {
		t.Errorf("stored mfa_policy_id %v, simulator's policy %s", info.MFAPolicyID, pol.ID)
	}
}
