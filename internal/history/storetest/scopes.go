package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// allJobs reads every job matching f, following cursors.
func allJobs(t testing.TB, s remediation.Store, f remediation.JobFilter) []*remediation.Job {
	t.Helper()
	var out []*remediation.Job
	for {
		page, next, err := s.ListJobs(context.Background(), f)
		if err != nil {
			t.Fatalf("ListJobs(%+v): %v", f, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

// manyTenants returns n tenant ids that do not exist, followed by extra.
func manyTenants(n int, extra ...string) []string {
	ids := make([]string, 0, n+len(extra))
	for i := range n {
		ids = append(ids, fmt.Sprintf("absent-%03d", i))
	}
	return append(ids, extra...)
}

// scopeFixture creates tenants t1..t3 with three jobs each, of two
// actions, running or completed, so that jobs and outcomes of the three
// tenants interleave in time.
func scopeFixture(t *testing.T, s remediation.Store) {
	t.Helper()
	for _, tn := range []string{"t1", "t2", "t3"} {
		mustTenant(t, s, tn)
	}
	for round := range 3 {
		for _, tn := range []string{"t1", "t2", "t3"} {
			action := remediation.ActionDisableUser
			if round == 1 {
				action = remediation.ActionRevokeSessions
			}
			j := mustCreate(t, s, newJob(tn, action), identities(tn+"u", 3))
			finish(t, s, j.ID, 0, remediation.ItemSucceeded)
			finish(t, s, j.ID, 2, remediation.ItemFailed)
			if round == 2 { // completes the job
				finish(t, s, j.ID, 1, remediation.ItemSkipped)
			}
		}
	}
}

var scopeTests = map[string]func(t *testing.T, s remediation.Store){
	"JobsTenantSet": func(t *testing.T, s remediation.Store) {
		scopeFixture(t, s)
		all := allJobs(t, s, remediation.JobFilter{})
		check := func(name string, f remediation.JobFilter, keep func(j *remediation.Job) bool) {
			t.Helper()
			var want []string
			for _, j := range all {
				if keep(j) {
					want = append(want, j.ID)
				}
			}
			for _, limit := range []int{2, 100} { // with and without cursors
				f.Limit = limit
				var got []string
				for _, j := range allJobs(t, s, f) {
					got = append(got, j.ID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s (limit %d): jobs %v, want %v (newest first)", name, limit, got, want)
				}
			}
		}
		in := func(ids ...string) func(j *remediation.Job) bool {
			return func(j *remediation.Job) bool { return slices.Contains(ids, j.TenantID) }
		}
		none := func(*remediation.Job) bool { return false }
		check("set", remediation.JobFilter{TenantIDs: []string{"t1", "t3"}}, in("t1", "t3"))
		check("set of one", remediation.JobFilter{TenantIDs: []string{"t2"}}, in("t2"))
		check("duplicates", remediation.JobFilter{TenantIDs: []string{"t3", "t1", "t3"}}, in("t1", "t3"))
		check("unknown tenants only", remediation.JobFilter{TenantIDs: []string{"t9"}}, none)
		check("long set", remediation.JobFilter{TenantIDs: manyTenants(60, "t2", "t3")}, in("t2", "t3"))
		check("intersection", remediation.JobFilter{TenantID: "t1", TenantIDs: []string{"t1", "t2"}}, in("t1"))
		check("empty intersection", remediation.JobFilter{TenantID: "t3", TenantIDs: []string{"t1", "t2"}}, none)
		check("set+action", remediation.JobFilter{TenantIDs: []string{"t1", "t2"}, Action: remediation.ActionRevokeSessions},
			func(j *remediation.Job) bool {
				return in("t1", "t2")(j) && j.Action == remediation.ActionRevokeSessions
			})
		check("set+status", remediation.JobFilter{TenantIDs: []string{"t2", "t3"}, Status: remediation.JobCompleted},
			func(j *remediation.Job) bool { return in("t2", "t3")(j) && j.Status == remediation.JobCompleted })
	},
	"HistoryTenantSet": func(t *testing.T, s remediation.Store) {
		scopeFixture(t, s)
		all := allHistory(t, s, remediation.HistoryFilter{})
		if len(all) != 21 {
			t.Fatalf("History = %d outcomes, want 21", len(all))
		}
		check := func(name string, f remediation.HistoryFilter, keep func(o *remediation.Outcome) bool) {
			t.Helper()
			var want []int64
			for _, o := range all {
				if keep(o) {
					want = append(want, o.ID)
				}
			}
			for _, limit := range []int{2, 100} {
				f.Limit = limit
				var got []int64
				for _, o := range allHistory(t, s, f) {
					got = append(got, o.ID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s (limit %d): outcomes %v, want %v (newest first)", name, limit, got, want)
				}
			}
		}
		in := func(ids ...string) func(o *remediation.Outcome) bool {
			return func(o *remediation.Outcome) bool { return slices.Contains(ids, o.TenantID) }
		}
		none := func(*remediation.Outcome) bool { return false }
		check("set", remediation.HistoryFilter{TenantIDs: []string{"t1", "t3"}}, in("t1", "t3"))
		check("duplicates", remediation.HistoryFilter{TenantIDs: []string{"t2", "t2"}}, in("t2"))
		check("unknown tenants only", remediation.HistoryFilter{TenantIDs: []string{"t9", "t8"}}, none)
		check("long set", remediation.HistoryFilter{TenantIDs: manyTenants(60, "t1", "t3")}, in("t1", "t3"))
		check("intersection", remediation.HistoryFilter{TenantID: "t2", TenantIDs: []string{"t1", "t2"}}, in("t2"))
		check("empty intersection", remediation.HistoryFilter{TenantID: "t3", TenantIDs: []string{"t1"}}, none)
		check("set+status", remediation.HistoryFilter{TenantIDs: []string{"t1", "t2"}, Status: remediation.ItemFailed},
			func(o *remediation.Outcome) bool { return in("t1", "t2")(o) && o.Status == remediation.ItemFailed })
		ident := "t3u000002@contoso.com"
		check("set+identity", remediation.HistoryFilter{TenantIDs: []string{"t1", "t3"}, Identity: ident},
			func(o *remediation.Outcome) bool { return in("t1", "t3")(o) && o.Identity == ident })
		since, until := all[12].At, all[3].At
		check("set+since+until", remediation.HistoryFilter{TenantIDs: []string{"t1", "t2"}, Since: since, Until: until},
			func(o *remediation.Outcome) bool {
				return in("t1", "t2")(o) && !o.At.Before(since) && o.At.Before(until)
			})
	},
	"TenantSetPagesStableUnderInserts": func(t *testing.T, s remediation.Store) {
		scopeFixture(t, s)
		f := remediation.JobFilter{TenantIDs: []string{"t1", "t2"}, Limit: 4}
		want := allJobs(t, s, remediation.JobFilter{TenantIDs: f.TenantIDs})
		page, next, err := s.ListJobs(t.Context(), f)
		if err != nil || len(page) != 4 || next == "" {
			t.Fatalf("page 1 = %d jobs, %q, %v", len(page), next, err)
		}
		for _, tn := range []string{"t1", "t2", "t3"} { // newer jobs while paging
			mustCreate(t, s, newJob(tn, remediation.ActionDisableUser), identities("n", 1))
		}
		f.Cursor = next
		got := append(page, allJobs(t, s, f)...)
		if len(got) != len(want) {
			t.Fatalf("paged %d jobs, want the %d that existed", len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID {
				t.Fatalf("job %d = %s, want %s", i, got[i].ID, want[i].ID)
			}
		}
	},
}
