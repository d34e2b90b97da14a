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
	// AnswerCanceled is the items the cancel's answer counts canceled
	// (every item not started, whether its row is rewritten yet or not).
	AnswerCanceled int `json:"answer_canceled"`
	// CanceledMS is from the cancel request until every item's row is
	// canceled (the job's status is canceled), polled every 20 ms.
	CanceledMS float64     `json:"all_canceled_ms"`
	Drain      drainResult `json:"after_cancel"`
}

// runAccept submits a revoke_sessions job for n identities (object ids the
// directory does not know), cancels it at once and clears what its
// fan-out had already enqueued.
func runAccept(ctx context.Context, s *stack, c *apiClient, tenantID string, n int) (*acceptResult, error) {
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
	answer, err := c.cancel(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	r.CancelMS, r.AnswerCanceled = ms(time.Since(t)), answer.Counts["canceled"]
	if _, err := c.wait(ctx, j.ID, 20*time.Millisecond, 2*time.Minute); err != nil {
		return nil, err
	}
	r.CanceledMS = ms(time.Since(t))
	r.Drain = drainBulkQueue(s)
	return r, nil
}
