package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Built-in authentication strength ids.
const (
	AuthStrengthMFA               = "00000000-0000-0000-0000-000000000002" // Multifactor authentication
	AuthStrengthPasswordless      = "00000000-0000-0000-0000-000000000003" // Passwordless MFA
	AuthStrengthPhishingResistant = "00000000-0000-0000-0000-000000000004" // Phishing-resistant MFA
)

// authStrength is a built-in authenticationStrengthPolicy.
type authStrength struct {
	ID                    string   `json:"id"`
	CreatedDateTime       string   `json:"createdDateTime"`
	ModifiedDateTime      string   `json:"modifiedDateTime"`
	DisplayName           string   `json:"displayName"`
	Description           string   `json:"description"`
	PolicyType            string   `json:"policyType"`
	RequirementsSatisfied string   `json:"requirementsSatisfied"`
	AllowedCombinations   []string `json:"allowedCombinations"`
}

var authStrengths = []*authStrength{
	{AuthStrengthMFA, "2021-12-01T00:00:00Z", "2021-12-01T00:00:00Z", "Multifactor authentication",
		"Combinations of methods that satisfy strong authentication, such as a password + SMS", "builtIn", "mfa",
		[]string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush",
			"temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "password,microsoftAuthenticatorPush",
			"password,softwareOath", "password,hardwareOath", "password,sms", "password,voice", "federatedMultiFactor",
			"microsoftAuthenticatorPush,federatedSingleFactor", "softwareOath,federatedSingleFactor",
			"hardwareOath,federatedSingleFactor", "sms,federatedSingleFactor", "voice,federatedSingleFactor"}},
	{AuthStrengthPasswordless, "2021-12-01T00:00:00Z", "2021-12-01T00:00:00Z", "Passwordless MFA",
		"Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
		"builtIn", "mfa", []string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush"}},
	{AuthStrengthPhishingResistant, "2021-12-01T00:00:00Z", "2021-12-01T00:00:00Z", "Phishing-resistant MFA",
		"Phishing-resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
		"builtIn", "mfa", []string{"windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"}},
}

func findAuthStrength(id string) *authStrength {
	for _, s := range authStrengths {
		if strings.EqualFold(s.ID, id) {
			return s
		}
	}
	return nil
}

// authStrengthJSON renders a strength with its combinationConfigurations.
func authStrengthJSON(s *authStrength) []byte {
	b, _ := json.Marshal(s)
	return append(b[:len(b)-1], `,"combinationConfigurations":[]}`...)
}

const securityDefaultsID = "00000000-0000-0000-0000-000000000005"

// SetSecurityDefaults turns the tenant's Security Defaults on or off.
func (t *Tenant) SetSecurityDefaults(enabled bool) {
	t.mu.Lock()
	t.securityDefaults = enabled
	t.mu.Unlock()
}

func (s *Server) registerAuthStrengthRoutes(rt *router[graphHandler]) {
	s.handleList(rt, "/policies/authenticationStrengthPolicies", listAuthStrengths)
	rt.handle(http.MethodGet, "/policies/authenticationStrengthPolicies/{sid}", getAuthStrength)
	rt.handle(http.MethodGet, "/policies/identitySecurityDefaultsEnforcementPolicy", getSecurityDefaults)
}

// listAuthStrengths serves GET /policies/authenticationStrengthPolicies.
func listAuthStrengths(c *call) *apiError {
	items := make([][]byte, 0, len(authStrengths))
	for _, s := range authStrengths {
		items = append(items, authStrengthJSON(s))
	}
	c.writeCollection("policies/authenticationStrengthPolicies", "", items)
	return nil
}

// getAuthStrength serves GET /policies/authenticationStrengthPolicies/{sid}.
func getAuthStrength(c *call) *apiError {
	s := findAuthStrength(c.params["sid"])
	if s == nil {
		return &apiError{http.StatusNotFound, "NotFound", "The authentication strength policy '" + c.params["sid"] + "' was not found."}
	}
	c.writeJSON(http.StatusOK, withContext(authStrengthJSON(s), "policies/authenticationStrengthPolicies/$entity"))
	return nil
}

// getSecurityDefaults serves GET /policies/identitySecurityDefaultsEnforcementPolicy.
func getSecurityDefaults(c *call) *apiError {
	c.tenant.mu.Lock()
	on := c.tenant.securityDefaults
	c.tenant.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":"` + graphMetadata + `#policies/identitySecurityDefaultsEnforcementPolicy/$entity",`)
	buf.WriteString(`"id":"` + securityDefaultsID + `","displayName":"Security Defaults",`)
	buf.WriteString(`"description":"Security defaults is a set of basic identity security mechanisms recommended by Microsoft. ` +
		`When enabled, these recommendations will be automatically enforced in your organization. Administrators and users ` +
		`will be better protected from common identity related attacks.","isEnabled":`)
	writeJSONValue(&buf, on)
	buf.WriteByte('}')
	c.writeJSON(http.StatusOK, buf.Bytes())
	return nil
}
