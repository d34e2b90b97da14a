package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/google/uuid"
)

const (
	msgMemberNotPresent  = "One or more removed object references do not exist for the following modified properties: 'members'."
	msgMemberExists      = "One or more added object references already exist for the following modified properties: 'members'."
	msgMailEnabledGroup  = "Cannot Update a mail-enabled security groups and or distribution list."
	msgRoleGroupNesting  = "Nesting is currently not supported for groups that can be assigned to a role."
	directoryRoleTypeCtx = "directoryRoles"
)

// directoryRole is a role as a directory object (memberOf views).
type directoryRole struct {
	id, templateID, name string
}

var directoryRoleProps = newPropSet("microsoft.graph.directoryRole", []*objProp[*directoryRole]{
	{name: "id", def: true, get: func(r *directoryRole) any { return r.id }},
	{name: "deletedDateTime", def: true, get: func(*directoryRole) any { return nil }},
	{name: "description", def: true, get: func(r *directoryRole) any { return "Built-in directory role " + r.name + "." }},
	{name: "displayName", def: true, get: func(r *directoryRole) any { return r.name }},
	{name: "roleTemplateId", def: true, get: func(r *directoryRole) any { return r.templateID }},
})

func (t *Tenant) directoryRole(templateID string) *directoryRole {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte("graphsim/"+t.id+"/directoryRole/"+templateID)).String()
	return &directoryRole{id: id, templateID: templateID, name: roleNames[templateID]}
}

// DeletedObjects returns the ids of directory objects deleted through
// Graph (e.g. by DELETE /groups/{g}/members/{id} without /$ref), in order.
func (t *Tenant) DeletedObjects() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.deleted...)
}

// directGroupsLocked returns the groups objectID is a direct member of.
func (t *Tenant) directGroupsLocked(objectID string) []*group {
	var out []*group
	for _, g := range t.groups {
		if g.members[objectID] {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// transitiveGroupsLocked returns the groups objectID is a member of,
// directly or through nested groups.
func (t *Tenant) transitiveGroupsLocked(objectID string) map[string]*group {
	out := map[string]*group{}
	queue := []string{objectID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, g := range t.directGroupsLocked(id) {
			if out[g.id] == nil {
				out[g.id] = g
				queue = append(queue, g.id)
			}
		}
	}
	return out
}

// rolesLocked returns the directory roles (tenant scope) the object holds
// by its own assignments, and with transitive also through groups.
func (t *Tenant) rolesLocked(objectID string, transitive bool) []*directoryRole {
	var groups map[string]*group
	if transitive {
		groups = t.transitiveGroupsLocked(objectID)
	}
	seen := map[string]bool{}
	var out []*directoryRole
	for _, a := range t.sortedAssignmentsLocked() {
		if a.scope != "/" || seen[a.roleDefinitionID] || (a.principalID != objectID && groups[a.principalID] == nil) {
			continue
		}
		seen[a.roleDefinitionID] = true
		out = append(out, t.directoryRole(a.roleDefinitionID))
	}
	return out
}

func (s *Server) registerMembershipRoutes(rt *router[graphHandler]) {
	for _, nav := range []string{"memberOf", "transitiveMemberOf"} {
		transitive := nav == "transitiveMemberOf"
		// The SDKs send the namespace alias ("graph.group"); serveGraph
		// rewrites it to the full name before routing.
		for _, cast := range []string{"", "microsoft.graph.group", "microsoft.graph.directoryRole"} {
			pattern := "/users/{id}/" + nav
			if cast != "" {
				pattern += "/" + cast
			}
			s.handleList(rt, pattern, func(c *call) *apiError { return listMemberOf(c, transitive, cast) })
		}
	}
	rt.handle(http.MethodPost, "/groups/{gid}/members/$ref", addGroupMember)
	rt.handle(http.MethodDelete, "/groups/{gid}/members/{id}/$ref", removeGroupMember)
	rt.handle(http.MethodDelete, "/groups/{gid}/members/$ref", removeGroupMemberByQuery)
	rt.handle(http.MethodDelete, "/groups/{gid}/members/{id}", deleteMemberObject)
}

// listMemberOf serves GET /users/{id}/memberOf and transitiveMemberOf,
// optionally cast to microsoft.graph.group or microsoft.graph.directoryRole.
func listMemberOf(c *call, transitive bool, cast string) *apiError {
	if f := c.query.Get("$filter"); f != "" {
		return &apiError{http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported Query."}
	}
	var names []string
	if sel := strings.TrimSpace(c.query.Get("$select")); sel != "" {
		names = strings.Split(sel, ",")
	}
	gProps, gOK := pickProps(groupProps, names)
	rProps, rOK := pickProps(directoryRoleProps, names)
	context := map[string]string{"": "directoryObjects", "microsoft.graph.group": "groups",
		"microsoft.graph.directoryRole": directoryRoleTypeCtx}[cast]
	switch bad := firstUnknown(names, gOK, rOK, cast); {
	case bad != "":
		typ := map[string]string{"": "microsoft.graph.directoryObject", "microsoft.graph.group": "microsoft.graph.group",
			"microsoft.graph.directoryRole": "microsoft.graph.directoryRole"}[cast]
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, "Could not find a property named '" + bad + "' on type '" + typ + "'."}
	case len(names) > 0:
		context += "(" + strings.Join(names, ",") + ")"
	}

	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.lookupLocked(c.params["id"])
	if u == nil {
		return notFound(c.params["id"])
	}
	var items [][]byte
	if cast != "microsoft.graph.directoryRole" {
		var groups []*group
		if transitive {
			for _, g := range t.transitiveGroupsLocked(u.id) {
				groups = append(groups, g)
			}
			sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })
		} else {
			groups = t.directGroupsLocked(u.id)
		}
		for _, g := range groups {
			var buf bytes.Buffer
			groupProps.writeObject(&buf, g, gProps, true)
			items = append(items, buf.Bytes())
		}
	}
	if cast != "microsoft.graph.group" {
		for _, r := range t.rolesLocked(u.id, transitive) {
			var buf bytes.Buffer
			directoryRoleProps.writeObject(&buf, r, rProps, true)
			items = append(items, buf.Bytes())
		}
	}
	lo, hi, next, e := c.page(len(items), 100)
	if e != nil {
		return e
	}
	c.writeCollection(context, next, items[lo:hi])
	return nil
}

// pickProps returns the properties of ps named in names (all defaults when
// names is empty) and which names it knows.
func pickProps[T any](ps *propSet[T], names []string) ([]*objProp[T], map[string]bool) {
	if len(names) == 0 {
		def, _, _ := ps.parseSelect("")
		return def, nil
	}
	known := map[string]bool{}
	var out []*objProp[T]
	for _, n := range names {
		if p := ps.fold[strings.ToLower(strings.TrimSpace(n))]; p != nil {
			known[n] = true
			out = append(out, p)
		}
	}
	return out, known
}

// firstUnknown returns a $select name no type of the view knows.
func firstUnknown(names []string, g, r map[string]bool, cast string) string {
	for _, n := range names {
		switch cast {
		case "microsoft.graph.group":
			if !g[n] {
				return n
			}
		case "microsoft.graph.directoryRole":
			if !r[n] {
				return n
			}
		default:
			if !g[n] && !r[n] {
				return n
			}
		}
	}
	return ""
}

// parseDirectoryObjectRef extracts the object id of an @odata.id /
// @odata.bind URL: https://graph.microsoft.com/v1.0/directoryObjects/{id}
// (or users/{id}, groups/{id}, directoryObjects('{id}')) on a Graph host
// or on the simulator's own host.
func parseDirectoryObjectRef(ref, simHost string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "https" || !(graphHosts[strings.ToLower(u.Host)] || strings.EqualFold(u.Host, simHost)) {
		return "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) > 0 && (segs[0] == "v1.0" || segs[0] == "beta") {
		segs = segs[1:]
	}
	var coll, id string
	switch len(segs) {
	case 1:
		if i := strings.Index(segs[0], "('"); i > 0 && strings.HasSuffix(segs[0], "')") {
			coll, id = segs[0][:i], segs[0][i+2:len(segs[0])-2]
		}
	case 2:
		coll, id = segs[0], segs[1]
	}
	switch strings.ToLower(coll) {
	case "directoryobjects", "users", "groups":
		return strings.ToLower(id), id != ""
	}
	return "", false
}

var graphHosts = map[string]bool{
	"graph.microsoft.com": true, "graph.microsoft.us": true, "dod-graph.microsoft.us": true,
	"microsoftgraph.chinacloudapi.cn": true,
}

// checkMembershipWriteLocked applies Graph's rules for changing the
// members of g; t.mu held.
func (t *Tenant) checkMembershipWriteLocked(g *group) *apiError {
	switch {
	case g.onPremSync:
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgOnPremisesMastered}
	case g.dynamic():
		// Graph cannot manage rule-based membership (Microsoft support:
		// "403 Authorization_RequestDenied when adding a user to a group").
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	case g.mailEnabled && !g.unified():
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgMailEnabledGroup}
	case g.roleAssignable && !t.roleMgmt:
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	return nil
}

// addGroupMember serves POST /groups/{gid}/members/$ref {"@odata.id": ...}.
func addGroupMember(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	var ref string
	if raw, ok := obj["@odata.id"]; !ok || json.Unmarshal(raw, &ref) != nil {
		return &apiError{http.StatusBadRequest, codeBadRequest, "The request body must contain an @odata.id reference."}
	}
	id, ok := parseDirectoryObjectRef(ref, c.r.Host)
	if !ok {
		return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid URL format specified in @odata.id: " + ref}
	}
	if e := c.tenant.addMembers(c.params["gid"], []string{id}); e != nil {
		return e
	}
	c.noContent()
	return nil
}

// addMembers adds the directory objects ids to group gid, all or none,
// with Graph's answers: 404 for an unknown group or object, the group's
// membership rules (checkMembershipWriteLocked), 400 for a group nested
// in a role-assignable group and for an object that already is a member
// (or is named twice).
func (t *Tenant) addMembers(gid string, ids []string) *apiError {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[strings.ToLower(gid)]
	if g == nil {
		return notFound(gid)
	}
	for _, id := range ids {
		if t.users[id] == nil && t.groups[id] == nil {
			return notFound(id)
		}
	}
	if e := t.checkMembershipWriteLocked(g); e != nil {
		return e
	}
	seen := map[string]bool{}
	for _, id := range ids {
		switch {
		case t.groups[id] != nil && g.roleAssignable:
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgRoleGroupNesting}
		case g.members[id] || seen[id]:
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgMemberExists}
		}
		seen[id] = true
	}
	for _, id := range ids {
		g.members[id] = true
	}
	return nil
}

// removeGroupMember serves DELETE /groups/{gid}/members/{id}/$ref.
func removeGroupMember(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[strings.ToLower(c.params["gid"])]
	if g == nil {
		return notFound(c.params["gid"])
	}
	id := t.objectIDLocked(c.params["id"])
	if id == "" {
		return notFound(c.params["id"])
	}
	if e := t.checkMembershipWriteLocked(g); e != nil {
		return e
	}
	if !g.members[id] {
		return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgMemberNotPresent}
	}
	delete(g.members, id)
	c.noContent()
	return nil
}

// removeGroupMemberByQuery serves DELETE /groups/{gid}/members/$ref?@id=
// {directoryObject URL}, the other spelling of removeGroupMember.
func removeGroupMemberByQuery(c *call) *apiError {
	id, ok := parseDirectoryObjectRef(c.query.Get("@id"), c.r.Host)
	if !ok {
		return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid URL format specified in @id: " + c.query.Get("@id")}
	}
	c.params["id"] = id
	return removeGroupMember(c)
}

// objectIDLocked resolves a user (id or UPN) or group id; "" if unknown.
func (t *Tenant) objectIDLocked(ref string) string {
	if u := t.lookupLocked(ref); u != nil {
		return u.id
	}
	if g := t.groups[strings.ToLower(ref)]; g != nil {
		return g.id
	}
	return ""
}

// deleteMemberObject serves DELETE /groups/{gid}/members/{id} WITHOUT
// /$ref: like Graph for an app with rights over the object, it deletes the
// member object itself (the user), not the membership.
func deleteMemberObject(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[strings.ToLower(c.params["gid"])]
	if g == nil {
		return notFound(c.params["gid"])
	}
	id := t.objectIDLocked(c.params["id"])
	if id == "" || !g.members[id] {
		return notFound(c.params["id"])
	}
	if u := t.users[id]; u != nil {
		switch {
		case u.onPremSync:
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgOnPremisesMastered}
		case !t.privileged && t.holdsPrivilegedRoleLocked(id):
			return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
		}
		delete(t.users, id)
		delete(t.byUPN, strings.ToLower(u.upn))
		t.userCount.Store(int64(len(t.users)))
	} else {
		delete(t.groups, id)
	}
	for _, o := range t.groups {
		delete(o.members, id)
	}
	for aid, a := range t.assignments {
		if a.principalID == id {
			delete(t.assignments, aid)
		}
	}
	t.deleted = append(t.deleted, id)
	c.noContent()
	return nil
}
