package main

import (
	"context"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// mfaResult is scenario 4 for one tenant: enforce_mfa over many users under
// Conditional Access's 1 request/s limit.
type mfaResult struct {
	Targeting   string         `json:"mfa_targeting"`
	Identities  int            `json:"identities"`
	Seconds     float64        `json:"seconds"`
	Counts      map[string]int `json:"counts"`
	CAWrites    int            `json:"ca_writes"`
	CARequests  int            `json:"ca_requests"`
	CAThrottled int            `json:"ca_429"`
	OtherWrites int            `json:"other_graph_writes"`
	Error       string         `json:"error,omitempty"`
}

// runMFA submits enforce_mfa for ids on tenant t and waits for the job.
func runMFA(ctx context.Context, c *apiClient, t *graphsim.Tenant, targeting string, ids []string) *mfaResult {
	r := &mfaResult{Targeting: targeting, Identities: len(ids)}
	before := t.Stats()
	t0 := time.Now()
	j, _, err := c.submit(ctx, t.ID(), submission{Action: "enforce_mfa", Identities: ids, Reason: "bench: bulk MFA"})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	j, err = c.wait(ctx, j.ID, 250*time.Millisecond, 30*time.Minute)
	if err != nil {
		r.Error = err.Error()
	}
	end := time.Now()
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	after := t.Stats()
	r.Seconds = end.Sub(t0).Seconds()
	r.Counts = nonZero(j.Counts)
	r.CAWrites = after.CAWrites - before.CAWrites
	r.CARequests = after.CARequests - before.CARequests
	r.CAThrottled = after.CAThrottled - before.CAThrottled
	r.OtherWrites = after.Writes - before.Writes - r.CAWrites
	return r
}
