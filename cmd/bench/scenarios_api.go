package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// acceptResult is scenario 5's first part: accepting one large job.
type acceptResult struct {
	Identities int     `json:"identities"`
	BodyBytes  int     `json:"body_bytes"`
	PostMS     float64 `json:"post_ms"`
	CancelMS   float64 `json:"cancel_ms"`
	DrainS     float64 `json:"seconds_until_canceled_job_finished"`
}

// runAccept submits a revoke_sessions job for n identities (object ids the
// directory does not know), cancels it at once and waits until it is
// finished, so that it does not disturb the scenarios after it.
func runAccept(ctx context.Context, c *apiClient, tenantID string, n int) (*acceptResult, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	sub := submission{Action: "revoke_sessions", Identities: ids, Reason: "bench: accept"}
	body, _ := json.Marshal(sub)
	r := &acceptResult{Identities: n, BodyBytes: len(body)}
	j, took, err := c.submit(ctx, tenantID, sub)
	if err != nil {
		return nil, err
	}
	r.PostMS = ms(took)
	t := time.Now()
	if err := c.cancel(ctx, j.ID); err != nil {
		return nil, err
	}
	r.CancelMS = ms(time.Since(t))
	if _, err := c.wait(ctx, j.ID, 250*time.Millisecond, 10*time.Minute); err != nil {
		return nil, err
	}
	r.DrainS = time.Since(t).Seconds()
	return r, nil
}
