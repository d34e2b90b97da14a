package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// createGroup serves POST /groups: cloud security and Microsoft 365 groups.
func createGroup(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	var (
		spec      GroupSpec
		seen      = map[string]bool{}
		memberRef []string
	)
	for k, raw := range obj {
		var err error
		switch k {
		case "displayName":
			err = json.Unmarshal(raw, &spec.DisplayName)
		case "mailNickname":
			err = json.Unmarshal(raw, &spec.MailNickname)
		case "description":
			err = json.Unmarshal(raw, &spec.Description)
		case "mailEnabled":
			err = json.Unmarshal(raw, &spec.MailEnabled)
		case "securityEnabled":
			err = json.Unmarshal(raw, &spec.SecurityEnabled)
		case "groupTypes":
			err = json.Unmarshal(raw, &spec.GroupTypes)
		case "isAssignableToRole":
			err = json.Unmarshal(raw, &spec.IsAssignableToRole)
		case "membershipRule":
			err = json.Unmarshal(raw, &spec.MembershipRule)
		case "membershipRuleProcessingState", "visibility":
		case "members@odata.bind":
			err = json.Unmarshal(raw, &memberRef)
		default:
			if isAnnotation(k) {
				continue
			}
			if groupProps.fold[strings.ToLower(k)] != nil {
				return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Property '" + k + "' is read-only and cannot be set."}
			}
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid property '" + k + "'."}
		}
		if err != nil {
			return &apiError{http.StatusBadRequest, codeBadRequest, "Cannot convert the literal '" +
				strings.Trim(string(raw), `"`) + "' to the expected type for property '" + k + "'."}
		}
		seen[k] = true
	}
	for _, k := range []string{"displayName", "mailEnabled", "mailNickname", "securityEnabled"} {
		if !seen[k] {
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, "A value is required for property '" + k + "' of resource 'Group'."}
		}
	}
	g := &group{groupTypes: spec.GroupTypes}
	switch {
	case strings.TrimSpace(spec.DisplayName) == "":
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid value specified for property 'displayName' of resource 'Group'."}
	case spec.MailNickname == "" || len(spec.MailNickname) > 64 || strings.ContainsAny(spec.MailNickname, "@()\\[]\";:<>, ") ||
		strings.IndexFunc(spec.MailNickname, func(r rune) bool { return r > 0x7e }) >= 0:
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid value specified for property 'mailNickname' of resource 'Group'."}
	case spec.MailEnabled && !g.unified():
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "The service does not currently support writes of mail-enabled groups. " +
			"Please ensure that the mail-enablement property is unset or is set to false."}
	case g.dynamic() && spec.MembershipRule == "":
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid value specified for property 'membershipRule' of resource 'Group'."}
	case spec.IsAssignableToRole && (!spec.SecurityEnabled || g.dynamic()):
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid value specified for property 'isAssignableToRole' of resource 'Group'."}
	}
	t := c.tenant
	ids := make([]string, 0, len(memberRef))
	for _, ref := range memberRef {
		id, ok := parseDirectoryObjectRef(ref, c.r.Host)
		if !ok {
			return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid URL format specified in @odata.bind for members"}
		}
		ids = append(ids, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if spec.IsAssignableToRole && !t.roleMgmt {
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	for _, id := range ids {
		if t.users[id] == nil && t.groups[id] == nil {
			return notFound(id)
		}
	}
	spec.Members = ids
	var buf bytes.Buffer
	props, _, _ := groupProps.parseSelect("")
	groupProps.writeObject(&buf, t.addGroupLocked(spec), props, false)
	c.writeJSON(http.StatusCreated, withContext(buf.Bytes(), "groups/$entity"))
	return nil
}
