package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// userProp describes one property of microsoft.graph.user.
type userProp struct {
	name string
	// def: returned by GET without $select.
	def bool
	get func(u *user) any
	// parse validates a PATCH value; nil means read-only.
	parse func(name string, raw json.RawMessage) (any, *apiError)
	apply func(u *user, v any)
	// mastered: owned by on-premises AD for synced users.
	mastered bool
	// sensitive: changing it on a privileged admin needs a privileged app.
	sensitive bool
}

// userProps in the order Graph returns the default properties.
var userProps = []*userProp{
	{name: "businessPhones", def: true, mastered: true, sensitive: true,
		get: func(u *user) any { return u.businessPhones }, parse: parseStrings,
		apply: func(u *user, v any) { u.businessPhones = v.([]string) }},
	{name: "displayName", def: true, mastered: true,
		get: func(u *user) any { return nullable(u.displayName) }, parse: parseString,
		apply: func(u *user, v any) { u.displayName = v.(string) }},
	{name: "givenName", def: true, mastered: true,
		get: func(u *user) any { return nullable(u.givenName) }, parse: parseString,
		apply: func(u *user, v any) { u.givenName = v.(string) }},
	{name: "jobTitle", def: true, mastered: true,
		get: func(u *user) any { return nullable(u.jobTitle) }, parse: parseString,
		apply: func(u *user, v any) { u.jobTitle = v.(string) }},
	{name: "mail", def: true, mastered: true, sensitive: true,
		get: func(u *user) any { return nullable(u.mail) }, parse: parseString,
		apply: func(u *user, v any) { u.mail = v.(string) }},
	{name: "mobilePhone", def: true, mastered: true, sensitive: true,
		get: func(u *user) any { return nullable(u.mobilePhone) }, parse: parseString,
		apply: func(u *user, v any) { u.mobilePhone = v.(string) }},
	{name: "officeLocation", def: true, mastered: true,
		get: func(u *user) any { return nullable(u.officeLocation) }, parse: parseString,
		apply: func(u *user, v any) { u.officeLocation = v.(string) }},
	{name: "preferredLanguage", def: true,
		get: func(u *user) any { return nullable(u.preferredLanguage) }, parse: parseString,
		apply: func(u *user, v any) { u.preferredLanguage = v.(string) }},
	{name: "surname", def: true, mastered: true,
		get: func(u *user) any { return nullable(u.surname) }, parse: parseString,
		apply: func(u *user, v any) { u.surname = v.(string) }},
	{name: "userPrincipalName", def: true, mastered: true, sensitive: true,
		get: func(u *user) any { return u.upn }, parse: parseUPN,
		apply: func(u *user, v any) { u.upn = v.(string) }},
	{name: "id", def: true,
		get: func(u *user) any { return u.id }},
	{name: "accountEnabled", mastered: true, sensitive: true,
		get: func(u *user) any { return u.accountEnabled }, parse: parseBool,
		apply: func(u *user, v any) { u.accountEnabled = v.(bool) }},
	{name: "userType",
		get: func(u *user) any { return u.userType }, parse: parseUserType,
		apply: func(u *user, v any) { u.userType = v.(string) }},
	{name: "onPremisesSyncEnabled",
		get: func(u *user) any {
			if u.onPremSync {
				return true
			}
			return nil // cloud-only users have null, not false
		}},
	{name: "department", mastered: true,
		get: func(u *user) any { return nullable(u.department) }, parse: parseString,
		apply: func(u *user, v any) { u.department = v.(string) }},
	{name: "usageLocation",
		get: func(u *user) any { return nullable(u.usageLoc) }, parse: parseString,
		apply: func(u *user, v any) { u.usageLoc = v.(string) }},
	{name: "otherMails", sensitive: true,
		get: func(u *user) any { return u.otherMails }, parse: parseStrings,
		apply: func(u *user, v any) { u.otherMails = v.([]string) }},
	{name: "createdDateTime",
		get: func(u *user) any { return u.created.Format(time.RFC3339) }},
	{name: "signInSessionsValidFromDateTime",
		get: func(u *user) any { return u.sessionsValidFrom.Format(time.RFC3339) }},
}

// userPropsByName indexes userProps by exact name; userPropsFold by
// lower-case name ($select is case-insensitive, JSON bodies are not).
var userPropsByName, userPropsFold = func() (map[string]*userProp, map[string]*userProp) {
	a, b := make(map[string]*userProp), make(map[string]*userProp)
	for _, p := range userProps {
		a[p.name] = p
		b[strings.ToLower(p.name)] = p
	}
	return a, b
}()

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func convertErr(raw json.RawMessage, edm string) *apiError {
	lit := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	return &apiError{http.StatusBadRequest, codeBadRequest,
		"Cannot convert the literal '" + lit + "' to the expected type '" + edm + "'."}
}

func parseString(_ string, raw json.RawMessage) (any, *apiError) {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, convertErr(raw, "Edm.String")
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

func parseStrings(_ string, raw json.RawMessage) (any, *apiError) {
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, convertErr(raw, "Collection(Edm.String)")
	}
	if ss == nil {
		ss = []string{}
	}
	return ss, nil
}

func parseBool(_ string, raw json.RawMessage) (any, *apiError) {
	var b *bool
	if err := json.Unmarshal(raw, &b); err != nil || b == nil {
		return nil, convertErr(raw, "Edm.Boolean")
	}
	return *b, nil
}

func parseUserType(name string, raw json.RawMessage) (any, *apiError) {
	v, e := parseString(name, raw)
	if e != nil {
		return nil, e
	}
	if s := v.(string); s != "Member" && s != "Guest" {
		return nil, &apiError{http.StatusBadRequest, codeRequestBadRequest,
			"Invalid value specified for property 'userType' of resource 'User'."}
	}
	return v, nil
}

func parseUPN(name string, raw json.RawMessage) (any, *apiError) {
	v, e := parseString(name, raw)
	if e != nil {
		return nil, e
	}
	s := v.(string)
	if at := strings.IndexByte(s, '@'); at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t") {
		return nil, &apiError{http.StatusBadRequest, codeRequestBadRequest,
			"Invalid value specified for property 'userPrincipalName' of resource 'User'."}
	}
	return s, nil
}
