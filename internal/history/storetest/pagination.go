package storetest

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

var paginationTests = map[string]func(t *testing.T, s remediation.Store){
	"JobsStableUnderInserts": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		base := time.Now().Add(-time.Hour)
		var want []string // newest first
		for i := range 25 {
			j := newJob("t1", remediation.ActionDisableUser)
			j.CreatedAt = base.Add(time.Duration(i/2) * time.Second) // pairs share a time: id breaks ties
			mustCreate(t, s, j, identities("u", 1))
			want = append(want, j.ID)
		}
		// Expected order: created_at desc, id desc.
		sortJobsNewestFirst(t, s, want)
		page, next, err := s.ListJobs(ctx, remediation.JobFilter{Limit: 10})
		if err != nil || len(page) != 10 || next == "" {
			t.Fatalf("page 1 = %d jobs, next %q, %v", len(page), next, err)
		}
		var got []string
		for _, j := range page {
			got = append(got, j.ID)
		}
		// Inserts between pages: newer jobs must not appear later, an
		// older one must appear at its place at the end.
		for range 3 {
			mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("u", 1))
		}
		old := newJob("t1", remediation.ActionDisableUser)
		old.CreatedAt = base.Add(-time.Minute)
		mustCreate(t, s, old, identities("u", 1))
		want = append(want, old.ID)
		for next != "" {
			page, next, err = s.ListJobs(ctx, remediation.JobFilter{Limit: 10, Cursor: next})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				got = append(got, j.ID)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("paged %d jobs, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("job %d = %s, want %s", i, got[i], want[i])
			}
		}
	},
	"JobFilters": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		mustTenant(t, s, "t1")
		mustTenant(t, s, "t2")
		a := mustCreate(t, s, newJob("t1", remediation.ActionDisableUser), identities("u", 1))
		b := mustCreate(t, s, newJob("t1", remediation.ActionRevokeSessions), identities("u", 1))
		c := mustCreate(t, s, newJob("t2", remediation.ActionDisableUser), identities("u", 1))
		finish(t, s, b.ID, 0, remediation.ItemSucceeded)
		for _, tc := range []struct {
			f    remediation.JobFilter
			want []*remediation.Job
		}{
			{remediation.JobFilter{TenantID: "t1"}, []*remediation.Job{a, b}},
			{remediation.JobFilter{Action: remediation.ActionDisableUser}, []*remediation.Job{a, c}},
			{remediation.JobFilter{Status: remediation.JobCompleted}, []*remediation.Job{b}},
			{remediation.JobFilter{Status: remediation.JobQueued, TenantID: "t2"}, []*remediation.Job{c}},
			{remediation.JobFilter{TenantID: "t3"}, nil},
		} {
			got, next, err := s.ListJobs(ctx, tc.f)
			if err != nil || next != "" || len(got) != len(tc.want) {
				t.Fatalf("ListJobs(%+v) = %d jobs, %q, %v; want %d", tc.f, len(got), next, err, len(tc.want))
			}
			ids := map[string]bool{}
			for _, j := range got {
				ids[j.ID] = true
			}
			for _, w := range tc.want {
				if !ids[w.ID] {
					t.Fatalf("ListJobs(%+v) misses job %s", tc.f, w.ID)
				}
			}
		}
		got, _, _ := s.ListJobs(ctx, remediation.JobFilter{Status: remediation.JobCompleted})
		wantCounts(t, got[0], map[remediation.ItemStatus]int{remediation.ItemSucceeded: 1})
	},
	"ItemPagesAndLimits": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 1500)
		items, next, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{})
		if err != nil || len(items) != 100 || next == "" {
			t.Fatalf("default limit: %d items, %q, %v; want 100", len(items), next, err)
		}
		items, _, err = s.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: 5000})
		if err != nil || len(items) != 1000 {
			t.Fatalf("limit 5000: %d items, %v; want capped at 1000", len(items), err)
		}
		seq, cursor, pages := 0, "", 0
		for {
			page, next, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: 400, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range page {
				if it.Seq != seq {
					t.Fatalf("page %d: seq %d, want %d", pages, it.Seq, seq)
				}
				seq++
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if seq != 1500 || pages != 4 {
			t.Fatalf("paged %d items in %d pages, want 1500 in 4", seq, pages)
		}
		items, next, err = s.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: 500, Cursor: cursor})
		if err != nil || len(items) != 300 || items[0].Seq != 1200 || next != "" {
			t.Fatalf("replayed last cursor = %d items, %q, %v; want seq 1200..1499", len(items), next, err)
		}
	},
	"HistoryStableUnderInserts": func(t *testing.T, s remediation.Store) {
		j := mustJob(t, s, "t1", 30)
		for seq := range 20 {
			finish(t, s, j.ID, seq, remediation.ItemSucceeded)
		}
		page, next, err := s.History(t.Context(), remediation.HistoryFilter{Limit: 7})
		if err != nil || len(page) != 7 || next == "" {
			t.Fatalf("page 1 = %d, %q, %v", len(page), next, err)
		}
		got := page
		for seq := 20; seq < 30; seq++ { // newer outcomes while paging
			finish(t, s, j.ID, seq, remediation.ItemFailed)
		}
		got = append(got, allHistory(t, s, remediation.HistoryFilter{Limit: 7, Cursor: next})...)
		if len(got) != 20 {
			t.Fatalf("paged %d outcomes, want the 20 that existed", len(got))
		}
		seen := map[int64]bool{}
		for i, o := range got {
			if seen[o.ID] || o.Status != remediation.ItemSucceeded || (i > 0 && o.ID >= got[i-1].ID) {
				t.Fatalf("outcome %d = %+v: duplicate, new or out of order", i, o)
			}
			seen[o.ID] = true
		}
	},
	"MalformedCursors": func(t *testing.T, s remediation.Store) {
		ctx := t.Context()
		j := mustJob(t, s, "t1", 3)
		_, itemCursor, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{Limit: 1})
		if err != nil || itemCursor == "" {
			t.Fatalf("ListItems: %q, %v", itemCursor, err)
		}
		bad := []string{"%%%", base64.RawURLEncoding.EncodeToString([]byte("garbage"))}
		for _, c := range append(bad, itemCursor) {
			_, _, err := s.ListJobs(ctx, remediation.JobFilter{Cursor: c})
			wantCode(t, err, remediation.EINVALID)
			_, _, err = s.History(ctx, remediation.HistoryFilter{Cursor: c})
			wantCode(t, err, remediation.EINVALID)
		}
		for _, c := range bad {
			_, _, err := s.ListItems(ctx, j.ID, remediation.ItemFilter{Cursor: c})
			wantCode(t, err, remediation.EINVALID)
		}
	},
}

// sortJobsNewestFirst orders ids as ListJobs must: created_at desc, then
// id desc.
func sortJobsNewestFirst(t testing.TB, s remediation.Store, ids []string) {
	t.Helper()
	at := map[string]time.Time{}
	for _, id := range ids {
		at[id] = mustGetJob(t, s, id).CreatedAt
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := at[b].Compare(at[a]); c != 0 {
			return c
		}
		return strings.Compare(b, a)
	})
}
