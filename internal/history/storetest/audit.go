package storetest

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

func mustAppend(t testing.TB, s AccessStore, e *remediation.AuditEntry) *remediation.AuditEntry {
	t.Helper()
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Action, err)
	}
	return e
}

// allAudit reads every entry matching f, following cursors.
func allAudit(t testing.TB, s AccessStore, f remediation.AuditFilter) []*remediation.AuditEntry {
	t.Helper()
	var out []*remediation.AuditEntry
	for {
		page, next, err := s.ListAudit(t.Context(), f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", f, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

var auditTests = map[string]func(t *testing.T, s AccessStore){
	"AppendAndRead": func(t *testing.T, s AccessStore) {
		before := time.Now().Add(-time.Second)
		details := json.RawMessage(`{"b": 1,  "a": ["x"]}`)
		first := mustAppend(t, s, &remediation.AuditEntry{KeyID: "k1", KeyName: "admin", Actor: "alice@contoso.com",
			Action: "tenant.create", TenantID: "t1", Target: "t1", Details: details, RemoteAddr: "10.0.0.1",
			RequestID: "req-1"})
		if first.ID == 0 || first.At.Before(before) || first.At.After(time.Now().Add(time.Second)) {
			t.Fatalf("AppendAudit set ID %d At %v; want an id and now", first.ID, first.At)
		}
		at := time.Date(2025, 2, 3, 4, 5, 6, 789012345, time.FixedZone("Y", 3600))
		second := mustAppend(t, s, &remediation.AuditEntry{Action: "key.revoke", At: at, Target: "k9"})
		if second.ID <= first.ID {
			t.Fatalf("ids %d then %d, want increasing", first.ID, second.ID)
		}
		got := allAudit(t, s, remediation.AuditFilter{})
		if len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID {
			t.Fatalf("ListAudit = %+v, want the two entries newest first", got)
		}
		g := got[1]
		if g.KeyID != "k1" || g.KeyName != "admin" || g.Actor != "alice@contoso.com" || g.Action != "tenant.create" ||
			g.TenantID != "t1" || g.Target != "t1" || string(g.Details) != string(details) ||
			g.RemoteAddr != "10.0.0.1" || g.RequestID != "req-1" || !sameTime(g.At, first.At) {
			t.Fatalf("entry = %+v (details %s), want %+v", g, g.Details, first)
		}
		if !sameTime(got[0].At, at) || got[0].Details != nil || got[0].TenantID != "" {
			t.Fatalf("entry = %+v, want At %v (UTC, µs), no details, no tenant", got[0], at)
		}
		wantCode(t, s.AppendAudit(t.Context(), &remediation.AuditEntry{KeyID: "k1"}), remediation.EINVALID)
	},
	"Filters": func(t *testing.T, s AccessStore) {
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		tenants := []string{"t1", "t2", "", "t3"}
		actions := []string{"tenant.update", "job.cancel", "key.create"}
		for i := range 24 {
			mustAppend(t, s, &remediation.AuditEntry{At: base.Add(time.Duration(i) * time.Minute),
				KeyID: []string{"ka", "kb"}[i%2], Action: actions[i%3], TenantID: tenants[i%4]})
		}
		all := allAudit(t, s, remediation.AuditFilter{})
		if len(all) != 24 {
			t.Fatalf("ListAudit = %d entries, want 24", len(all))
		}
		check := func(name string, f remediation.AuditFilter, keep func(e *remediation.AuditEntry) bool) {
			t.Helper()
			var want []int64
			for _, e := range all {
				if keep(e) {
					want = append(want, e.ID)
				}
			}
			for _, limit := range []int{2, 100} {
				f.Limit = limit
				var got []int64
				for _, e := range allAudit(t, s, f) {
					got = append(got, e.ID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s (limit %d): entries %v, want %v", name, limit, got, want)
				}
			}
		}
		in := func(ids ...string) func(e *remediation.AuditEntry) bool {
			return func(e *remediation.AuditEntry) bool { return slices.Contains(ids, e.TenantID) }
		}
		none := func(*remediation.AuditEntry) bool { return false }
		since, until := base.Add(5*time.Minute), base.Add(17*time.Minute)
		check("tenant", remediation.AuditFilter{TenantID: "t2"}, in("t2"))
		check("tenant set", remediation.AuditFilter{TenantIDs: []string{"t1", "t3"}}, in("t1", "t3"))
		check("tenant set long", remediation.AuditFilter{TenantIDs: manyTenants(40, "t3")}, in("t3"))
		check("intersection", remediation.AuditFilter{TenantID: "t1", TenantIDs: []string{"t1", "t2"}}, in("t1"))
		check("empty intersection", remediation.AuditFilter{TenantID: "t3", TenantIDs: []string{"t1"}}, none)
		check("action", remediation.AuditFilter{Action: "job.cancel"},
			func(e *remediation.AuditEntry) bool { return e.Action == "job.cancel" })
		check("key", remediation.AuditFilter{KeyID: "kb"}, func(e *remediation.AuditEntry) bool { return e.KeyID == "kb" })
		check("since inclusive", remediation.AuditFilter{Since: since},
			func(e *remediation.AuditEntry) bool { return !e.At.Before(since) })
		check("until exclusive", remediation.AuditFilter{Until: until},
			func(e *remediation.AuditEntry) bool { return e.At.Before(until) })
		check("all filters", remediation.AuditFilter{TenantIDs: []string{"t1", "t2", ""}, KeyID: "ka",
			Action: "tenant.update", Since: since, Until: until.Add(10 * time.Minute)},
			func(e *remediation.AuditEntry) bool {
				return in("t1", "t2")(e) && e.KeyID == "ka" && e.Action == "tenant.update" &&
					!e.At.Before(since) && e.At.Before(until.Add(10*time.Minute))
			})
		if n := len(allAudit(t, s, remediation.AuditFilter{Since: since, Until: since.Add(time.Minute)})); n != 1 {
			t.Fatalf("one-minute window holds %d entries, want exactly the one at its start", n)
		}
	},
	"DefaultAndMaximumLimit": func(t *testing.T, s AccessStore) {
		for range 1005 {
			mustAppend(t, s, &remediation.AuditEntry{Action: "job.create"})
		}
		page, next, err := s.ListAudit(t.Context(), remediation.AuditFilter{})
		if err != nil || len(page) != 100 || next == "" {
			t.Fatalf("default page = %d entries, %q, %v; want 100 and a cursor", len(page), next, err)
		}
		page, next, err = s.ListAudit(t.Context(), remediation.AuditFilter{Limit: 5000})
		if err != nil || len(page) != 1000 || next == "" {
			t.Fatalf("limit 5000 = %d entries, %q, %v; want 1000 and a cursor", len(page), next, err)
		}
		page, next, err = s.ListAudit(t.Context(), remediation.AuditFilter{Limit: 5000, Cursor: next})
		if err != nil || len(page) != 5 || next != "" {
			t.Fatalf("last page = %d entries, %q, %v; want 5 and no cursor", len(page), next, err)
		}
	},
	"PagesStableUnderInserts": func(t *testing.T, s AccessStore) {
		for range 25 {
			mustAppend(t, s, &remediation.AuditEntry{Action: "old", TenantID: "t1"})
		}
		page, next, err := s.ListAudit(t.Context(), remediation.AuditFilter{Limit: 10})
		if err != nil || len(page) != 10 || next == "" {
			t.Fatalf("page 1 = %d, %q, %v", len(page), next, err)
		}
		for range 5 {
			mustAppend(t, s, &remediation.AuditEntry{Action: "new", TenantID: "t1"})
		}
		got := append(page, allAudit(t, s, remediation.AuditFilter{Limit: 10, Cursor: next})...)
		if len(got) != 25 {
			t.Fatalf("paged %d entries, want the 25 that existed", len(got))
		}
		for i, e := range got {
			if e.Action != "old" || (i > 0 && e.ID >= got[i-1].ID) {
				t.Fatalf("entry %d = %+v: new or out of order", i, e)
			}
		}
	},
	"MalformedCursors": func(t *testing.T, s AccessStore) {
		j := mustJob(t, s, "t1", 2)
		finish(t, s, j.ID, 0, remediation.ItemSucceeded)
		finish(t, s, j.ID, 1, remediation.ItemSucceeded)
		_, historyCursor, err := s.History(t.Context(), remediation.HistoryFilter{Limit: 1})
		if err != nil || historyCursor == "" {
			t.Fatalf("History: %q, %v", historyCursor, err)
		}
		for _, c := range []string{"%%%", base64.RawURLEncoding.EncodeToString([]byte("a|x")), historyCursor} {
			_, _, err := s.ListAudit(t.Context(), remediation.AuditFilter{Cursor: c})
			wantCode(t, err, remediation.EINVALID)
		}
	},
}
