package worker_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/actions"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

const caPolicyRoute = "/identity/conditionalAccess/policies"

// mfaPolicies returns the simulator's managed MFA policies.
func (b *bundle) mfaPolicies() []graphsim.CAPolicyState {
	var out []graphsim.CAPolicyState
	for _, p := range b.tenant.CAPolicies() {
		if p.DisplayName == actions.MFAPolicyName {
			out = append(out, p)
		}
	}
	return out
}

// onlyMFAPolicy returns the one managed MFA policy, failing otherwise.
func (b *bundle) onlyMFAPolicy() graphsim.CAPolicyState {
	b.t.Helper()
	pols := b.mfaPolicies()
	if len(pols) != 1 {
		b.t.Fatalf("%d managed MFA policies in the simulator, want 1", len(pols))
	}
	return pols[0]
}

// storedPolicyID returns the MFA policy id kept in the store.
func (b *bundle) storedPolicyID() string {
	b.t.Helper()
	tn, err := b.store.GetTenant(b.ctx, b.tenant.ID())
	if err != nil {
		b.t.Fatal(err)
	}
	return tn.Policies[remediation.PolicyMFA].PolicyID
}

// pendingRequests returns the tenant's pending MFA policy requests.
func (b *bundle) pendingRequests() []remediation.PolicyRequest {
	b.t.Helper()
	reqs, err := b.store.PendingPolicyRequests(b.ctx, b.tenant.ID(), remediation.PolicyMFA, 10000)
	if err != nil {
		b.t.Fatal(err)
	}
	return reqs
}

// waitNoRequests polls until no MFA policy request is pending (a flush
// deletes its requests after it finished their items).
func (b *bundle) waitNoRequests() {
	b.t.Helper()
	b.eventually(10*time.Second, "policy requests to be deleted", func() bool { return len(b.pendingRequests()) == 0 })
}

// wantIncluded checks that a policy includes exactly the users.
func wantIncluded(t *testing.T, p graphsim.CAPolicyState, users []graphsim.UserState) {
	t.Helper()
	want := make([]string, len(users))
	for i, u := range users {
		want[i] = strings.ToLower(u.ID)
	}
	got := make([]string, len(p.IncludeUsers))
	for i, id := range p.IncludeUsers {
		got[i] = strings.ToLower(id)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		missing, extra := 0, 0
		for _, id := range want {
			if !slices.Contains(got, id) {
				missing++
			}
		}
		for _, id := range got {
			if !slices.Contains(want, id) {
				extra++
			}
		}
		t.Errorf("policy includes %d users (%d missing, %d unexpected), want exactly %d", len(got), missing, extra, len(want))
	}
}

// wantSucceeded checks that a job completed with every item succeeded.
func wantSucceeded(t *testing.T, job *remediation.Job) {
	t.Helper()
	if job.Status != remediation.JobCompleted || job.Counts[remediation.ItemSucceeded] != job.Total {
		t.Fatalf("job %s: %s, counts %v, want completed with %d succeeded", job.ID, job.Status, job.Counts, job.Total)
	}
}

// deleteCAPolicy deletes a policy as an administrator would, over HTTPS.
func (b *bundle) deleteCAPolicy(id string) {
	b.t.Helper()
	tok, err := b.sim.IssueToken(b.tenant.ID(), time.Hour)
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodDelete, b.sim.GraphURL()+caPolicyRoute+"/"+id, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	hc := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.sim.CAPool()}}}
	b.eventually(10*time.Second, "the policy to be deleted", func() bool {
		resp, err := hc.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent // 429 while the CA rate is used
	})
}

// flusherFunc adapts a function to worker.PolicyFlusher.
type flusherFunc func(ctx context.Context, dir remediation.FullDirectory, t *remediation.Tenant, kind remediation.PolicyKind,
	reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error)

func (f flusherFunc) Flush(ctx context.Context, dir remediation.FullDirectory, t *remediation.Tenant, kind remediation.PolicyKind,
	reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
	return f(ctx, dir, t, kind, reqs)
}
