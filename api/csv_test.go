package api

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entraremediator/remediator/internal/history"
	"github.com/entraremediator/remediator/internal/remediation"
)

// readCSV checks the CSV answer and returns its rows (header first).
func readCSV(t *testing.T, w *httptest.ResponseRecorder) [][]string {
	t.Helper()
	wantStatus(t, w, 200)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, w.Body.String())
	}
	return rows
}

func csvGet(e *env, secret, path string) *httptest.ResponseRecorder {
	return e.as(secret, req{Method: http.MethodGet, Path: path, Header: map[string]string{"Accept": "text/csv"}})
}

func TestHistoryCSV(t *testing.T) {
	old := csvPage
	csvPage = 3 // several pages
	t.Cleanup(func() { csvPage = old })
	e := newEnv(t)
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	// A reason with every character CSV must quote, and one a spreadsheet
	// would run as a formula.
	tricky := "line one\nline \"two\", with comma"
	w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants/" + tenantA + "/remediations", Header: map[string]string{"X-Actor": "=cmd|' /C calc'!A0"},
		Body: map[string]any{"action": "disable_user", "identities": identities(7, "user%d@contoso.com"), "reason": tricky}})
	wantStatus(t, w, 202)
	ja := decode[job](t, w)
	for i := range 7 {
		st := remediation.ItemSucceeded
		if i%3 == 0 {
			st = remediation.ItemFailed
		}
		e.finish(ja.ID, i, st, "")
	}
	jb := e.submit(tenantB, "disable_user", "b0@fabrikam.com", "b1@fabrikam.com")
	e.finish(jb.ID, 0, remediation.ItemSucceeded, "")
	e.finish(jb.ID, 1, remediation.ItemSucceeded, "")

	rows := readCSV(t, csvGet(e, testAPIKey, "/v1/history"))
	if strings.Join(rows[0], ",") != strings.Join(historyCSVHeader, ",") {
		t.Fatalf("header = %v", rows[0])
	}
	if len(rows) != 1+9 {
		t.Fatalf("%d rows, want 9 and the header", len(rows)-1)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var fromA int
	for _, r := range rows[1:] {
		if r[col["tenant_id"]] == tenantA {
			fromA++
			if r[col["reason"]] != tricky || r[col["actor"]] != "'=cmd|' /C calc'!A0" || r[col["requested_by"]] != "api-key:bootstrap" {
				t.Errorf("row %v", r)
			}
			if r[col["status"]] == "failed" && (r[col["error_code"]] != "Request_ResourceNotFound" || r[col["error_message"]] != "gone") {
				t.Errorf("failed row %v", r)
			}
		}
	}
	if fromA != 7 {
		t.Errorf("%d rows of tenant A", fromA)
	}

	// Filters apply; limit caps the rows; a scoped key exports its tenants only.
	if rows := readCSV(t, csvGet(e, testAPIKey, "/v1/history?status=failed")); len(rows) != 1+3 {
		t.Errorf("failed: %d rows", len(rows)-1)
	}
	if rows := readCSV(t, csvGet(e, testAPIKey, "/v1/history?limit=4")); len(rows) != 1+4 {
		t.Errorf("limit=4: %d rows", len(rows)-1)
	}
	scopedB := e.key(remediation.RoleViewer, tenantB)
	rows = readCSV(t, csvGet(e, scopedB, "/v1/history"))
	if len(rows) != 1+2 || rows[1][col["tenant_id"]] != tenantB || rows[2][col["tenant_id"]] != tenantB {
		t.Errorf("scoped export: %v", rows)
	}
	if rows := readCSV(t, csvGet(e, scopedB, "/v1/history?tenant_id="+tenantA)); len(rows) != 1 {
		t.Errorf("scoped export of another tenant: %v", rows)
	}
	// Errors before the first row are ordinary JSON errors.
	w = csvGet(e, testAPIKey, "/v1/history?cursor=bogus")
	wantError(t, w, 400, remediation.EINVALID)
	// Without text/csv (or with q=0) the answer is JSON.
	for _, accept := range []string{"", "application/json", "text/csv;q=0", "text/csvx"} {
		w := e.do(req{Method: http.MethodGet, Path: "/v1/history", Header: map[string]string{"Accept": accept}})
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Accept %q: Content-Type %q", accept, ct)
		}
	}
	w = e.do(req{Method: http.MethodGet, Path: "/v1/history", Header: map[string]string{"Accept": "application/json;q=0.5, text/csv"}})
	readCSV(t, w)
}

func TestAuditCSV(t *testing.T) {
	old := csvPage
	csvPage = 2
	t.Cleanup(func() { csvPage = old })
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	adminActions(t, e, testAPIKey)
	want := len(e.auditEntries())
	rows := readCSV(t, csvGet(e, testAPIKey, "/v1/audit"))
	if strings.Join(rows[0], ",") != strings.Join(auditCSVHeader, ",") || len(rows) != 1+want {
		t.Fatalf("header %v, %d rows, want %d", rows[0], len(rows)-1, want)
	}
	for _, r := range rows[1:] {
		if r[4] != "jane@soc.example" && r[5] != auditTenantCreate {
			t.Errorf("row %v", r)
		}
		if r[8] != "" && !strings.HasPrefix(r[8], "{") {
			t.Errorf("details %q", r[8])
		}
	}
	if rows := readCSV(t, csvGet(e, testAPIKey, "/v1/audit?action=job.undo")); len(rows) != 2 || rows[1][5] != "job.undo" {
		t.Errorf("filtered export %v", rows)
	}
	// Viewers may not export the audit log.
	viewer := e.key(remediation.RoleViewer)
	wantError(t, csvGet(e, viewer, "/v1/audit"), 403, remediation.EFORBIDDEN)
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "plain": "plain", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "a=b": "a=b",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// failingHistory fails History from the second call on.
type failingHistory struct {
	*history.Store
	calls atomic.Int32
}

func (f *failingHistory) History(ctx context.Context, hf remediation.HistoryFilter) ([]*remediation.Outcome, string, error) {
	if f.calls.Add(1) > 1 {
		return nil, "", errors.New("db connection lost")
	}
	return f.Store.History(ctx, hf)
}

// TestCSVAbortsOnLaterError: a store error after the first page cuts the
// connection, so that the client cannot take the export for a whole one.
func TestCSVAbortsOnLaterError(t *testing.T) {
	old := csvPage
	csvPage = 1
	t.Cleanup(func() { csvPage = old })
	base := newEnv(t)
	base.addTenant(tenantA)
	j := base.submit(tenantA, "disable_user", "a@contoso.com", "b@contoso.com")
	base.finish(j.ID, 0, remediation.ItemSucceeded, "")
	base.finish(j.ID, 1, remediation.ItemSucceeded, "")
	fs := &failingHistory{Store: base.store}
	e := newEnv(t, func(c *Config) { c.Store = fs })
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	r, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/history", nil)
	r.Header.Set("Authorization", "Bearer "+testAPIKey)
	r.Header.Set("Accept", "text/csv")
	resp, err := ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("a cut export read as complete")
	}
	if !strings.Contains(e.logs.String(), "CSV export failed") {
		t.Error("failure not logged")
	}
}
