package actions

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Ids used across the tests.
const (
	carolID       = "55555555-5555-5555-5555-555555555555"
	daveID        = "dddddddd-aaaa-4bbb-8ccc-eeeeeeeeeeee" // hex letters: case-insensitive matching
	breakGlassID  = "99999999-9999-9999-9999-999999999999"
	roleUserAdmin = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	roleReader    = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b" // Directory Readers: not privileged
	roleGA        = remediation.RoleGlobalAdministrator
)

// assertPreview checks the "preview" of a dry run's Results.
func assertPreview(t *testing.T, res remediation.Result, want string) {
	t.Helper()
	var doc struct {
		Preview string `json:"preview"`
	}
	if err := json.Unmarshal(res.Results, &doc); err != nil || doc.Preview != want {
		t.Errorf("results = %s, want preview %q", res.Results, want)
	}
}

// assertNoWrites checks that nothing was written: no directory write, no
// saved prior state, no policy request.
func assertNoWrites(t *testing.T, d *fakeDir, rec *execRecorder) {
	t.Helper()
	if w := d.writeList(); len(w) > 0 {
		t.Errorf("writes = %q, want none", w)
	}
	if len(rec.saved) > 0 || len(rec.requests) > 0 {
		t.Errorf("saved %q, requested %+v; want neither", rec.saved, rec.requests)
	}
}

// assertRefused checks a refusal's status and error.
func assertRefused(t *testing.T, res remediation.Result, status remediation.ItemStatus, code, msg string) {
	t.Helper()
	if res.Status != status || res.Error == nil || res.Error.Code != code || (msg != "" && res.Error.Message != msg) {
		t.Errorf("result = %s %+v, want %s with %s %q", res.Status, res.Error, status, code, msg)
	}
}

// decodeTargets decodes the Results of a role or group action.
func decodeTargets(t *testing.T, res remediation.Result) (preview string, targets []map[string]any) {
	t.Helper()
	var doc struct {
		Preview string           `json:"preview"`
		Targets []map[string]any `json:"targets"`
	}
	if err := json.Unmarshal(res.Results, &doc); err != nil {
		t.Fatalf("results %s: %v", res.Results, err)
	}
	return doc.Preview, doc.Targets
}

// targetLines renders targets as "id status detail" lines for comparison.
func targetLines(targets []map[string]any, idKey string) []string {
	var out []string
	for _, tg := range targets {
		line := []string{str(tg[idKey]), str(tg["status"]), str(tg["detail"])}
		if e, ok := tg["error"].(map[string]any); ok {
			line = append(line, str(e["code"]))
		}
		out = append(out, strings.Join(line, " | "))
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestAllHasTheSixActionsOfTheCatalog(t *testing.T) {
	seen := map[remediation.Action]bool{}
	for _, e := range All() {
		if seen[e.Action()] {
			t.Errorf("duplicate executor for %s", e.Action())
		}
		seen[e.Action()] = true
		if _, ok := remediation.LookupAction(string(e.Action())); !ok {
			t.Errorf("executor %s is not in the catalog", e.Action())
		}
	}
	for _, s := range remediation.Catalog() {
		if !seen[s.Name] {
			t.Errorf("All() lacks %s", s.Name)
		}
	}
}
