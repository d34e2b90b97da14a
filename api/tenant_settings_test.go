package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

const (
	breakGlass1 = "bbbbbbbb-0000-0000-0000-000000000001"
	breakGlass2 = "bbbbbbbb-0000-0000-0000-000000000002"
)

// tenantJSON is a tenant as a client reads it.
type tenantJSON struct {
	TenantID                     string   `json:"tenant_id"`
	DisplayName                  string   `json:"display_name"`
	ProtectedIdentities          []string `json:"protected_identities"`
	MFAPolicyState               string   `json:"mfa_policy_state"`
	MFATargeting                 string   `json:"mfa_targeting"`
	MFAPolicyID                  *string  `json:"mfa_policy_id"`
	PhishingResistantMFAPolicyID *string  `json:"phishing_resistant_mfa_policy_id"`
	MFAGroupID                   *string  `json:"mfa_group_id"`
	PhishingResistantMFAGroupID  *string  `json:"phishing_resistant_mfa_group_id"`
	Settings                     struct {
		ProtectedIdentities []string `json:"protected_identities"`
		MFAPolicyState      string   `json:"mfa_policy_state"`
		MFATargeting        string   `json:"mfa_targeting"`
	} `json:"settings"`
	UpdatedAt string `json:"updated_at"`
}

func (e *env) patchTenant(id string, body any) tenantJSON {
	e.t.Helper()
	w := e.do(req{Method: http.MethodPatch, Path: "/v1/tenants/" + id, Body: body})
	wantStatus(e.t, w, http.StatusOK)
	return decode[tenantJSON](e.t, w)
}

func TestTenantSettingsRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.addTenant(tenantB)

	// Defaults, and no managed policy yet.
	got := decode[tenantJSON](t, e.get("/v1/tenants/"+tenantA))
	if len(got.ProtectedIdentities) != 0 || got.ProtectedIdentities == nil || got.MFAPolicyState != "enabled" || got.MFATargeting != "users" ||
		got.MFAPolicyID != nil || got.PhishingResistantMFAPolicyID != nil || got.MFAGroupID != nil || got.PhishingResistantMFAGroupID != nil {
		t.Errorf("new tenant = %+v", got)
	}
	raw := decode[map[string]any](t, e.get("/v1/tenants/"+tenantA))
	for _, k := range []string{"mfa_policy_id", "phishing_resistant_mfa_policy_id"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}

	// Protected identities: normalized, deduplicated; the rest kept.
	upper := strings.ToUpper(breakGlass1)
	got = e.patchTenant(tenantA, map[string]any{"protected_identities": []string{upper, " " + breakGlass2 + " ", breakGlass1}})
	if strings.Join(got.ProtectedIdentities, ",") != breakGlass1+","+breakGlass2 || got.MFAPolicyState != "enabled" || got.MFATargeting != "users" {
		t.Errorf("after patch 1 = %+v", got)
	}
	if strings.Join(got.Settings.ProtectedIdentities, ",") != breakGlass1+","+breakGlass2 {
		t.Errorf("settings object = %+v", got.Settings)
	}
	// Another field alone keeps the identities.
	got = e.patchTenant(tenantA, map[string]any{"mfa_policy_state": "report_only"})
	if len(got.ProtectedIdentities) != 2 || got.MFAPolicyState != "report_only" || got.MFATargeting != "users" {
		t.Errorf("after patch 2 = %+v", got)
	}
	got = e.patchTenant(tenantA, map[string]any{"mfa_targeting": "group", "mfa_policy_state": "enabled"})
	if len(got.ProtectedIdentities) != 2 || got.MFAPolicyState != "enabled" || got.MFATargeting != "group" {
		t.Errorf("after patch 3 = %+v", got)
	}

	// The store holds what the API showed; the worker reads it there.
	st, err := e.store.GetTenant(context.Background(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Settings.IsProtected(upper) || st.Settings.MFATargeting != remediation.MFATargetGroup || st.Settings.MFAPolicyState != remediation.MFAPolicyEnabled {
		t.Errorf("stored settings = %+v", st.Settings)
	}

	// Managed policies appear once the worker records them.
	if err := e.store.SetPolicyRef(context.Background(), tenantA, remediation.PolicyMFA,
		remediation.PolicyRef{PolicyID: "pol-mfa", GroupID: "grp-mfa"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetPolicyRef(context.Background(), tenantA, remediation.PolicyPhishingResistantMFA,
		remediation.PolicyRef{PolicyID: "pol-phr"}); err != nil {
		t.Fatal(err)
	}
	got = decode[tenantJSON](t, e.get("/v1/tenants/"+tenantA))
	if got.MFAPolicyID == nil || *got.MFAPolicyID != "pol-mfa" || got.MFAGroupID == nil || *got.MFAGroupID != "grp-mfa" ||
		got.PhishingResistantMFAPolicyID == nil || *got.PhishingResistantMFAPolicyID != "pol-phr" || got.PhishingResistantMFAGroupID != nil {
		t.Errorf("tenant with policies = %+v", got)
	}
	// Clearing the list; the policies stay.
	got = e.patchTenant(tenantA, map[string]any{"protected_identities": []string{}})
	if got.ProtectedIdentities == nil || len(got.ProtectedIdentities) != 0 || got.MFAPolicyID == nil || got.MFATargeting != "group" {
		t.Errorf("after clearing = %+v", got)
	}

	// The list shows the same fields; the other tenant is untouched.
	list := decode[struct {
		Tenants []tenantJSON `json:"tenants"`
	}](t, e.get("/v1/tenants"))
	if len(list.Tenants) != 2 || list.Tenants[0].MFAPolicyID == nil || *list.Tenants[0].MFAPolicyID != "pol-mfa" ||
		list.Tenants[1].MFATargeting != "users" || list.Tenants[1].MFAPolicyID != nil {
		t.Errorf("list = %+v", list.Tenants)
	}
	e.assertNoSecret()
}

func TestTenantSettingsInvalid(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	e.patchTenant(tenantA, map[string]any{"protected_identities": []string{breakGlass1}, "mfa_targeting": "group"})
	before := e.get("/v1/tenants/" + tenantA).Body.String()

	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("cccccccc-0000-0000-0000-%012d", i)
		}
		return out
	}
	path := "/v1/tenants/" + tenantA
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
		field  string
	}{
		{"empty object", path, `{}`, 400, remediation.EINVALID, ""},
		{"no body", path, nil, 400, remediation.EINVALID, ""},
		{"malformed JSON", path, `{"mfa_targeting":`, 400, remediation.EINVALID, ""},
		{"unknown field", path, map[string]any{"mfa_targeting": "users", "display_name": "x"}, 400, remediation.EINVALID, ""},
		{"settings object", path, map[string]any{"settings": map[string]any{"mfa_targeting": "users"}}, 400, remediation.EINVALID, ""},
		{"duplicate field", path, `{"mfa_targeting":"users","mfa_targeting":"group"}`, 400, remediation.EINVALID, ""},
		{"upn", path, map[string]any{"protected_identities": []string{"breakglass@contoso.com"}}, 400, remediation.EINVALID, "protected_identities"},
		{"not a list", path, map[string]any{"protected_identities": breakGlass1}, 400, remediation.EINVALID, "protected_identities"},
		{"null list", path, `{"protected_identities":null}`, 400, remediation.EINVALID, "protected_identities"},
		{"null entry", path, `{"protected_identities":[null]}`, 400, remediation.EINVALID, "protected_identities"},
		{"too many", path, map[string]any{"protected_identities": ids(101)}, 400, remediation.EINVALID, "protected_identities"},
		{"bad state", path, map[string]any{"mfa_policy_state": "disabled"}, 400, remediation.EINVALID, "mfa_policy_state"},
		{"state null", path, `{"mfa_policy_state":null}`, 400, remediation.EINVALID, "mfa_policy_state"},
		{"state wrong case", path, map[string]any{"mfa_policy_state": "Enabled"}, 400, remediation.EINVALID, "mfa_policy_state"},
		{"bad targeting", path, map[string]any{"mfa_targeting": "groups"}, 400, remediation.EINVALID, "mfa_targeting"},
		{"targeting not a string", path, map[string]any{"mfa_targeting": 1}, 400, remediation.EINVALID, "mfa_targeting"},
		{"one good one bad", path, map[string]any{"mfa_policy_state": "report_only", "mfa_targeting": "x"}, 400, remediation.EINVALID, "mfa_targeting"},
		{"unknown tenant", "/v1/tenants/" + tenantB, map[string]any{"mfa_targeting": "users"}, 404, remediation.ENOTFOUND, ""},
		{"malformed tenant", "/v1/tenants/contoso", map[string]any{"mfa_targeting": "users"}, 400, remediation.EINVALID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(req{Method: http.MethodPatch, Path: tc.path, Body: tc.body})
			wantError(t, w, tc.status, tc.code)
			if tc.field != "" && !strings.Contains(w.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("details do not name %s: %s", tc.field, w.Body.String())
			}
			if after := e.get("/v1/tenants/" + tenantA).Body.String(); after != before {
				t.Errorf("tenant changed by a refused request:\n%s\n%s", before, after)
			}
			if ts, _ := e.store.ListTenants(context.Background()); len(ts) != 1 {
				t.Errorf("%d tenants", len(ts))
			}
		})
	}
	// Exactly 100 distinct identities (plus duplicates) is accepted.
	got := e.patchTenant(tenantA, map[string]any{"protected_identities": append(ids(100), ids(5)...)})
	if len(got.ProtectedIdentities) != 100 {
		t.Errorf("%d protected identities", len(got.ProtectedIdentities))
	}
}
