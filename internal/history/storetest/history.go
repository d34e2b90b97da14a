package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// allHistory reads every outcome matching f, following cursors.
func allHistory(t testing.TB, s remediation.Store, f remediation.HistoryFilter) []*remediation.Outcome {
	t.Helper()
	var out []*remediation.Outcome
	for {
		page, next, err := s.History(context.Background(), f)
		if err != nil {
			t.Fatalf("History(%+v): %v", f, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

var historyTests = map[string]func(t *testing.T, s remediation.Store){
	"OutcomeFields": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 2)
		before := time.Now().Add(-time.Second)
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromPending, To: remediation.ItemRunning, CountAttempt: true})
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 1, From: fromRunning, To: remediation.ItemFailed,
			Detail: "user is protected", GraphRequestID: "g-1",
			Error: &remediation.ItemError{Code: "protected_identity", Message: "break-glass account"}})
		after := time.Now().Add(time.Second)
		outs := allHistory(t, s, remediation.HistoryFilter{})
		if len(outs) != 1 {
			t.Fatalf("History = %d outcomes, want 1 (only terminal transitions)", len(outs))
		}
		o := outs[0]
		if o.ID == 0 || o.JobID != j.ID || o.TenantID != "t1" || o.Action != j.Action ||
			o.Identity != "u000001@contoso.com" || o.Status != remediation.ItemFailed || o.Detail != "user is protected" ||
			o.Error == nil || o.Error.Code != "protected_identity" || o.Error.Message != "break-glass account" ||
			o.Attempts != 1 || o.GraphRequestID != "g-1" || o.Reason != j.Reason || o.Actor != j.Actor ||
			o.RequestedBy != j.RequestedBy {
			t.Fatalf("outcome = %+v (error %+v)", o, o.Error)
		}
		if o.At.Before(before) || o.At.After(after) || o.At.Location() != time.UTC {
			t.Fatalf("At = %v, want now in UTC", o.At)
		}
		mustTransition(t, s, remediation.Transition{JobID: j.ID, Seq: 0, From: fromPending, To: remediation.ItemSkipped})
		outs = allHistory(t, s, remediation.HistoryFilter{})
		if len(outs) != 2 || outs[0].Status != remediation.ItemSkipped || outs[0].Error != nil || outs[0].ID <= o.ID {
			t.Fatalf("History = %+v, want the skipped outcome first (newest first)", outs)
		}
	},
	"Filters": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		j1 := mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("a", 4))
		j2 := mustCreate(t, s, newJob("t2", remediation.ActionRevokeSessions), identities("a", 3))
		j3 := mustCreate(t, s, newJob("t1", remediation.ActionRevokeSessions), identities("b", 2))
		for seq := range 4 {
			finish(t, s, j1.ID, seq, []remediation.ItemStatus{remediation.ItemSucceeded, remediation.ItemFailed}[seq%2])
		}
		for seq := range 3 {
			finish(t, s, j2.ID, seq, remediation.ItemSucceeded)
		}
		for seq := range 2 {
			finish(t, s, j3.ID, seq, remediation.ItemSkipped)
		}
		all := allHistory(t, s, remediation.HistoryFilter{})
		if len(all) != 9 {
			t.Fatalf("History = %d outcomes, want 9", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID >= all[i-1].ID || all[i].At.After(all[i-1].At) {
				t.Fatalf("History not newest first at %d: %+v then %+v", i, all[i-1], all[i])
			}
		}
		check := func(name string, f remediation.HistoryFilter, keep func(o *remediation.Outcome) bool) {
			t.Helper()
			var want []int64
			for _, o := range all {
				if keep(o) {
					want = append(want, o.ID)
				}
			}
			f.Limit = 2 // exercise the cursor with every filter
			got := allHistory(t, s, f)
			if len(got) != len(want) {
				t.Fatalf("%s: %d outcomes, want %d", name, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i] {
					t.Fatalf("%s: outcome %d has id %d, want %d", name, i, got[i].ID, want[i])
				}
			}
		}
		check("tenant", remediation.HistoryFilter{TenantID: "t1"}, func(o *remediation.Outcome) bool { return o.TenantID == "t1" })
		check("identity", remediation.HistoryFilter{Identity: "a000001@contoso.com"},
			func(o *remediation.Outcome) bool { return o.Identity == "a000001@contoso.com" })
		check("tenant+identity", remediation.HistoryFilter{TenantID: "t2", Identity: "a000001@contoso.com"},
			func(o *remediation.Outcome) bool { return o.Identity == "a000001@contoso.com" && o.TenantID == "t2" })
		check("action", remediation.HistoryFilter{Action: remediation.ActionRevokeSessions},
			func(o *remediation.Outcome) bool { return o.Action == remediation.ActionRevokeSessions })
		check("status", remediation.HistoryFilter{Status: remediation.ItemFailed},
			func(o *remediation.Outcome) bool { return o.Status == remediation.ItemFailed })
		since, until := all[6].At, all[2].At
		check("since", remediation.HistoryFilter{Since: since}, func(o *remediation.Outcome) bool { return !o.At.Before(since) })
		check("until", remediation.HistoryFilter{Until: until}, func(o *remediation.Outcome) bool { return o.At.Before(until) })
		check("since+until+tenant", remediation.HistoryFilter{Since: since, Until: until, TenantID: "t2"},
			func(o *remediation.Outcome) bool {
				return !o.At.Before(since) && o.At.Before(until) && o.TenantID == "t2"
			})
		if got, _, err := s.History(ctx, remediation.HistoryFilter{TenantID: "t3"}); err != nil || len(got) != 0 {
			t.Fatalf("unknown tenant history = %v, %v; want empty", got, err)
		}
	},
}
