package main

import (
	"context"
	"io"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// mfaResult is scenario 4 for one tenant: enforce_mfa over many users under
// Conditional Access's 1 request/s limit.
type mfaResult struct {
	Targeting   string         `json:"mfa_targeting"`
	Identities  int            `json:"identities"`
	Done        int            `json:"items_done"`
	Stopped     bool           `json:"stopped_at_deadline"`
	Drain       *drainResult   `json:"after_cancel,omitempty"`
	Seconds     float64        `json:"seconds"`
	Counts      map[string]int `json:"counts"`
	CAWrites    int            `json:"ca_writes"`
	CARequests  int            `json:"ca_requests"`
	CAThrottled int            `json:"ca_429"`
	OtherWrites int            `json:"other_graph_writes"`
	Error       string         `json:"error,omitempty"`
}

// runMFA submits enforce_mfa for ids on tenant t and follows the job.
func runMFA(ctx context.Context, s *stack, c *apiClient, out io.Writer, t *graphsim.Tenant, targeting string, ids []string,
	deadline time.Duration) *mfaResult {
	r := &mfaResult{Targeting: targeting, Identities: len(ids)}
	before := t.Stats()
	t0 := time.Now()
	j, _, err := c.submit(ctx, t.ID(), submission{Action: "enforce_mfa", Identities: ids, Reason: "bench: bulk MFA"})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	var after graphsim.TenantStats
	o, err := follow(ctx, c, out, "enforce_mfa "+targeting, j.ID, t0, 250*time.Millisecond, deadline, func() { after = t.Stats() })
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Seconds, r.Done, r.Stopped, r.Counts = o.elapsed.Seconds(), o.done, o.stopped, o.counts
	if o.stopped {
		d := drainBulkQueue(s)
		r.Drain = &d
	}
	r.CAWrites = after.CAWrites - before.CAWrites
	r.CARequests = after.CARequests - before.CARequests
	r.CAThrottled = after.CAThrottled - before.CAThrottled
	r.OtherWrites = after.Writes - before.Writes - r.CAWrites
	return r
}
