package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/graphsim"
)

// Helpers of the TestActions… end-to-end tests: the API as a portal uses
// it (submit, poll, items with their per-target results, undo, tenant
// settings) and reads of the simulator's state and request log.

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// itemErr is an item's (or a target's) error.
type itemErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// actionItem is an item with its object id and per-target results.
type actionItem struct {
	Identity string          `json:"identity"`
	ObjectID string          `json:"object_id"`
	Status   string          `json:"status"`
	Detail   string          `json:"detail"`
	Error    *itemErr        `json:"error"`
	Results  json.RawMessage `json:"results"`
}

// target is one entry of an item's results.targets (role assignments or
// groups of the single-identity actions).
type target struct {
	RoleAssignmentID string   `json:"role_assignment_id"`
	RoleDefinitionID string   `json:"role_definition_id"`
	GroupID          string   `json:"group_id"`
	Status           string   `json:"status"`
	Detail           string   `json:"detail"`
	Error            *itemErr `json:"error"`
}

// itemResults is the decoded results of an item.
type itemResults struct {
	Preview string   `json:"preview"`
	Targets []target `json:"targets"`
}

func (it actionItem) results(t *testing.T) itemResults {
	t.Helper()
	var r itemResults
	if len(it.Results) > 0 {
		if err := json.Unmarshal(it.Results, &r); err != nil {
			t.Fatalf("results of %s: %s: %v", it.Identity, it.Results, err)
		}
	}
	return r
}

// errCode returns the item's error code, "" without one.
func (it actionItem) errCode() string {
	if it.Error == nil {
		return ""
	}
	return it.Error.Code
}

// jobAnswer is a job as the API answers it; a finished small dry run
// carries its items.
type jobAnswer struct {
	jobView
	DryRun bool         `json:"dry_run"`
	UndoOf *string      `json:"undo_of"`
	Items  []actionItem `json:"items"`
}

// tenantInfo is what GET /v1/tenants/{id} shows of the managed policies.
type tenantInfo struct {
	MFAPolicyState               string   `json:"mfa_policy_state"`
	MFATargeting                 string   `json:"mfa_targeting"`
	ProtectedIdentities          []string `json:"protected_identities"`
	MFAPolicyID                  *string  `json:"mfa_policy_id"`
	PhishingResistantMFAPolicyID *string  `json:"phishing_resistant_mfa_policy_id"`
	MFAGroupID                   string   `json:"mfa_group_id"`
}

// call sends a request with the API key and returns the status and body.
func (s *stack) call(method, path string, body any) (int, json.RawMessage) {
	s.t.Helper()
	var raw json.RawMessage
	code := s.do(method, path, body, nil, &raw)
	return code, raw
}

// decodeAs unmarshals raw into a T.
func decodeAs[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// remediate submits a job (body as the API takes it) and waits for it to
// finish; 202 expected.
func (s *stack) remediate(tenantID string, body map[string]any, timeout time.Duration) jobView {
	s.t.Helper()
	if body["reason"] == nil {
		body["reason"] = "e2e: " + fmt.Sprint(body["action"])
	}
	code, raw := s.call("POST", "/v1/tenants/"+tenantID+"/remediations", body)
	if code != http.StatusAccepted {
		s.t.Fatalf("submit %v: %d %s", body["action"], code, raw)
	}
	return s.waitJob(decodeAs[jobView](s.t, raw).ID, timeout)
}

// dryRun submits a dry run and returns its inline answer (200 expected:
// a small dry run's answer waits for its items).
func (s *stack) dryRun(tenantID string, body map[string]any) jobAnswer {
	s.t.Helper()
	body["dry_run"] = true
	body["reason"] = "e2e dry run"
	code, raw := s.call("POST", "/v1/tenants/"+tenantID+"/remediations", body)
	if code != http.StatusOK {
		s.t.Fatalf("dry run of %v: %d %s (want 200 with the preview)", body["action"], code, raw)
	}
	a := decodeAs[jobAnswer](s.t, raw)
	if !a.DryRun || a.Status != "completed" || len(a.Items) != a.Total {
		s.t.Fatalf("dry run of %v: %s", body["action"], raw)
	}
	return a
}

// undo posts an undo of jobID and, when accepted, waits for it.
func (s *stack) undo(jobID string) (int, jobView, apiError) {
	s.t.Helper()
	code, raw := s.call("POST", "/v1/remediations/"+jobID+"/undo", map[string]any{"reason": "e2e undo"})
	if code != http.StatusAccepted {
		return code, jobView{}, decodeAs[apiError](s.t, raw)
	}
	return code, s.waitJob(decodeAs[jobView](s.t, raw).ID, 90*time.Second), apiError{}
}

// actionItems returns every item of a job (with results), by identity.
func (s *stack) actionItems(jobID string) map[string]actionItem {
	s.t.Helper()
	out := map[string]actionItem{}
	cursor := ""
	for {
		var page struct {
			Items      []actionItem `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		if code := s.do("GET", fmt.Sprintf("/v1/remediations/%s/items?limit=1000&cursor=%s", jobID, cursor), nil, nil, &page); code != 200 {
			s.t.Fatalf("items of %s: %d", jobID, code)
		}
		for _, it := range page.Items {
			out[it.Identity] = it
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// settings PATCHes the tenant's settings (200 expected).
func (s *stack) settings(tenantID string, body map[string]any) {
	s.t.Helper()
	if code, raw := s.call("PATCH", "/v1/tenants/"+tenantID, body); code != http.StatusOK {
		s.t.Fatalf("PATCH tenant %v: %d %s", body, code, raw)
	}
}

// tenantInfo reads GET /v1/tenants/{id}.
func (s *stack) tenantInfo(tenantID string) tenantInfo {
	s.t.Helper()
	code, raw := s.call("GET", "/v1/tenants/"+tenantID, nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET tenant: %d %s", code, raw)
	}
	return decodeAs[tenantInfo](s.t, raw)
}

// graphDelete sends DELETE {graph}/path to the simulator as the tenant's
// app (an administrator's change behind the product's back).
func (s *stack) graphDelete(tn *graphsim.Tenant, path string) int {
	s.t.Helper()
	tok, err := s.sim.IssueToken(tn.ID(), time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequest("DELETE", s.sim.GraphURL()+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.sim.CAPool()}}}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// post sends a JSON POST without touching t (safe in goroutines).
func (s *stack) post(path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest("POST", s.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// tenantWrites returns the logged Graph writes of one tenant.
func tenantWrites(sim *graphsim.Server, tenantID string) []graphsim.Request {
	var out []graphsim.Request
	for _, r := range sim.Writes() {
		if r.TenantID == tenantID {
			out = append(out, r)
		}
	}
	return out
}

// describe lists requests as "METHOD path status" lines for messages.
func describe(reqs []graphsim.Request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  %s %s → %d", r.Method, r.Path, r.Status)
	}
	return b.String()
}

// sameIDs reports whether a and b hold the same ids (case-insensitive,
// ignoring order and duplicates).
func sameIDs(a, b []string) bool {
	norm := func(ids []string) []string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			out = append(out, strings.ToLower(id))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// concat returns the lists one after the other in a new slice.
func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// onlyPolicy returns the tenant's single Conditional Access policy.
func onlyPolicy(t *testing.T, tn *graphsim.Tenant) graphsim.CAPolicyState {
	t.Helper()
	ps := tn.CAPolicies()
	if len(ps) != 1 {
		names := make([]string, len(ps))
		for i, p := range ps {
			names[i] = fmt.Sprintf("%s (%d users)", p.DisplayName, len(p.IncludeUsers))
		}
		t.Fatalf("tenant has %d Conditional Access policies, want exactly 1: %v", len(ps), names)
	}
	return ps[0]
}

// policyNamed returns the tenant's policy with that display name.
func policyNamed(t *testing.T, tn *graphsim.Tenant, name string) graphsim.CAPolicyState {
	t.Helper()
	var found []graphsim.CAPolicyState
	for _, p := range tn.CAPolicies() {
		if p.DisplayName == name {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d policies named %q, want 1", len(found), name)
	}
	return found[0]
}

// userIDsIn returns the entries of includeUsers that are user ids (not
// All, None or GuestsOrExternalUsers).
func userIDsIn(include []string) []string {
	var out []string
	for _, id := range include {
		switch id {
		case "All", "None", "GuestsOrExternalUsers":
		default:
			out = append(out, id)
		}
	}
	return out
}

// enabledStates snapshots accountEnabled of every user.
func enabledStates(tn *graphsim.Tenant) map[string]bool {
	out := map[string]bool{}
	for _, u := range tn.Users() {
		out[u.ID] = u.AccountEnabled
	}
	return out
}

// wantCounts fails unless the finished job has exactly these non-zero counts.
func wantCounts(t *testing.T, j jobView, want map[string]int) {
	t.Helper()
	if j.Status != "completed" {
		t.Errorf("job %s: status %s, want completed", j.ID, j.Status)
	}
	for st, n := range j.Counts {
		if n != want[st] {
			t.Errorf("job %s: counts %v, want %v", j.ID, j.Counts, want)
			return
		}
	}
	for st, n := range want {
		if j.Counts[st] != n {
			t.Errorf("job %s: counts %v, want %v", j.ID, j.Counts, want)
			return
		}
	}
}

// wantItem checks an item's status, error code ("" = none) and that its
// detail contains each of details.
func wantItem(t *testing.T, items map[string]actionItem, id, status, code string, details ...string) actionItem {
	t.Helper()
	it, ok := items[strings.ToLower(id)]
	if !ok {
		t.Errorf("no item for %s", id)
		return it
	}
	if it.Status != status || it.errCode() != code {
		t.Errorf("item %s: %s (error %q) %q, want %s (error %q)", id, it.Status, it.errCode(), it.Detail, status, code)
	}
	for _, d := range details {
		if !strings.Contains(it.Detail, d) {
			t.Errorf("item %s: detail %q does not say %q", id, it.Detail, d)
		}
	}
	return it
}
