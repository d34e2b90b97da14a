package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

const graphMetadata = "https://graph.microsoft.com/v1.0/$metadata"

func (s *Server) registerUserRoutes(rt *router[graphHandler]) {
	rt.handle(http.MethodGet, "/users/{id}", getUser)
	rt.handle(http.MethodPatch, "/users/{id}", patchUser)
	rt.handle(http.MethodPost, "/users/{id}/revokeSignInSessions", revokeSignInSessions)
}

// getUser serves GET /users/{id | userPrincipalName}[?$select=...].
func getUser(c *call) *apiError {
	props, ctxSel, e := parseUserSelect(c.query.Get("$select"))
	if e != nil {
		return e
	}
	ref := c.params["id"]
	t := c.tenant
	t.mu.Lock()
	u := t.lookupLocked(ref)
	if u == nil {
		t.mu.Unlock()
		return notFound(ref)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, graphMetadata+"#users"+ctxSel+"/$entity")
	for _, p := range props {
		buf.WriteByte(',')
		writeJSONValue(&buf, p.name)
		buf.WriteByte(':')
		writeJSONValue(&buf, p.get(u))
	}
	t.mu.Unlock()
	buf.WriteByte('}')
	c.writeJSON(http.StatusOK, buf.Bytes())
	return nil
}

// parseUserSelect resolves $select to properties and the @odata.context
// projection ("(a,b)"); no $select gives the default properties.
func parseUserSelect(sel string) ([]*userProp, string, *apiError) {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		var def []*userProp
		for _, p := range userProps {
			if p.def {
				def = append(def, p)
			}
		}
		return def, "", nil
	}
	var (
		props []*userProp
		names []string
		seen  = map[*userProp]bool{}
	)
	for _, n := range strings.Split(sel, ",") {
		n = strings.TrimSpace(n)
		if n == "*" {
			for _, p := range userProps {
				if !seen[p] {
					seen[p] = true
					props = append(props, p)
				}
			}
			names = append(names, "*")
			continue
		}
		p := userPropsFold[strings.ToLower(n)]
		if p == nil {
			return nil, "", &apiError{http.StatusBadRequest, codeBadRequest,
				"Could not find a property named '" + n + "' on type 'microsoft.graph.user'."}
		}
		if !seen[p] {
			seen[p] = true
			props = append(props, p)
			names = append(names, p.name)
		}
	}
	return props, "(" + strings.Join(names, ",") + ")", nil
}

func writeJSONValue(buf *bytes.Buffer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	buf.Write(b)
}

// patchUser serves PATCH /users/{id}: 204 on success.
func patchUser(c *call) *apiError {
	changes, e := parseUserPatch(c.body)
	if e != nil {
		return e
	}
	for _, ch := range changes {
		// accountEnabled alone needs User.EnableDisableAccount.All (the
		// route's permissions), anything else User.ReadWrite.All.
		if ch.p.name != "accountEnabled" && !holdsAny(c.claims, permsUserWrite) {
			return forbidden()
		}
	}
	ref := c.params["id"]
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.lookupLocked(ref)
	if u == nil {
		return notFound(ref)
	}
	var mastered, sensitive bool
	for _, ch := range changes {
		mastered = mastered || ch.p.mastered
		sensitive = sensitive || ch.p.sensitive
	}
	if sensitive && !t.privileged && t.holdsPrivilegedRoleLocked(u.id) {
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	if mastered && u.onPremSync {
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgOnPremisesMastered}
	}
	oldUPN := u.upn
	for _, ch := range changes {
		if ch.p.name == "userPrincipalName" {
			if o := t.byUPN[strings.ToLower(ch.v.(string))]; o != nil && o != u {
				return &apiError{http.StatusBadRequest, codeRequestBadRequest,
					"Another object with the same value for property userPrincipalName already exists."}
			}
		}
	}
	for _, ch := range changes {
		ch.p.apply(u, ch.v)
	}
	if u.upn != oldUPN {
		delete(t.byUPN, strings.ToLower(oldUPN))
		t.byUPN[strings.ToLower(u.upn)] = u
	}
	u.patchCount++
	c.noContent()
	return nil
}

type propChange struct {
	p *userProp
	v any
}

// parseUserPatch validates a PATCH body: a JSON object of writable user
// properties, optionally with "@odata.type": "#microsoft.graph.user".
func parseUserPatch(body []byte) ([]propChange, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &apiError{http.StatusBadRequest, codeBadRequest, "Empty Payload. JSON content expected."}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changes []propChange
	for _, k := range keys {
		raw := obj[k]
		if k == "@odata.type" {
			var typ string
			_ = json.Unmarshal(raw, &typ)
			if typ != "#microsoft.graph.user" && typ != "microsoft.graph.user" {
				return nil, &apiError{http.StatusBadRequest, codeBadRequest, "A type named '" + strings.TrimPrefix(typ, "#") +
					"' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."}
			}
			continue
		}
		if strings.Contains(k, "@") { // other instance annotations are ignored
			continue
		}
		p := userPropsByName[k]
		if p == nil {
			return nil, &apiError{http.StatusBadRequest, codeRequestBadRequest, "Invalid property '" + k + "'."}
		}
		if p.parse == nil {
			return nil, &apiError{http.StatusBadRequest, codeRequestBadRequest,
				"Property '" + k + "' is read-only and cannot be set."}
		}
		v, e := p.parse(k, raw)
		if e != nil {
			return nil, e
		}
		changes = append(changes, propChange{p, v})
	}
	return changes, nil
}

// revokeSignInSessions serves POST /users/{id}/revokeSignInSessions.
func revokeSignInSessions(c *call) *apiError {
	if b := bytes.TrimSpace(c.body); len(b) > 0 && !json.Valid(b) {
		return &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
	}
	ref := c.params["id"]
	t := c.tenant
	t.mu.Lock()
	u := t.lookupLocked(ref)
	if u == nil {
		t.mu.Unlock()
		return notFound(ref)
	}
	now := time.Now().UTC()
	u.revokedCount++
	u.lastRevokedAt = now
	u.sessionsValidFrom = now.Truncate(time.Second)
	t.mu.Unlock()
	c.writeJSON(http.StatusOK, []byte(`{"@odata.context":"`+graphMetadata+`#Edm.Boolean","value":true}`))
	return nil
}
