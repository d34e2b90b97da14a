package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// caPathPrefix starts every Conditional Access route; those requests obey
// the Conditional Access limit instead of the identity quotas.
const caPathPrefix = "/identity/conditionalAccess/"

const caPoliciesPath = "/identity/conditionalAccess/policies"

// CAPolicySpec describes a Conditional Access policy to add directly
// (conditions: all applications, all client apps).
type CAPolicySpec struct {
	DisplayName string
	State       string // enabled | disabled | enabledForReportingButNotEnforced; "" = enabled
	// Users condition (user ids or All/None/GuestsOrExternalUsers, group
	// ids, role template ids).
	IncludeUsers, ExcludeUsers, IncludeGroups, ExcludeGroups, IncludeRoles, ExcludeRoles []string
	// BuiltInControls (e.g. "mfa") or AuthenticationStrengthID; both empty
	// means ["mfa"].
	BuiltInControls          []string
	AuthenticationStrengthID string
}

// CAPolicyState is a snapshot of a Conditional Access policy.
type CAPolicyState struct {
	ID, DisplayName, State                                                               string
	IncludeUsers, ExcludeUsers, IncludeGroups, ExcludeGroups, IncludeRoles, ExcludeRoles []string
	BuiltInControls                                                                      []string
	AuthenticationStrengthID                                                             string
	CreatedAt, ModifiedAt                                                                time.Time // ModifiedAt zero until a PATCH
	Patches                                                                              int       // successful PATCH requests
	SizeBytes                                                                            int       // stored size (see CAPolicyMaxBytes)
}

func (p *caPolicy) state() CAPolicyState {
	d := &p.doc
	u := d.Conditions.Users
	s := CAPolicyState{ID: d.ID, DisplayName: d.DisplayName, State: d.State,
		IncludeUsers: slices.Clone(u.IncludeUsers), ExcludeUsers: slices.Clone(u.ExcludeUsers),
		IncludeGroups: slices.Clone(u.IncludeGroups), ExcludeGroups: slices.Clone(u.ExcludeGroups),
		IncludeRoles: slices.Clone(u.IncludeRoles), ExcludeRoles: slices.Clone(u.ExcludeRoles),
		CreatedAt: p.created, ModifiedAt: p.modified, Patches: p.patches, SizeBytes: d.size()}
	if g := d.GrantControls; g != nil {
		s.BuiltInControls = slices.Clone(g.BuiltInControls)
		if g.AuthenticationStrength != nil {
			s.AuthenticationStrengthID = g.AuthenticationStrength.ID
		}
	}
	return s
}

// CAPolicies returns the tenant's Conditional Access policies in creation
// order.
func (t *Tenant) CAPolicies() []CAPolicyState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]CAPolicyState, 0, len(t.caOrder))
	for _, id := range t.caOrder {
		out = append(out, t.caPolicies[id].state())
	}
	return out
}

// CAPolicy returns one Conditional Access policy.
func (t *Tenant) CAPolicy(id string) (CAPolicyState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.caPolicies[strings.ToLower(id)]
	if p == nil {
		return CAPolicyState{}, false
	}
	return p.state(), true
}

// AddCAPolicy adds a policy as POST would (same validation and limits,
// Security Defaults aside) without a request.
func (t *Tenant) AddCAPolicy(spec CAPolicySpec) (CAPolicyState, error) {
	state := spec.State
	if state == "" {
		state = "enabled"
	}
	grant := map[string]any{"operator": "OR", "builtInControls": spec.BuiltInControls}
	switch {
	case spec.AuthenticationStrengthID != "":
		grant["authenticationStrength"] = map[string]any{"id": spec.AuthenticationStrengthID}
	case len(spec.BuiltInControls) == 0:
		grant["builtInControls"] = []string{"mfa"}
	}
	body := mustJSON(map[string]any{
		"displayName": spec.DisplayName, "state": state, "grantControls": grant,
		"conditions": map[string]any{
			"clientAppTypes": []string{"all"},
			"applications":   map[string]any{"includeApplications": []string{"All"}},
			"users": map[string]any{"includeUsers": spec.IncludeUsers, "excludeUsers": spec.ExcludeUsers,
				"includeGroups": spec.IncludeGroups, "excludeGroups": spec.ExcludeGroups,
				"includeRoles": spec.IncludeRoles, "excludeRoles": spec.ExcludeRoles},
		},
	})
	d, e := parseCADoc(body)
	if e != nil {
		return CAPolicyState{}, errors.New("graphsim: AddCAPolicy: " + e.Error())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, e := t.storeCAPolicyLocked(d)
	if e != nil {
		return CAPolicyState{}, errors.New("graphsim: AddCAPolicy: " + e.Error())
	}
	return p.state(), nil
}

// storeCAPolicyLocked applies the count and size limits and stores a new
// policy; t.mu held.
func (t *Tenant) storeCAPolicyLocked(d caDoc) (*caPolicy, *apiError) {
	if len(t.caPolicies) >= MaxCAPolicies {
		return nil, caBad("1038: The tenant has reached the maximum number of Conditional Access policies (" +
			strconv.Itoa(MaxCAPolicies) + ").")
	}
	d.ID = uuid.NewString()
	if e := t.checkCASizeLocked(&d); e != nil {
		return nil, e
	}
	p := &caPolicy{doc: d, created: time.Now().UTC()}
	t.caPolicies[d.ID] = p
	t.caOrder = append(t.caOrder, d.ID)
	return p, nil
}

func (t *Tenant) checkCASizeLocked(d *caDoc) *apiError {
	if n := d.size(); n > t.caMaxBytes {
		return caBad("1040: The policy is too large (" + strconv.Itoa(n) + " bytes; the limit is " + strconv.Itoa(t.caMaxBytes) +
			" bytes). Reduce the number of users, groups or roles it names; target a group instead of many users.")
	}
	return nil
}

const msgSecurityDefaults = "1041: Security Defaults is enabled in the tenant. Conditional Access policies cannot be created " +
	"or enabled while Security Defaults is enabled."

func (s *Server) registerCARoutes(rt *router[graphHandler]) {
	rt.handle(http.MethodGet, caPoliciesPath, listCAPolicies)
	rt.handle(http.MethodGet, caPoliciesPath+"/{pid}", getCAPolicy)
	rt.handle(http.MethodPost, caPoliciesPath, createCAPolicy)
	rt.handle(http.MethodPatch, caPoliciesPath+"/{pid}", patchCAPolicy)
	rt.handle(http.MethodDelete, caPoliciesPath+"/{pid}", deleteCAPolicy)
}

func caNotFound(id string) *apiError {
	return &apiError{http.StatusNotFound, "NotFound", "1003: The policy with id '" + id + "' was not found."}
}

// listCAPolicies serves GET /identity/conditionalAccess/policies.
func listCAPolicies(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	items := make([][]byte, 0, len(t.caOrder))
	for _, id := range t.caOrder {
		items = append(items, t.caPolicies[id].render(""))
	}
	t.mu.Unlock()
	c.writeCollection("identity/conditionalAccess/policies", "", items)
	return nil
}

// getCAPolicy serves GET /identity/conditionalAccess/policies/{pid}.
func getCAPolicy(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	p := t.caPolicies[strings.ToLower(c.params["pid"])]
	if p == nil {
		t.mu.Unlock()
		return caNotFound(c.params["pid"])
	}
	b := p.render("identity/conditionalAccess/policies/$entity")
	t.mu.Unlock()
	c.writeJSON(http.StatusOK, b)
	return nil
}

// createCAPolicy serves POST /identity/conditionalAccess/policies: 201.
func createCAPolicy(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	for _, k := range caReadOnly {
		if v, ok := obj[k]; ok && !isNull(v) {
			return readOnlyField(k)
		}
	}
	d, e := parseCADoc(c.body)
	if e != nil {
		return e
	}
	t := c.tenant
	t.mu.Lock()
	if t.securityDefaults {
		t.mu.Unlock()
		return caBad(msgSecurityDefaults)
	}
	p, e := t.storeCAPolicyLocked(d)
	if e != nil {
		t.mu.Unlock()
		return e
	}
	b := p.render("identity/conditionalAccess/policies/$entity")
	t.mu.Unlock()
	t.noteCAWrite()
	c.writeJSON(http.StatusCreated, b)
	return nil
}

func readOnlyField(k string) *apiError {
	return caBad(strings.ToUpper(k[:1]) + k[1:] + " is a read-only field.")
}

// patchCAPolicy serves PATCH /identity/conditionalAccess/policies/{pid}:
// complex properties are merged, arrays and scalars replaced; 204.
func patchCAPolicy(c *call) *apiError {
	obj, e := parseObject(c.body)
	if e != nil {
		return e
	}
	for _, k := range caReadOnly {
		if _, ok := obj[k]; ok {
			return readOnlyField(k)
		}
	}
	if e := checkCAKeys(c.body); e != nil {
		return e
	}
	var patch map[string]any
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if err := dec.Decode(&patch); err != nil {
		return caBad(msgCASchema)
	}
	t := c.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.caPolicies[strings.ToLower(c.params["pid"])]
	if p == nil {
		return caNotFound(c.params["pid"])
	}
	var base map[string]any
	dec = json.NewDecoder(bytes.NewReader(mustJSON(p.doc)))
	dec.UseNumber()
	if err := dec.Decode(&base); err != nil {
		return &apiError{http.StatusInternalServerError, codeInternalServerError, "graphsim: stored policy unreadable"}
	}
	for _, k := range caReadOnly {
		delete(base, k)
	}
	mergePatch(base, patch)
	d, e := parseCADoc(mustJSON(base))
	if e != nil {
		return e
	}
	if t.securityDefaults && d.State == "enabled" {
		return caBad(msgSecurityDefaults)
	}
	d.ID = p.doc.ID
	if e := t.checkCASizeLocked(&d); e != nil {
		return e
	}
	p.doc, p.modified = d, time.Now().UTC()
	p.patches++
	t.noteCAWrite()
	c.noContent()
	return nil
}

// deleteCAPolicy serves DELETE /identity/conditionalAccess/policies/{pid}.
func deleteCAPolicy(c *call) *apiError {
	t := c.tenant
	t.mu.Lock()
	id := strings.ToLower(c.params["pid"])
	if t.caPolicies[id] == nil {
		t.mu.Unlock()
		return caNotFound(c.params["pid"])
	}
	delete(t.caPolicies, id)
	t.caOrder = slices.DeleteFunc(t.caOrder, func(s string) bool { return s == id })
	t.mu.Unlock()
	t.noteCAWrite()
	c.noContent()
	return nil
}
