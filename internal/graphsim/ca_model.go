package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	// DefaultCAPolicyMaxBytes is the default size limit of one Conditional
	// Access policy as compact JSON: about 1,500 user GUIDs. Microsoft
	// publishes no number; long GUID lists do hit the limit.
	DefaultCAPolicyMaxBytes = 60 * 1024
	// MaxCAPolicies is Graph's limit of Conditional Access policies per
	// tenant, all states included.
	MaxCAPolicies = 195

	caType      = "microsoft.graph.conditionalAccessPolicy"
	caTimeFmt   = "2006-01-02T15:04:05.0000000Z"
	msgCASchema = "1007: Incoming ConditionalAccessPolicy object is null or does not match the schema of ConditionalAccessPolicy type. " +
		"For examples, please see API documentation at https://learn.microsoft.com/graph/api/conditionalaccessroot-post-policies."
)

// caDoc is a Conditional Access policy as Graph renders it (field order is
// the rendering order) and as a request body is decoded.
type caDoc struct {
	ID               string          `json:"id"`
	TemplateID       *string         `json:"templateId"`
	DisplayName      string          `json:"displayName"`
	Description      *string         `json:"description"`
	CreatedDateTime  string          `json:"createdDateTime"`
	ModifiedDateTime *string         `json:"modifiedDateTime"`
	State            string          `json:"state"`
	SessionControls  json.RawMessage `json:"sessionControls"`
	Conditions       *caConditions   `json:"conditions"`
	GrantControls    *caGrant        `json:"grantControls"`
}

type caConditions struct {
	UserRiskLevels             []string        `json:"userRiskLevels"`
	SignInRiskLevels           []string        `json:"signInRiskLevels"`
	ClientAppTypes             []string        `json:"clientAppTypes"`
	ServicePrincipalRiskLevels []string        `json:"servicePrincipalRiskLevels"`
	InsiderRiskLevels          json.RawMessage `json:"insiderRiskLevels"`
	Platforms                  json.RawMessage `json:"platforms"`
	Locations                  json.RawMessage `json:"locations"`
	Devices                    json.RawMessage `json:"devices"`
	ClientApplications         json.RawMessage `json:"clientApplications"`
	AuthenticationFlows        json.RawMessage `json:"authenticationFlows"`
	Applications               *caApplications `json:"applications"`
	Users                      *caUsers        `json:"users"`
}

type caApplications struct {
	IncludeApplications                         []string        `json:"includeApplications"`
	ExcludeApplications                         []string        `json:"excludeApplications"`
	IncludeUserActions                          []string        `json:"includeUserActions"`
	IncludeAuthenticationContextClassReferences []string        `json:"includeAuthenticationContextClassReferences"`
	ApplicationFilter                           json.RawMessage `json:"applicationFilter"`
}

type caUsers struct {
	IncludeUsers                 []string        `json:"includeUsers"`
	ExcludeUsers                 []string        `json:"excludeUsers"`
	IncludeGroups                []string        `json:"includeGroups"`
	ExcludeGroups                []string        `json:"excludeGroups"`
	IncludeRoles                 []string        `json:"includeRoles"`
	ExcludeRoles                 []string        `json:"excludeRoles"`
	IncludeGuestsOrExternalUsers json.RawMessage `json:"includeGuestsOrExternalUsers"`
	ExcludeGuestsOrExternalUsers json.RawMessage `json:"excludeGuestsOrExternalUsers"`
}

type caGrant struct {
	Operator                    string         `json:"operator"`
	BuiltInControls             []string       `json:"builtInControls"`
	CustomAuthenticationFactors []string       `json:"customAuthenticationFactors"`
	TermsOfUse                  []string       `json:"termsOfUse"`
	AuthenticationStrength      *caStrengthRef `json:"authenticationStrength,omitempty"`
}

type caStrengthRef struct {
	ID string `json:"id"`
}

// caPolicy is a stored policy; guarded by its Tenant's mu.
type caPolicy struct {
	doc               caDoc // ID, CreatedDateTime, ModifiedDateTime filled
	created, modified time.Time
	patches           int
}

// Allowed keys per level (instance annotations are always allowed).
var (
	caTopKeys = keySet("id", "templateId", "displayName", "description", "createdDateTime", "modifiedDateTime",
		"state", "sessionControls", "conditions", "grantControls", "deletedDateTime")
	caCondKeys = keySet("userRiskLevels", "signInRiskLevels", "clientAppTypes", "servicePrincipalRiskLevels",
		"insiderRiskLevels", "platforms", "locations", "devices", "clientApplications", "authenticationFlows",
		"applications", "users")
	caAppKeys = keySet("includeApplications", "excludeApplications", "includeUserActions",
		"includeAuthenticationContextClassReferences", "applicationFilter")
	caUserKeys = keySet("includeUsers", "excludeUsers", "includeGroups", "excludeGroups", "includeRoles",
		"excludeRoles", "includeGuestsOrExternalUsers", "excludeGuestsOrExternalUsers")
	caGrantKeys    = keySet("operator", "builtInControls", "customAuthenticationFactors", "termsOfUse", "authenticationStrength")
	caStrengthKeys = keySet("id", "createdDateTime", "modifiedDateTime", "displayName", "description", "policyType",
		"requirementsSatisfied", "allowedCombinations", "combinationConfigurations")
	caReadOnly = []string{"id", "templateId", "createdDateTime", "modifiedDateTime"}

	caStates        = keySet("enabled", "disabled", "enabledForReportingButNotEnforced")
	caBuiltIn       = keySet("block", "mfa", "compliantDevice", "domainJoinedDevice", "approvedApplication", "compliantApplication", "passwordChange", "unknownFutureValue")
	caClientApps    = keySet("all", "browser", "mobileAppsAndDesktopClients", "exchangeActiveSync", "easSupported", "other", "unknownFutureValue")
	caSpecialUsers  = keySet("All", "None", "GuestsOrExternalUsers")
	caSpecialGroups = keySet("All")
)

func keySet(ks ...string) map[string]bool {
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// checkKeys rejects unknown properties of one JSON object level, then
// recurses into the nested objects named in sub.
func checkKeys(raw json.RawMessage, typ string, allowed map[string]bool, sub map[string]func(json.RawMessage) *apiError) *apiError {
	if isNull(raw) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return &apiError{http.StatusBadRequest, codeBadRequest, msgCASchema}
	}
	for k, v := range obj {
		switch {
		case isAnnotation(k):
		case !allowed[k]:
			return unknownProperty(k, typ)
		case sub[k] != nil:
			if e := sub[k](v); e != nil {
				return e
			}
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// checkCAKeys validates the property names of a policy body.
func checkCAKeys(body []byte) *apiError {
	return checkKeys(body, caType, caTopKeys, map[string]func(json.RawMessage) *apiError{
		"conditions": func(r json.RawMessage) *apiError {
			return checkKeys(r, "microsoft.graph.conditionalAccessConditionSet", caCondKeys, map[string]func(json.RawMessage) *apiError{
				"applications": func(r json.RawMessage) *apiError {
					return checkKeys(r, "microsoft.graph.conditionalAccessApplications", caAppKeys, nil)
				},
				"users": func(r json.RawMessage) *apiError {
					return checkKeys(r, "microsoft.graph.conditionalAccessUsers", caUserKeys, nil)
				},
			})
		},
		"grantControls": func(r json.RawMessage) *apiError {
			return checkKeys(r, "microsoft.graph.conditionalAccessGrantControls", caGrantKeys, map[string]func(json.RawMessage) *apiError{
				"authenticationStrength": func(r json.RawMessage) *apiError {
					return checkKeys(r, "microsoft.graph.authenticationStrengthPolicy", caStrengthKeys, nil)
				},
			})
		},
	})
}

func caBad(msg string) *apiError { return &apiError{http.StatusBadRequest, codeBadRequest, msg} }

// parseCADoc decodes and validates a complete policy body (a POST, or the
// merged result of a PATCH) and normalizes it for storage.
func parseCADoc(body []byte) (caDoc, *apiError) {
	var d caDoc
	if e := checkCAKeys(body); e != nil {
		return d, e
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, caBad(msgCASchema)
	}
	switch {
	case strings.TrimSpace(d.DisplayName) == "":
		return d, caBad("1007: The policy displayName is required.")
	case !caStates[d.State]:
		return d, caBad("Cannot convert the literal '" + d.State + "' to the expected type 'microsoft.graph.conditionalAccessPolicyState'.")
	case d.Conditions == nil:
		return d, caBad("1007: The policy must contain conditions.")
	case d.Conditions.Applications == nil || len(d.Conditions.Applications.IncludeApplications)+
		len(d.Conditions.Applications.IncludeUserActions)+
		len(d.Conditions.Applications.IncludeAuthenticationContextClassReferences) == 0 && isNull(d.Conditions.Applications.ApplicationFilter):
		return d, caBad("1007: The policy must contain an application condition (conditions.applications).")
	case d.Conditions.Users == nil || len(d.Conditions.Users.IncludeUsers)+len(d.Conditions.Users.IncludeGroups)+
		len(d.Conditions.Users.IncludeRoles) == 0 && isNull(d.Conditions.Users.IncludeGuestsOrExternalUsers):
		return d, caBad("1007: The policy must contain a user condition (conditions.users).")
	case d.GrantControls == nil && isNull(d.SessionControls):
		return d, caBad("1007: The policy must contain grant controls or session controls.")
	}
	for _, v := range d.Conditions.ClientAppTypes {
		if !caClientApps[v] {
			return d, caBad("Cannot convert the literal '" + v + "' to the expected type 'microsoft.graph.conditionalAccessClientApp'.")
		}
	}
	u := d.Conditions.Users
	for _, list := range [][]string{u.IncludeUsers, u.ExcludeUsers} {
		for _, v := range list {
			if !isGUID(v) && !caSpecialUsers[v] {
				return d, caBad("1011: Invalid user id '" + v + "' in conditions.users.")
			}
		}
	}
	for _, list := range [][]string{u.IncludeGroups, u.ExcludeGroups, u.IncludeRoles, u.ExcludeRoles} {
		for _, v := range list {
			if !isGUID(v) && !caSpecialGroups[v] {
				return d, caBad("1011: Invalid object id '" + v + "' in conditions.users.")
			}
		}
	}
	if g := d.GrantControls; g != nil {
		if e := validateGrant(g); e != nil {
			return d, e
		}
	}
	normalizeCA(&d)
	return d, nil
}

func validateGrant(g *caGrant) *apiError {
	if g.Operator != "AND" && g.Operator != "OR" {
		return caBad("1007: grantControls.operator must be AND or OR.")
	}
	for _, v := range g.BuiltInControls {
		if !caBuiltIn[v] {
			return caBad("Cannot convert the literal '" + v + "' to the expected type 'microsoft.graph.conditionalAccessGrantControl'.")
		}
	}
	if g.AuthenticationStrength != nil {
		if slices.Contains(g.BuiltInControls, "mfa") {
			return caBad("1109: A policy cannot require both multifactor authentication (builtInControls mfa) and an authentication strength.")
		}
		if findAuthStrength(g.AuthenticationStrength.ID) == nil {
			return caBad("1110: The authentication strength policy '" + g.AuthenticationStrength.ID + "' does not exist.")
		}
	}
	if len(g.BuiltInControls)+len(g.CustomAuthenticationFactors)+len(g.TermsOfUse) == 0 && g.AuthenticationStrength == nil {
		return caBad("1007: grantControls must contain at least one control.")
	}
	return nil
}

// normalizeCA fills the empty arrays Graph renders as [].
func normalizeCA(d *caDoc) {
	empty := func(ss ...*[]string) {
		for _, s := range ss {
			if *s == nil {
				*s = []string{}
			}
		}
	}
	c := d.Conditions
	empty(&c.UserRiskLevels, &c.SignInRiskLevels, &c.ClientAppTypes, &c.ServicePrincipalRiskLevels)
	a := c.Applications
	empty(&a.IncludeApplications, &a.ExcludeApplications, &a.IncludeUserActions, &a.IncludeAuthenticationContextClassReferences)
	u := c.Users
	empty(&u.IncludeUsers, &u.ExcludeUsers, &u.IncludeGroups, &u.ExcludeGroups, &u.IncludeRoles, &u.ExcludeRoles)
	if g := d.GrantControls; g != nil {
		empty(&g.BuiltInControls, &g.CustomAuthenticationFactors, &g.TermsOfUse)
		if g.AuthenticationStrength != nil {
			g.AuthenticationStrength = &caStrengthRef{ID: strings.ToLower(g.AuthenticationStrength.ID)}
		}
	}
	for _, r := range []*json.RawMessage{&d.SessionControls, &c.InsiderRiskLevels, &c.Platforms, &c.Locations, &c.Devices,
		&c.ClientApplications, &c.AuthenticationFlows, &a.ApplicationFilter, &u.IncludeGuestsOrExternalUsers,
		&u.ExcludeGuestsOrExternalUsers} {
		if isNull(*r) {
			*r = nil
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, *r) == nil {
				*r = buf.Bytes()
			}
		}
	}
	d.ID, d.TemplateID, d.CreatedDateTime, d.ModifiedDateTime = "", nil, "", nil
}

// render returns the policy as Graph answers it, with the authentication
// strength expanded; context is the "@odata.context" ("" for none).
func (p *caPolicy) render(context string) []byte {
	d := p.doc
	d.ID = p.doc.ID
	d.CreatedDateTime = p.created.Format(caTimeFmt)
	if !p.modified.IsZero() {
		m := p.modified.Format(caTimeFmt)
		d.ModifiedDateTime = &m
	}
	var grant json.RawMessage
	if g := d.GrantControls; g != nil {
		gc := *g
		gc.AuthenticationStrength = nil
		b, _ := json.Marshal(gc)
		b = b[:len(b)-1]
		b = append(b, `,"authenticationStrength@odata.context":`...)
		b = append(b, mustJSON(graphMetadata+"#identity/conditionalAccess/policies('"+p.doc.ID+"')/grantControls/authenticationStrength/$entity")...)
		b = append(b, `,"authenticationStrength":`...)
		if g.AuthenticationStrength != nil {
			b = append(b, authStrengthJSON(findAuthStrength(g.AuthenticationStrength.ID))...)
		} else {
			b = append(b, "null"...)
		}
		grant = append(b, '}')
	}
	d.GrantControls = nil
	b, _ := json.Marshal(d)
	b = bytes.TrimSuffix(b, []byte(`,"grantControls":null}`))
	if grant == nil {
		grant = json.RawMessage("null")
	}
	b = append(append(append(b, `,"grantControls":`...), grant...), '}')
	if context != "" {
		return withContext(b, context)
	}
	return b
}

// size is the stored size of the policy (compact JSON, no expansion).
func (d *caDoc) size() int {
	b, _ := json.Marshal(d)
	return len(b)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// mergePatch applies a JSON merge (objects merged recursively, arrays and
// scalars replaced) of patch onto base.
func mergePatch(base, patch map[string]any) {
	for k, pv := range patch {
		if pm, ok := pv.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				mergePatch(bm, pm)
				continue
			}
		}
		base[k] = pv
	}
}
