package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

const (
	groupG1 = "aaaaaaaa-0000-0000-0000-000000000001"
	groupG2 = "aaaaaaaa-0000-0000-0000-000000000002"
)

// The parameter rules name exactly the catalog's parameters.
func TestParamRulesMatchCatalog(t *testing.T) {
	for _, spec := range remediation.Catalog() {
		var want, got []string
		for _, p := range spec.Params {
			want = append(want, p.Name)
		}
		for _, r := range paramRules[spec.Name] {
			got = append(got, r.name)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: rules %v, catalog %v", spec.Name, got, want)
		}
	}
}

func TestRemediationParamsInvalid(t *testing.T) {
	e := newEnv(t, allActions)
	e.addTenant(tenantA)
	body := func(action string, params any, ids ...string) map[string]any {
		if len(ids) == 0 {
			ids = []string{"alice@contoso.com"}
		}
		m := map[string]any{"action": action, "identities": ids, "reason": "r"}
		if params != nil {
			m["parameters"] = params
		}
		return m
	}
	const rra, rgm = "remove_role_assignments", "remove_group_memberships"
	many := make([]string, 101)
	for i := range many {
		many[i] = "ra-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i)
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		want   string // in the message
	}{
		{"roles without parameters", body(rra, nil), 400, remediation.EINVALID, "exactly one of role_assignment_ids, role_definition_ids or all"},
		{"roles with empty parameters", body(rra, map[string]any{}), 400, remediation.EINVALID, "needs parameters"},
		{"roles with two selectors", body(rra, map[string]any{"all": true, "role_definition_ids": []string{groupG1}}), 400, remediation.EINVALID, "exactly one"},
		{"roles all false", body(rra, map[string]any{"all": false}), 400, remediation.EINVALID, "must be true"},
		{"roles all not a boolean", body(rra, map[string]any{"all": "yes"}), 400, remediation.EINVALID, "must be true"},
		{"roles all null", body(rra, map[string]any{"all": nil}), 400, remediation.EINVALID, "must be true"},
		{"role assignment ids empty", body(rra, map[string]any{"role_assignment_ids": []string{}}), 400, remediation.EINVALID, "must not be empty"},
		{"role assignment id empty", body(rra, map[string]any{"role_assignment_ids": []string{"a", ""}}), 400, remediation.EINVALID, "entry 1"},
		{"role assignment id too long", body(rra, map[string]any{"role_assignment_ids": []string{strings.Repeat("a", 201)}}), 400, remediation.EINVALID, "longer than 200"},
		{"role assignment id with a slash", body(rra, map[string]any{"role_assignment_ids": []string{"a/../b"}}), 400, remediation.EINVALID, "not a role assignment id"},
		{"role assignment id null", body(rra, map[string]any{"role_assignment_ids": []any{nil}}), 400, remediation.EINVALID, "null"},
		{"role assignment ids not a list", body(rra, map[string]any{"role_assignment_ids": "abc"}), 400, remediation.EINVALID, "array of strings"},
		{"too many role assignment ids", body(rra, map[string]any{"role_assignment_ids": many}), 400, remediation.EINVALID, "at most 100"},
		{"role definition id not a GUID", body(rra, map[string]any{"role_definition_ids": []string{"Global Administrator"}}), 400, remediation.EINVALID, "not a GUID"},
		{"roles unknown parameter", body(rra, map[string]any{"roles": []string{groupG1}}), 400, remediation.EINVALID, "Unknown parameter"},
		{"groups without parameters", body(rgm, nil), 400, remediation.EINVALID, "exactly one of group_ids or all"},
		{"groups with both", body(rgm, map[string]any{"all": true, "group_ids": []string{groupG1}}), 400, remediation.EINVALID, "exactly one"},
		{"group id not a GUID", body(rgm, map[string]any{"group_ids": []string{groupG1, "sales"}}), 400, remediation.EINVALID, "entry 1"},
		{"group ids empty", body(rgm, map[string]any{"group_ids": []string{}}), 400, remediation.EINVALID, "must not be empty"},
		{"group ids null", body(rgm, map[string]any{"group_ids": nil}), 400, remediation.EINVALID, "array of strings"},
		{"parameters for disable_user", body("disable_user", map[string]any{"all": true}), 400, remediation.EINVALID, "takes no parameters"},
		{"parameters for revoke_sessions", body("revoke_sessions", map[string]any{"x": 1}), 400, remediation.EINVALID, "takes no parameters"},
		{"parameters for enforce_mfa", body("enforce_mfa", map[string]any{"group_ids": []string{groupG1}}), 400, remediation.EINVALID, "takes no parameters"},
		{"parameters for phishing-resistant MFA", body("enforce_phishing_resistant_mfa", map[string]any{"all": true}), 400, remediation.EINVALID, "takes no parameters"},
		// Well-formed, but one identity at a time: 422.
		{"roles for two identities", body(rra, map[string]any{"all": true}, "a@contoso.com", "b@contoso.com"), 422, remediation.EUNPROCESSABLE, "one identity at a time; got 2"},
		{"groups for three identities", body(rgm, map[string]any{"group_ids": []string{groupG1}}, "a@contoso.com", "b@contoso.com", "c@contoso.com"), 422, remediation.EUNPROCESSABLE, "one identity at a time; got 3"},
		// Malformed parameters win over the bulk rule.
		{"bad parameters for two identities", body(rgm, nil, "a@contoso.com", "b@contoso.com"), 400, remediation.EINVALID, "needs parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantError(t, e.post(remPath, tc.body, nil), tc.status, tc.code)
			if !strings.Contains(ae.Error.Message, tc.want) {
				t.Errorf("message %q does not contain %q", ae.Error.Message, tc.want)
			}
			e.unchanged(0, 0)
		})
	}
}

func TestRemediationParamsNormalized(t *testing.T) {
	e := newEnv(t, allActions)
	e.addTenant(tenantA)
	for _, tc := range []struct {
		action string
		params any
		want   string
	}{
		{"remove_group_memberships", map[string]any{"group_ids": []string{strings.ToUpper(groupG1), groupG2, groupG1}},
			`{"group_ids":["` + groupG1 + `","` + groupG2 + `"]}`},
		{"remove_group_memberships", map[string]any{"all": true}, `{"all":true}`},
		{"remove_role_assignments", map[string]any{"role_assignment_ids": []string{"lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1-e", "Ab", "Ab", "ab"}},
			`{"role_assignment_ids":["lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1-e","Ab","ab"]}`},
		{"remove_role_assignments", map[string]any{"role_definition_ids": []string{strings.ToUpper(remediation.RoleGlobalAdministrator)}},
			`{"role_definition_ids":["` + remediation.RoleGlobalAdministrator + `"]}`},
		{"remove_role_assignments", map[string]any{"all": true}, `{"all":true}`},
		{"disable_user", map[string]any{}, `null`},
	} {
		t.Run(tc.action+" "+tc.want, func(t *testing.T) {
			w := e.post(remPath, map[string]any{"action": tc.action, "identities": []string{"alice@contoso.com"},
				"reason": "r", "parameters": tc.params}, nil)
			wantStatus(t, w, http.StatusAccepted)
			j := decode[job](t, w)
			if string(j.Parameters) != tc.want {
				t.Errorf("parameters = %s, want %s", j.Parameters, tc.want)
			}
			stored := e.storedJob(j.ID)
			if got := string(stored.Params); got != tc.want && !(tc.want == "null" && got == "") {
				t.Errorf("stored parameters = %s, want %s", got, tc.want)
			}
		})
	}
}

// An equivalent spelling of the parameters replays the same job; other
// parameters, dry_run or confirm_admin_targets change the request hash.
func TestRemediationHashParamsAndFlags(t *testing.T) {
	e := newEnv(t, allActions)
	e.addTenant(tenantA)
	post := func(key string, mod func(m map[string]any)) *job {
		m := map[string]any{"action": "remove_group_memberships", "identities": []string{"alice@contoso.com"},
			"reason": "r", "parameters": map[string]any{"group_ids": []string{groupG1}}}
		mod(m)
		w := e.post(remPath, m, map[string]string{"Idempotency-Key": key})
		if w.Code == http.StatusConflict {
			wantError(t, w, 409, remediation.ECONFLICT)
			return nil
		}
		if w.Code != http.StatusAccepted && w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		j := decode[job](t, w)
		return &j
	}
	first := post("k", func(map[string]any) {})
	if again := post("k", func(m map[string]any) {
		m["parameters"] = map[string]any{"group_ids": []string{strings.ToUpper(groupG1), groupG1}}
	}); again == nil || again.ID != first.ID {
		t.Errorf("equivalent parameters did not replay: %+v", again)
	}
	for name, mod := range map[string]func(m map[string]any){
		"other group":           func(m map[string]any) { m["parameters"] = map[string]any{"group_ids": []string{groupG2}} },
		"all":                   func(m map[string]any) { m["parameters"] = map[string]any{"all": true} },
		"dry run":               func(m map[string]any) { m["dry_run"] = true },
		"confirm admin targets": func(m map[string]any) { m["confirm_admin_targets"] = true },
	} {
		if j := post("k", mod); j != nil {
			t.Errorf("%s: replayed %s instead of 409", name, j.ID)
		}
	}
	e.unchanged(1, 1)

	// The flags are stored and shown.
	j := post("k2", func(m map[string]any) { m["confirm_admin_targets"] = true })
	if !j.ConfirmAdmin || j.DryRun || j.UndoOf != nil || j.RetryOf != nil {
		t.Errorf("job = %+v", j)
	}
	st := e.storedJob(j.ID)
	if !st.ConfirmAdminTargets || st.RequestHash == e.storedJob(first.ID).RequestHash {
		t.Errorf("stored job: confirm %v, hash %s", st.ConfirmAdminTargets, st.RequestHash)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.get("/v1/remediations/"+j.ID).Body.String()), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"dry_run", "confirm_admin_targets", "undo_of", "retry_of", "parameters"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("job JSON without %s", k)
		}
	}
	if string(raw["undo_of"]) != "null" || string(raw["retry_of"]) != "null" {
		t.Errorf("undo_of %s, retry_of %s; want null", raw["undo_of"], raw["retry_of"])
	}
}

// The hash of a plain remediation request is the one stored before undo,
// retry and confirm_admin_targets existed, so that replays of keys used
// before an upgrade still match.
func TestRequestHashStable(t *testing.T) {
	got, err := hashRequest(requestFingerprint{Action: "disable_user", Identities: []string{"a@contoso.com"}, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(`{"action":"disable_user","identities":["a@contoso.com"],"reason":"r","context":null,"parameters":null,"dry_run":false}`))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
	withFlag, _ := hashRequest(requestFingerprint{Action: "disable_user", Identities: []string{"a@contoso.com"}, Reason: "r", ConfirmAdminTargets: true})
	undo, _ := hashRequest(requestFingerprint{Op: "undo", Of: "j1", Action: "disable_user", Reason: "r"})
	retry, _ := hashRequest(requestFingerprint{Op: "retry", Of: "j1", Action: "disable_user", Reason: "r"})
	if withFlag == got || undo == retry || undo == got {
		t.Errorf("hashes collide: %s %s %s %s", got, withFlag, undo, retry)
	}
}
