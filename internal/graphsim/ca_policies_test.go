package graphsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

const caPath = "/v1.0/identity/conditionalAccess/policies"

func mfaPolicy(name string, include, exclude []string) string {
	q := func(ids []string) string {
		if len(ids) == 0 {
			return "[]"
		}
		return `["` + strings.Join(ids, `","`) + `"]`
	}
	return `{"displayName":"` + name + `","state":"enabled","conditions":{"clientAppTypes":["all"],` +
		`"applications":{"includeApplications":["All"]},"users":{"includeUsers":` + q(include) + `,"excludeUsers":` + q(exclude) + `}},` +
		`"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`
}

func TestCAPolicyLifecycle(t *testing.T) {
	b := setup(t, noCALimit)
	r := b.do(t, http.MethodPost, caPath, b.tokA, gz(t, mfaPolicy("Remediation MFA", []string{userAlice}, []string{userGA})),
		"Content-Encoding: gzip")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	if !isGUID(id) || m["templateId"] != nil || m["modifiedDateTime"] != nil || m["createdDateTime"] == nil ||
		m["@odata.context"] != graphMetadata+"#identity/conditionalAccess/policies/$entity" || m["sessionControls"] != nil {
		t.Fatalf("create answer %s", r.body)
	}
	users := m["conditions"].(map[string]any)["users"].(map[string]any)
	if !slices.Equal(strs(users["includeUsers"]), []string{userAlice}) || !slices.Equal(strs(users["excludeUsers"]), []string{userGA}) ||
		users["includeGroups"] == nil || len(strs(users["includeRoles"])) != 0 {
		t.Errorf("users %v", users)
	}
	grant := m["grantControls"].(map[string]any)
	if _, ok := grant["authenticationStrength"]; !ok || grant["authenticationStrength"] != nil {
		t.Errorf("grantControls %v", grant)
	}

	// GET and list.
	r = b.do(t, http.MethodGet, caPath+"/"+id, b.tokA, nil)
	if r.status != 200 || r.json(t)["displayName"] != "Remediation MFA" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	if v := b.do(t, http.MethodGet, caPath, b.tokA, nil).values(t); len(v) != 1 || v[0]["id"] != id {
		t.Fatalf("list %v", v)
	}

	// PATCH replaces arrays and merges objects: applications survive.
	patch := `{"conditions":{"users":{"includeUsers":["` + userSynced + `","` + userGuest + `"],"excludeUsers":[]}}}`
	if r := b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(patch)); r.status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	st, _ := b.ta.CAPolicy(id)
	if !slices.Equal(st.IncludeUsers, []string{userSynced, userGuest}) || len(st.ExcludeUsers) != 0 || st.Patches != 1 ||
		st.ModifiedAt.IsZero() || !slices.Equal(st.BuiltInControls, []string{"mfa"}) {
		t.Errorf("after patch %+v", st)
	}
	m = b.do(t, http.MethodGet, caPath+"/"+id, b.tokA, nil).json(t)
	apps := m["conditions"].(map[string]any)["applications"].(map[string]any)
	if !slices.Equal(strs(apps["includeApplications"]), []string{"All"}) || m["modifiedDateTime"] == nil {
		t.Errorf("after patch %v", m)
	}
	// Only includeUsers: excludeUsers keeps its value (object merge).
	b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(`{"conditions":{"users":{"excludeUsers":["`+userGA+`"]}}}`))
	b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(`{"conditions":{"users":{"includeUsers":["`+userAlice+`"]}}}`))
	if st, _ := b.ta.CAPolicy(id); !slices.Equal(st.IncludeUsers, []string{userAlice}) || !slices.Equal(st.ExcludeUsers, []string{userGA}) {
		t.Errorf("arrays not replaced: %+v", st)
	}

	if r := b.do(t, http.MethodDelete, caPath+"/"+id, b.tokA, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodGet, caPath+"/"+id, b.tokA, nil).wantError(t, 404, "NotFound", "")
	b.do(t, http.MethodDelete, caPath+"/"+id, b.tokA, nil).wantError(t, 404, "NotFound", "")
	b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(`{"state":"disabled"}`)).wantError(t, 404, "NotFound", "")
	if n := b.ta.CAWrites(); n != 5 {
		t.Errorf("CAWrites = %d, want 5 (create, 3 patches, delete)", n)
	}
	if st := b.ta.Stats(); st.CARequests < 10 || st.CAThrottled != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(b.tb.CAPolicies()) != 0 {
		t.Errorf("tenant B sees policies")
	}
}

func TestCAPolicyValidation(t *testing.T) {
	b := setup(t, noCALimit)
	base := mfaPolicy("p", []string{userAlice}, nil)
	for _, tc := range []struct{ name, body, msg string }{
		{"no applications", strings.Replace(base, `"applications":{"includeApplications":["All"]},`, "", 1), "conditions.applications"},
		{"empty applications", strings.Replace(base, `["All"]`, `[]`, 1), "conditions.applications"},
		{"no users", strings.Replace(base, `,"users":{"includeUsers":["`+userAlice+`"],"excludeUsers":[]}`, "", 1), "conditions.users"},
		{"no controls", strings.Replace(base, `,"grantControls":{"operator":"OR","builtInControls":["mfa"]}`, "", 1), "grant controls"},
		{"bad state", strings.Replace(base, `"enabled"`, `"on"`, 1), "conditionalAccessPolicyState"},
		{"mfa and strength", strings.Replace(base, `"builtInControls":["mfa"]`,
			`"builtInControls":["mfa"],"authenticationStrength":{"id":"`+AuthStrengthPhishingResistant+`"}`, 1), "authentication strength"},
		{"unknown strength", strings.Replace(base, `"builtInControls":["mfa"]`, `"authenticationStrength":{"id":"`+uuid.NewString()+`"}`, 1), "does not exist"},
		{"bad control", strings.Replace(base, `["mfa"]`, `["sms"]`, 1), "conditionalAccessGrantControl"},
		{"bad operator", strings.Replace(base, `"OR"`, `"XOR"`, 1), "operator"},
		{"unknown property", strings.Replace(base, `"state"`, `"shoeSize":44,"state"`, 1), "'shoeSize' does not exist"},
		{"unknown users property", strings.Replace(base, `"excludeUsers"`, `"excludeUser"`, 1), "'excludeUser' does not exist"},
		{"bad user id", strings.Replace(base, userAlice, "alice@contoso.com", 1), "Invalid user id"},
		{"read-only templateId", strings.Replace(base, `"state"`, `"templateId":"x","state"`, 1), "TemplateId is a read-only field."},
		{"not an object", `[]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(tc.body))
			if code, msg := r.graphError(t); r.status != 400 || code != "BadRequest" || !strings.Contains(msg, tc.msg) {
				t.Errorf("%d %s %q, want 400 BadRequest containing %q", r.status, code, msg, tc.msg)
			}
		})
	}
	if n := len(b.ta.CAPolicies()); n != 0 {
		t.Fatalf("%d policies created by invalid requests", n)
	}

	// PATCH refuses read-only fields (even unchanged) and invalid results.
	r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(base))
	id := r.json(t)["id"].(string)
	for _, tc := range []struct{ body, msg string }{
		{`{"templateId":null}`, "TemplateId is a read-only field."},
		{`{"id":"` + id + `","state":"disabled"}`, "Id is a read-only field."},
		{`{"createdDateTime":"2024-01-01T00:00:00Z"}`, "CreatedDateTime is a read-only field."},
		{`{"modifiedDateTime":null}`, "ModifiedDateTime is a read-only field."},
		{`{"conditions":{"users":{"includeUsers":[]}}}`, ""},
		{`{"grantControls":{"authenticationStrength":{"id":"` + AuthStrengthMFA + `"}}}`, ""},
		{`{"conditions":{"users":{"includeUser":[]}}}`, ""},
	} {
		r := b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(tc.body))
		r.wantError(t, 400, "BadRequest", tc.msg)
	}
	if st, _ := b.ta.CAPolicy(id); st.Patches != 0 || st.State != "enabled" || !slices.Equal(st.IncludeUsers, []string{userAlice}) {
		t.Errorf("rejected PATCH changed the policy: %+v", st)
	}
	// Switching from mfa to a strength in one PATCH works (arrays replaced).
	r = b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(`{"grantControls":{"builtInControls":[],"authenticationStrength":{"id":"`+
		AuthStrengthPhishingResistant+`"}}}`))
	if st, _ := b.ta.CAPolicy(id); r.status != 204 || st.AuthenticationStrengthID != AuthStrengthPhishingResistant || len(st.BuiltInControls) != 0 {
		t.Errorf("patch to strength: %d %s %+v", r.status, r.body, st)
	}
}

func TestCAPolicyAuthenticationStrengthExpanded(t *testing.T) {
	b := setup(t, noCALimit)
	body := strings.Replace(mfaPolicy("Phishing-resistant admins", []string{userGA}, nil), `"builtInControls":["mfa"]`,
		`"authenticationStrength":{"id":"`+AuthStrengthPhishingResistant+`"}`, 1)
	r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(body))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	grant := b.do(t, http.MethodGet, caPath+"/"+id, b.tokA, nil).json(t)["grantControls"].(map[string]any)
	s, _ := grant["authenticationStrength"].(map[string]any)
	if s == nil || s["id"] != AuthStrengthPhishingResistant || s["displayName"] != "Phishing-resistant MFA" ||
		!slices.Contains(strs(s["allowedCombinations"]), "fido2") || len(strs(grant["builtInControls"])) != 0 {
		t.Errorf("grantControls %v", grant)
	}
	// A read-modify-write that sends the expanded object back is accepted.
	patch := `{"grantControls":{"operator":"OR","builtInControls":[],"authenticationStrength@odata.context":"x","authenticationStrength":` +
		string(authStrengthJSON(findAuthStrength(AuthStrengthPhishingResistant))) + `}}`
	if r := b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(patch)); r.status != 204 {
		t.Errorf("patch with expanded strength: %d %s", r.status, r.body)
	}
}

func TestCAPolicyCountLimit(t *testing.T) {
	b := setup(t, noCALimit)
	for i := range MaxCAPolicies {
		state := []string{"enabled", "disabled", "enabledForReportingButNotEnforced"}[i%3]
		if _, err := b.ta.AddCAPolicy(CAPolicySpec{DisplayName: fmt.Sprint("p", i), State: state, IncludeUsers: []string{"All"}}); err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
	}
	r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("one too many", []string{userAlice}, nil)))
	r.wantError(t, 400, "BadRequest", "")
	if _, err := b.ta.AddCAPolicy(CAPolicySpec{DisplayName: "x", IncludeUsers: []string{"All"}}); err == nil {
		t.Errorf("AddCAPolicy beyond the limit succeeded")
	}
	if v := b.do(t, http.MethodGet, caPath, b.tokA, nil).values(t); len(v) != MaxCAPolicies {
		t.Errorf("list has %d policies", len(v))
	}
}

func guids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

func TestCAPolicySizeLimit(t *testing.T) {
	b := setup(t, noCALimit)
	r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("big", guids(1450), nil)))
	if r.status != 201 {
		t.Fatalf("1,450 users: %d %s", r.status, r.body[:min(len(r.body), 300)])
	}
	id := r.json(t)["id"].(string)
	b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("too big", guids(1600), nil))).wantError(t, 400, "BadRequest", "")
	// A PATCH that grows the policy past the limit is refused and changes nothing.
	grown := `{"conditions":{"users":{"includeUsers":["` + strings.Join(guids(1600), `","`) + `"]}}}`
	b.do(t, http.MethodPatch, caPath+"/"+id, b.tokA, []byte(grown)).wantError(t, 400, "BadRequest", "")
	if st, _ := b.ta.CAPolicy(id); len(st.IncludeUsers) != 1450 || st.SizeBytes > DefaultCAPolicyMaxBytes {
		t.Errorf("after refused PATCH: %d users, %d bytes", len(st.IncludeUsers), st.SizeBytes)
	}

	// A tenant-specific, smaller limit.
	small := b.srv.AddTenant(TenantSpec{ID: uuid.NewString(), CAPolicyMaxBytes: 2000})
	tok, err := b.srv.IssueToken(small.ID(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.do(t, http.MethodPost, caPath, tok, []byte(mfaPolicy("ok", guids(10), nil))); r.status != 201 {
		t.Errorf("10 users under a 2000-byte limit: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodPost, caPath, tok, []byte(mfaPolicy("ko", guids(60), nil))).wantError(t, 400, "BadRequest", "")
}

func TestCASecurityDefaults(t *testing.T) {
	b := setup(t, noCALimit)
	get := func() any {
		r := b.do(t, http.MethodGet, "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", b.tokA, nil)
		if r.status != 200 {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		return r.json(t)["isEnabled"]
	}
	if get() != false {
		t.Errorf("default isEnabled not false")
	}
	b.ta.SetSecurityDefaults(true)
	if get() != true {
		t.Errorf("isEnabled not true")
	}
	b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("p", []string{userAlice}, nil))).wantError(t, 400, "BadRequest", "")
	b.ta.SetSecurityDefaults(false)
	if r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("p", []string{userAlice}, nil))); r.status != 201 {
		t.Errorf("after disabling: %d %s", r.status, r.body)
	}
}

func TestCAThrottle(t *testing.T) {
	b := setup(t, func(o *Options) { o.TimeScale = 10 })
	fc := useFakeClock(b)
	if r := b.do(t, http.MethodGet, caPath, b.tokA, nil); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	for _, step := range []int{0, 50} { // ms; the limit is 1 per 100 ms at TimeScale 10
		fc.Advance(msec(step))
		r := b.do(t, http.MethodPost, caPath, b.tokA, []byte(mfaPolicy("p", []string{userAlice}, nil)))
		r.wantError(t, 429, "TooManyRequests", "")
		if _, ok := r.header["Retry-After"]; ok || r.header.Get("x-sim-retry-after-ms") != "" {
			t.Errorf("CA 429 carries a retry hint: %v", r.header)
		}
	}
	fc.Advance(msec(50)) // refused requests do not count: 100 ms after the first
	if r := b.do(t, http.MethodGet, caPath, b.tokA, nil); r.status != 200 {
		t.Errorf("after the interval: %d %s", r.status, r.body)
	}
	// Tenant B has its own budget; other endpoints are not limited.
	if r := b.do(t, http.MethodGet, caPath, b.tokB, nil); r.status != 200 {
		t.Errorf("tenant B: %d", r.status)
	}
	if r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil); r.status != 200 {
		t.Errorf("users: %d", r.status)
	}
	if st := b.ta.Stats(); st.CAThrottled != 2 || st.Throttled != 2 || st.CARequests != 2 || len(b.ta.CAPolicies()) != 0 {
		t.Errorf("stats %+v", st)
	}
}
