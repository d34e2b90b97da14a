package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AssignKind says how an active role assignment came to be.
type AssignKind int

const (
	// AssignDirect is a permanent active assignment (PIM assignmentType
	// Assigned). DELETE on roleAssignments removes it.
	AssignDirect AssignKind = iota
	// AssignPIMActivated is an eligible assignment activated through PIM
	// (assignmentType Activated). A plain DELETE on roleAssignments is
	// refused with 400; it is removed with an adminRemove
	// roleAssignmentScheduleRequest.
	AssignPIMActivated
)

// String returns "Direct" or "PIMActivated".
func (k AssignKind) String() string {
	if k == AssignPIMActivated {
		return "PIMActivated"
	}
	return "Direct"
}

// roleNames are the built-in directory roles the simulator knows, by
// template id (for built-in roles the role definition id is the template id).
var roleNames = map[string]string{
	RoleGlobalAdministrator:                   "Global Administrator",
	RolePrivilegedRoleAdministrator:           "Privileged Role Administrator",
	RolePrivilegedAuthenticationAdministrator: "Privileged Authentication Administrator",
	RoleUserAdministrator:                     "User Administrator",
	RoleSecurityAdministrator:                 "Security Administrator",
	RoleHelpdeskAdministrator:                 "Helpdesk Administrator",
	RoleAuthenticationAdministrator:           "Authentication Administrator",
	RoleExchangeAdministrator:                 "Exchange Administrator",
	RoleSharePointAdministrator:               "SharePoint Administrator",
	RoleApplicationAdministrator:              "Application Administrator",
	RoleCloudApplicationAdministrator:         "Cloud Application Administrator",
	RoleConditionalAccessAdministrator:        "Conditional Access Administrator",
	RoleIntuneAdministrator:                   "Intune Administrator",
	RoleGlobalReader:                          "Global Reader",
	"b0f54661-2d74-4c50-afa3-1ec803f12efe":    "Billing Administrator",
	"966707d0-3269-4727-9be2-8c3a10f19b9d":    "Password Administrator",
	"fdd7a751-b60b-444a-984c-02652fe8fa1c":    "Groups Administrator",
	"88d8e3e3-8f55-4a1e-953a-9b9898b8876b":    "Directory Readers",
	"5d6b6bb7-de71-4623-b4af-96380a352509":    "Security Reader",
}

// roleAssignment is an active directory role assignment; guarded by its
// Tenant's mu.
type roleAssignment struct {
	id, principalID, roleDefinitionID, scope string
	kind                                     AssignKind
	seq                                      int
	created                                  time.Time
	// end is when a time-bound assignment ends (a PIM activation, or an
	// adminAssign with an expiration); zero for none. An ended
	// assignment is gone (expireAssignmentsLocked).
	end time.Time
}

// timeBound reports whether a was made through PIM with an end: a plain
// DELETE on roleAssignments refuses it like an activation.
func (a *roleAssignment) timeBound() bool { return !a.end.IsZero() }

// expireAssignmentsLocked removes the assignments whose end has passed,
// as PIM does; every reader and writer of assignments calls it first.
func (t *Tenant) expireAssignmentsLocked() {
	now := time.Now()
	for id, a := range t.assignments {
		if a.timeBound() && !a.end.After(now) {
			delete(t.assignments, id)
		}
	}
}

// RoleAssignmentState is a snapshot of an active role assignment.
type RoleAssignmentState struct {
	ID               string
	PrincipalID      string // user or (role-assignable) group id
	RoleDefinitionID string // = role template id for built-in roles
	DirectoryScopeID string // "/" for the tenant
	Kind             AssignKind
	CreatedAt        time.Time
	// EndsAt is when a time-bound assignment ends; zero for none.
	EndsAt time.Time
}

func (a *roleAssignment) state() RoleAssignmentState {
	return RoleAssignmentState{a.id, a.principalID, a.roleDefinitionID, a.scope, a.kind, a.created, a.end}
}

// AssignRole creates an active tenant-wide assignment of a role template
// to a user or group (for a group, its members hold the role) and returns
// the assignment id. An identical assignment is returned as is.
func (t *Tenant) AssignRole(principalID, roleTemplateID string, kind AssignKind) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.assignLocked(strings.ToLower(principalID), roleTemplateID, "/", kind).id
}

// RoleAssignments returns all active role assignments in creation order.
func (t *Tenant) RoleAssignments() []RoleAssignmentState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]RoleAssignmentState, 0, len(t.assignments))
	for _, a := range t.sortedAssignmentsLocked() {
		out = append(out, a.state())
	}
	return out
}

// assignLocked creates (or finds) an assignment; t.mu held.
func (t *Tenant) assignLocked(principalID, role, scope string, kind AssignKind) *roleAssignment {
	role = strings.ToLower(role)
	for _, a := range t.assignments {
		if a.principalID == principalID && a.roleDefinitionID == role && a.scope == scope {
			return a
		}
	}
	base := encodeGUIDs(role, principalID)
	id := base + "-1"
	for n := 2; t.assignments[id] != nil; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	t.assignmentSeq++
	a := &roleAssignment{id: id, principalID: principalID, roleDefinitionID: role, scope: scope, kind: kind,
		seq: t.assignmentSeq, created: time.Now().UTC().Truncate(time.Second)}
	if kind == AssignPIMActivated {
		a.end = a.created.Add(pimActivationLength)
	}
	t.assignments[id] = a
	return a
}

// encodeGUIDs builds Graph's opaque assignment id prefix: base64url of
// both GUIDs in Microsoft byte order, e.g. "lAPpYvVpN0KRkAEhdxReEHJ1...".
func encodeGUIDs(ids ...string) string {
	var b []byte
	for _, s := range ids {
		g, err := uuid.Parse(s)
		if err != nil {
			g = uuid.NewSHA1(uuid.NameSpaceOID, []byte(s))
		}
		b = append(b, g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6])
		b = append(b, g[8:]...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t *Tenant) sortedAssignmentsLocked() []*roleAssignment {
	t.expireAssignmentsLocked()
	out := make([]*roleAssignment, 0, len(t.assignments))
	for _, a := range t.assignments {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// directRolesLocked returns the role ids of principal's own assignments.
func (t *Tenant) directRolesLocked(principalID string) []string {
	var out []string
	for _, a := range t.sortedAssignmentsLocked() {
		if a.principalID == principalID {
			out = append(out, a.roleDefinitionID)
		}
	}
	return out
}

// holdsPrivilegedRoleLocked reports whether the user holds a privileged
// role directly or through a group.
func (t *Tenant) holdsPrivilegedRoleLocked(userID string) bool {
	groups := t.transitiveGroupsLocked(userID)
	t.expireAssignmentsLocked()
	for _, a := range t.assignments {
		if privilegedRoles[a.roleDefinitionID] && (a.principalID == userID || groups[a.principalID] != nil) {
			return true
		}
	}
	return false
}

// removeAssignmentLocked deletes a unless it is the tenant's last Global
// Administrator assignment.
func (t *Tenant) removeAssignmentLocked(a *roleAssignment) *apiError {
	if a.roleDefinitionID == RoleGlobalAdministrator {
		n := 0
		for _, o := range t.assignments {
			if o.roleDefinitionID == RoleGlobalAdministrator {
				n++
			}
		}
		if n <= 1 {
			return &apiError{http.StatusBadRequest, codeRequestBadRequest,
				"Unable to remove the last Global Administrator of the tenant. Assign the role to another principal first."}
		}
	}
	delete(t.assignments, a.id)
	return nil
}

const roleAssignmentsPath = "/roleManagement/directory/roleAssignments"

func (s *Server) registerRoleRoutes(rt *router[graphHandler]) {
	s.handleList(rt, roleAssignmentsPath, listRoleAssignments)
	rt.handle(http.MethodGet, roleAssignmentsPath+"/{aid}", getRoleAssignment)
	rt.handle(http.MethodPost, roleAssignmentsPath, createRoleAssignment)
	rt.handle(http.MethodDelete, roleAssignmentsPath+"/{aid}", deleteRoleAssignment)
}

func writeAssignment(buf *bytes.Buffer, a *roleAssignment) {
	buf.WriteString(`"id":`)
	writeJSONValue(buf, a.id)
	buf.WriteString(`,"principalId":`)
	writeJSONValue(buf, a.principalID)
	buf.WriteString(`,"resourceScope":`)
	writeJSONValue(buf, a.scope)
	buf.WriteString(`,"directoryScopeId":`)
	writeJSONValue(buf, a.scope)
	buf.WriteString(`,"roleDefinitionId":`)
	writeJSONValue(buf, a.roleDefinitionID)
}

// assignmentFilter parses the $filter of roleAssignments and
// roleAssignmentScheduleInstances: principalId and/or roleDefinitionId eq.
func assignmentFilter(f string) (principal, role string, e *apiError) {
	if strings.TrimSpace(f) == "" {
		return "", "", nil
	}
	clauses, ok := parseEqFilter(f)
	if !ok {
		return "", "", &apiError{http.StatusBadRequest, codeBadRequest, "Invalid filter clause: " + f}
	}
	for _, c := range clauses {
		switch c.prop {
		case "principalId":
			principal = strings.ToLower(c.val)
		case "roleDefinitionId":
			role = strings.ToLower(c.val)
		default:
			return "", "", &apiError{http.StatusBadRequest, codeBadRequest,
				"Invalid filter clause: filtering on property '" + c.prop + "' is not supported."}
		}
	}
	return principal, role, nil
}

func notSimulatedExpand(c *call) *apiError {
	if c.query.Get("$expand") != "" {
		return &apiError{http.StatusNotImplemented, codeNotImplemented, "graphsim does not simulate $expand on this resource."}
	}
	return nil
}

// listRoleAssignments serves GET roleAssignments?$filter=... (the
// directory provider requires a filter on principalId or roleDefinitionId).
func listRoleAssignments(c *call) *apiError {
	if e := notSimulatedExpand(c); e != nil {
		return e
	}
	if strings.TrimSpace(c.query.Get("$filter")) == "" {
		return &apiError{http.StatusBadRequest, codeBadRequest,
			"The $filter query parameter is required: filter on principalId or roleDefinitionId."}
	}
	principal, role, e := assignmentFilter(c.query.Get("$filter"))
	if e != nil {
		return e
	}
	t := c.tenant
	t.mu.Lock()
	var items [][]byte
	for _, a := range t.sortedAssignmentsLocked() {
		if (principal == "" || a.principalID == principal) && (role == "" || a.roleDefinitionID == role) {
			var buf bytes.Buffer
			buf.WriteByte('{')
			writeAssignment(&buf, a)
			buf.WriteByte('}')
			items = append(items, buf.Bytes())
		}
	}
	t.mu.Unlock()
	c.writeCollection("roleManagement/directory/roleAssignments", "", items)
	return nil
}

// getRoleAssignment serves GET roleAssignments/{aid}.
func getRoleAssignment(c *call) *apiError {
	if e := notSimulatedExpand(c); e != nil {
		return e
	}
	t := c.tenant
	t.mu.Lock()
	t.expireAssignmentsLocked()
	a := t.assignments[c.params["aid"]]
	if a == nil {
		t.mu.Unlock()
		return notFound(c.params["aid"])
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":"` + graphMetadata + `#roleManagement/directory/roleAssignments/$entity",`)
	writeAssignment(&buf, a)
	buf.WriteByte('}')
	t.mu.Unlock()
	c.writeJSON(http.StatusOK, buf.Bytes())
	return nil
}

// deleteRoleAssignment serves DELETE roleAssignments/{aid}: 204; 404 when
// gone; 400 for a PIM-activated assignment (undocumented at Microsoft: the
// client must fall back to adminRemove) and for the last Global
// Administrator.
func deleteRoleAssignment(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.roleMgmt {
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	t.expireAssignmentsLocked()
	a := t.assignments[c.params["aid"]]
	if a == nil {
		return notFound(c.params["aid"])
	}
	if a.kind == AssignPIMActivated || a.timeBound() {
		return &apiError{http.StatusBadRequest, codeBadRequest,
			"The role assignment is managed by Privileged Identity Management and cannot be deleted directly. " +
				"Use a roleAssignmentScheduleRequest with action adminRemove."}
	}
	if e := t.removeAssignmentLocked(a); e != nil {
		return e
	}
	c.noContent()
	return nil
}

// createRoleAssignment serves POST roleAssignments {principalId,
// roleDefinitionId, directoryScopeId}: 201 with the assignment.
func createRoleAssignment(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	var f struct{ principal, role, scope string }
	for k, raw := range obj {
		var dst *string
		switch k {
		case "principalId":
			dst = &f.principal
		case "roleDefinitionId":
			dst = &f.role
		case "directoryScopeId":
			dst = &f.scope
		case "appScopeId":
			return &apiError{http.StatusNotImplemented, codeNotImplemented, "graphsim does not simulate app-scoped role assignments."}
		default:
			if isAnnotation(k) {
				continue
			}
			return unknownProperty(k, "microsoft.graph.unifiedRoleAssignment")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return convertErr(raw, "Edm.String")
		}
	}
	switch {
	case f.principal == "" || f.role == "":
		return &apiError{http.StatusBadRequest, codeBadRequest, "The request must specify principalId and roleDefinitionId."}
	case f.scope == "" || !strings.HasPrefix(f.scope, "/"):
		return &apiError{http.StatusBadRequest, codeBadRequest, "The request must specify a directoryScopeId or an appScopeId."}
	}
	f.principal, f.role = strings.ToLower(f.principal), strings.ToLower(f.role)
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.roleMgmt {
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	if e := t.checkAssignableLocked(f.principal, f.role); e != nil {
		return e
	}
	t.expireAssignmentsLocked()
	for _, a := range t.assignments {
		if a.principalID == f.principal && a.roleDefinitionID == f.role && a.scope == f.scope {
			return &apiError{http.StatusBadRequest, codeRequestBadRequest, msgConflictingObject}
		}
	}
	a := t.assignLocked(f.principal, f.role, f.scope, AssignDirect)
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":"` + graphMetadata + `#roleManagement/directory/roleAssignments/$entity",`)
	writeAssignment(&buf, a)
	buf.WriteByte('}')
	c.writeJSON(http.StatusCreated, buf.Bytes())
	return nil
}

const msgConflictingObject = "A conflicting object with one or more of the specified property values is present in the directory."

// checkAssignableLocked validates the principal and role of a new
// assignment; t.mu held.
func (t *Tenant) checkAssignableLocked(principal, role string) *apiError {
	if _, ok := roleNames[role]; !ok {
		return &apiError{http.StatusNotFound, codeResourceNotFound,
			"The role definition '" + role + "' does not exist in the directory."}
	}
	if t.users[principal] != nil {
		return nil
	}
	g := t.groups[principal]
	if g == nil {
		return notFound(principal)
	}
	if !g.roleAssignable {
		return &apiError{http.StatusBadRequest, codeRequestBadRequest,
			"Only groups with isAssignableToRole set to true can be assigned a directory role."}
	}
	return nil
}
