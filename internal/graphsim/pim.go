package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	scheduleInstancesPath = "/roleManagement/directory/roleAssignmentScheduleInstances"
	scheduleRequestsPath  = "/roleManagement/directory/roleAssignmentScheduleRequests"
	pimActivationLength   = 8 * time.Hour // PIM's default maximum activation
)

func (s *Server) registerPIMRoutes(rt *router[graphHandler]) {
	s.handleList(rt, scheduleInstancesPath, listScheduleInstances)
	rt.handle(http.MethodPost, scheduleRequestsPath, createScheduleRequest)
}

// scheduleInstance is one active unifiedRoleAssignmentScheduleInstance.
type scheduleInstance struct {
	id, principalID, memberType string
	a                           *roleAssignment
}

// scheduleInstancesLocked expands the active assignments into schedule
// instances: one Direct instance per assignment and, for an assignment to
// a group, one Group instance per (transitive) user member.
func (t *Tenant) scheduleInstancesLocked() []scheduleInstance {
	var out []scheduleInstance
	for _, a := range t.sortedAssignmentsLocked() {
		out = append(out, scheduleInstance{a.id, a.principalID, "Direct", a})
		if t.groups[a.principalID] == nil {
			continue
		}
		for _, uid := range t.transitiveUserMembersLocked(a.principalID) {
			out = append(out, scheduleInstance{encodeGUIDs(a.roleDefinitionID, uid, a.principalID) + "-1", uid, "Group", a})
		}
	}
	return out
}

// transitiveUserMembersLocked returns the ids of the users in a group,
// directly or through nested groups, sorted.
func (t *Tenant) transitiveUserMembersLocked(groupID string) []string {
	seen := map[string]bool{groupID: true}
	queue := []string{groupID}
	var out []string
	for len(queue) > 0 {
		g := t.groups[queue[0]]
		queue = queue[1:]
		if g == nil {
			continue
		}
		for m := range g.members {
			switch {
			case seen[m]:
			case t.users[m] != nil:
				out = append(out, m)
			case t.groups[m] != nil:
				queue = append(queue, m)
			}
			seen[m] = true
		}
	}
	sort.Strings(out)
	return out
}

// listScheduleInstances serves GET roleAssignmentScheduleInstances
// [?$filter=principalId eq '...' | roleDefinitionId eq '...'].
func listScheduleInstances(c *call) *apiError {
	if e := notSimulatedExpand(c); e != nil {
		return e
	}
	principal, role, e := assignmentFilter(c.query.Get("$filter"))
	if e != nil {
		return e
	}
	t := c.tenant
	t.mu.Lock()
	var items [][]byte
	for _, in := range t.scheduleInstancesLocked() {
		if (principal != "" && in.principalID != principal) || (role != "" && in.a.roleDefinitionID != role) {
			continue
		}
		items = append(items, renderInstance(in))
	}
	t.mu.Unlock()
	c.writeCollection("roleManagement/directory/roleAssignmentScheduleInstances", "", items)
	return nil
}

func renderInstance(in scheduleInstance) []byte {
	a := in.a
	v := struct {
		ID                       string  `json:"id"`
		PrincipalID              string  `json:"principalId"`
		RoleDefinitionID         string  `json:"roleDefinitionId"`
		DirectoryScopeID         string  `json:"directoryScopeId"`
		AppScopeID               *string `json:"appScopeId"`
		StartDateTime            *string `json:"startDateTime"`
		EndDateTime              *string `json:"endDateTime"`
		AssignmentType           string  `json:"assignmentType"`
		MemberType               string  `json:"memberType"`
		RoleAssignmentOriginID   string  `json:"roleAssignmentOriginId"`
		RoleAssignmentScheduleID string  `json:"roleAssignmentScheduleId"`
	}{ID: in.id, PrincipalID: in.principalID, RoleDefinitionID: a.roleDefinitionID, DirectoryScopeID: a.scope,
		AssignmentType: "Assigned", MemberType: in.memberType, RoleAssignmentOriginID: a.id, RoleAssignmentScheduleID: a.id}
	if a.timeBound() {
		start, end := a.created.Format(time.RFC3339), a.end.Format(time.RFC3339)
		v.StartDateTime, v.EndDateTime = &start, &end
	}
	if a.kind == AssignPIMActivated {
		v.AssignmentType = "Activated"
	}
	b, _ := json.Marshal(v)
	return b
}

// scheduleRequest is the body of a roleAssignmentScheduleRequest.
type scheduleRequest struct {
	Action           string          `json:"action"`
	PrincipalID      string          `json:"principalId"`
	RoleDefinitionID string          `json:"roleDefinitionId"`
	DirectoryScopeID string          `json:"directoryScopeId"`
	Justification    string          `json:"justification"`
	IsValidationOnly bool            `json:"isValidationOnly"`
	ScheduleInfo     json.RawMessage `json:"scheduleInfo"`
}

var scheduleRequestFields = map[string]bool{"action": true, "principalId": true, "roleDefinitionId": true,
	"directoryScopeId": true, "justification": true, "isValidationOnly": true, "scheduleInfo": true,
	"ticketInfo": true, "customData": true, "appScopeId": true}

var scheduleActions = map[string]bool{"adminAssign": true, "adminUpdate": true, "adminRemove": true, "adminExtend": true,
	"adminRenew": true, "selfActivate": true, "selfDeactivate": true, "selfExtend": true, "selfRenew": true}

// createScheduleRequest serves POST roleAssignmentScheduleRequests with
// action adminRemove (ends the principal's own active assignment, 201
// "Revoked") or adminAssign (creates it, 201 "Provisioned").
func createScheduleRequest(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	for k := range obj {
		if !scheduleRequestFields[k] && !isAnnotation(k) {
			return unknownProperty(k, "microsoft.graph.unifiedRoleAssignmentScheduleRequest")
		}
	}
	var req scheduleRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
	}
	switch {
	case !scheduleActions[req.Action]:
		return &apiError{http.StatusBadRequest, codeBadRequest, "Cannot convert the literal '" + req.Action +
			"' to the expected type 'microsoft.graph.unifiedRoleScheduleRequestActions'."}
	case req.Action != "adminAssign" && req.Action != "adminRemove":
		return &apiError{http.StatusNotImplemented, codeNotImplemented, "graphsim does not simulate action " + req.Action + "."}
	case req.PrincipalID == "" || req.RoleDefinitionID == "" || req.DirectoryScopeID == "":
		return &apiError{http.StatusBadRequest, codeBadRequest, "The request must specify principalId, roleDefinitionId and directoryScopeId."}
	}
	principal, role := strings.ToLower(req.PrincipalID), strings.ToLower(req.RoleDefinitionID)
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.roleMgmt {
		return &apiError{http.StatusForbidden, codeAuthorizationDenied, msgInsufficientPrivileges}
	}
	var existing *roleAssignment
	t.expireAssignmentsLocked()
	for _, a := range t.assignments {
		if a.principalID == principal && a.roleDefinitionID == role && a.scope == req.DirectoryScopeID {
			existing = a
		}
	}
	status, target := "Provisioned", ""
	var sched json.RawMessage
	if t.scheduleSt != "" {
		// A test override: the request is answered with that status and
		// does not change the directory.
		c.writeJSON(http.StatusCreated, renderScheduleRequest(req, principal, role, t.scheduleSt, "", t.clientID, nil))
		return nil
	}
	if req.Action == "adminRemove" {
		if existing == nil {
			return &apiError{http.StatusBadRequest, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."}
		}
		status, target = "Revoked", existing.id
		if !req.IsValidationOnly {
			if e := t.removeAssignmentLocked(existing); e != nil {
				return e
			}
		}
	} else {
		if e := t.checkAssignableLocked(principal, role); e != nil {
			return e
		}
		if existing != nil {
			return &apiError{http.StatusBadRequest, "RoleAssignmentExists", "The Role assignment already exists."}
		}
		if strings.TrimSpace(req.Justification) == "" {
			return &apiError{http.StatusBadRequest, "RoleAssignmentRequestPolicyValidationFailed",
				`The following policy rules failed: ["JustificationRule"]`}
		}
		end, e := scheduleEnd(req.ScheduleInfo)
		if e != nil {
			return e
		}
		if !req.IsValidationOnly {
			a := t.assignLocked(principal, role, req.DirectoryScopeID, AssignDirect)
			a.end, target = end, a.id
		}
		sched = req.ScheduleInfo
	}
	c.writeJSON(http.StatusCreated, renderScheduleRequest(req, principal, role, status, target, t.clientID, sched))
	return nil
}

// scheduleEnd reads the end of an adminAssign's scheduleInfo: zero for
// none or noExpiration, the endDateTime of afterDateTime (which must be
// later than now: PIM refuses a schedule that has ended).
func scheduleEnd(raw json.RawMessage) (time.Time, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var info struct {
		Expiration *struct {
			Type        string  `json:"type"`
			EndDateTime *string `json:"endDateTime"`
			Duration    *string `json:"duration"`
		} `json:"expiration"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return time.Time{}, &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
	}
	if info.Expiration == nil {
		return time.Time{}, nil
	}
	switch x := info.Expiration; x.Type {
	case "", "noExpiration":
		return time.Time{}, nil
	case "afterDateTime":
		if x.EndDateTime == nil {
			return time.Time{}, &apiError{http.StatusBadRequest, "InvalidScheduleInfo",
				"The schedule expiration of type afterDateTime requires an endDateTime."}
		}
		end, err := time.Parse(time.RFC3339Nano, *x.EndDateTime)
		if err != nil {
			return time.Time{}, &apiError{http.StatusBadRequest, codeBadRequest, msgUnreadablePayload}
		}
		if !end.After(time.Now()) {
			return time.Time{}, &apiError{http.StatusBadRequest, "RoleAssignmentRequestPolicyValidationFailed",
				`The following policy rules failed: ["ExpirationRule"]`}
		}
		return end.UTC().Truncate(time.Second), nil
	case "afterDuration":
		return time.Time{}, &apiError{http.StatusNotImplemented, codeNotImplemented,
			"graphsim does not simulate expiration afterDuration."}
	default:
		return time.Time{}, &apiError{http.StatusBadRequest, codeBadRequest, "Cannot convert the literal '" + x.Type +
			"' to the expected type 'microsoft.graph.expirationPatternType'."}
	}
}

// SetScheduleRequestStatus makes every later valid POST
// roleAssignmentScheduleRequests answer 201 with the given status (e.g.
// "Denied", "Failed", "PendingApproval") without changing the directory;
// "" restores the normal behaviour.
func (t *Tenant) SetScheduleRequestStatus(status string) {
	t.mu.Lock()
	t.scheduleSt = status
	t.mu.Unlock()
}

// renderScheduleRequest renders the created request; sched is the
// scheduleInfo as sent (nil: starting now without expiration).
func renderScheduleRequest(req scheduleRequest, principal, role, status, target, appID string, sched json.RawMessage) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	var schedule any = map[string]any{"startDateTime": now, "recurrence": nil,
		"expiration": map[string]any{"type": "noExpiration", "endDateTime": nil, "duration": nil}}
	if len(sched) > 0 && string(sched) != "null" {
		schedule = sched
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":"` + graphMetadata + `#roleManagement/directory/roleAssignmentScheduleRequests/$entity"`)
	fields := []struct {
		k string
		v any
	}{
		{"id", uuid.NewString()}, {"status", status}, {"createdDateTime", now}, {"completedDateTime", now},
		{"approvalId", nil}, {"customData", nil}, {"action", req.Action}, {"principalId", principal},
		{"roleDefinitionId", role}, {"directoryScopeId", req.DirectoryScopeID}, {"appScopeId", nil},
		{"isValidationOnly", req.IsValidationOnly}, {"targetScheduleId", nullable(target)},
		{"justification", nullable(req.Justification)},
		{"createdBy", map[string]any{"application": map[string]any{"displayName": nil, "id": appID}, "device": nil, "user": nil}},
		{"scheduleInfo", schedule},
		{"ticketInfo", map[string]any{"ticketNumber": nil, "ticketSystem": nil}},
	}
	for _, f := range fields {
		buf.WriteByte(',')
		writeJSONValue(&buf, f.k)
		buf.WriteByte(':')
		writeJSONValue(&buf, f.v)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
