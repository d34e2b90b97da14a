package main

import (
	"context"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
	"github.com/entraremediator/remediator/internal/telemetry"
)

// meteredStore is the history store with item and Graph-call metrics taken
// where the worker records them: terminal transitions and attempt logs.
// Every other method (access, webhooks, reconciler queries) is promoted
// from the embedded store.
type meteredStore struct {
	*history.Store
	m *telemetry.Metrics
}

// TransitionItem counts items that reached a terminal status, and retries.
func (s meteredStore) TransitionItem(ctx context.Context, tr remediation.Transition) (*remediation.Item, bool, error) {
	it, ok, err := s.Store.TransitionItem(ctx, tr)
	if err == nil && ok && it != nil {
		switch {
		case tr.To.Terminal():
			s.m.ObserveItem(it.Action, tr.To)
		case tr.To == remediation.ItemRetrying:
			reason := "unknown"
			if tr.Error != nil {
				reason = tr.Error.Code
			}
			s.m.ObserveRetry(it.Action, reason)
		}
	}
	return it, ok, err
}

// AppendCalls counts Graph calls by operation, status and throttling.
func (s meteredStore) AppendCalls(ctx context.Context, jobID string, seq int, calls []remediation.Call) error {
	s.m.ObserveCalls(calls)
	return s.Store.AppendCalls(ctx, jobID, seq, calls)
}
