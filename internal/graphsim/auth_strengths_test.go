package graphsim

import (
	"net/http"
	"slices"
	"testing"
)

func TestAuthenticationStrengthPolicies(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodGet, "/v1.0/policies/authenticationStrengthPolicies", b.tokA, nil)
	v := r.values(t)
	if r.status != 200 || !slices.Equal(ids(v), []string{AuthStrengthMFA, AuthStrengthPasswordless, AuthStrengthPhishingResistant}) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ id, name, combo string }{
		{AuthStrengthMFA, "Multifactor authentication", "password,sms"},
		{AuthStrengthPasswordless, "Passwordless MFA", "deviceBasedPush"},
		{AuthStrengthPhishingResistant, "Phishing-resistant MFA", "fido2"},
	} {
		m := b.do(t, http.MethodGet, "/v1.0/policies/authenticationStrengthPolicies/"+tc.id, b.tokA, nil).json(t)
		if m["displayName"] != tc.name || m["policyType"] != "builtIn" || m["requirementsSatisfied"] != "mfa" ||
			!slices.Contains(strs(m["allowedCombinations"]), tc.combo) || m["combinationConfigurations"] == nil {
			t.Errorf("%s: %v", tc.id, m)
		}
	}
	if m := b.do(t, http.MethodGet, "/v1.0/policies/authenticationStrengthPolicies/"+AuthStrengthPhishingResistant, b.tokA, nil).json(t); slices.Contains(strs(m["allowedCombinations"]), "deviceBasedPush") {
		t.Errorf("phishing-resistant allows push: %v", m)
	}
	b.do(t, http.MethodGet, "/v1.0/policies/authenticationStrengthPolicies/00000000-0000-0000-0000-000000000009", b.tokA, nil).
		wantError(t, 404, "NotFound", "")
	// Not a Conditional Access endpoint: no 1-per-second limit.
	for range 3 {
		if r := b.do(t, http.MethodGet, "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", b.tokA, nil); r.status != 200 {
			t.Fatalf("security defaults: %d", r.status)
		}
	}
}
