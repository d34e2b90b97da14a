package graphsim

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// GroupSpec describes a group to add. The kind follows from the fields as
// in Graph: a Microsoft 365 group has GroupTypes ["Unified"] and
// MailEnabled; a dynamic group has "DynamicMembership" and a
// MembershipRule; a mail-enabled security group has MailEnabled and
// SecurityEnabled; a distribution list has MailEnabled only.
type GroupSpec struct {
	ID                    string // object id (GUID); random when empty
	DisplayName           string
	MailNickname          string // derived from the display name when empty
	Description           string
	GroupTypes            []string
	MailEnabled           bool
	SecurityEnabled       bool
	MembershipRule        string
	OnPremisesSyncEnabled bool
	IsAssignableToRole    bool
	// Members are object ids (users or groups) or user principal names.
	Members []string
}

// GroupState is a snapshot of a simulated group.
type GroupState struct {
	ID                    string
	DisplayName           string
	GroupTypes            []string
	MailEnabled           bool
	SecurityEnabled       bool
	MembershipRule        string
	OnPremisesSyncEnabled bool
	IsAssignableToRole    bool
	Members               []string // direct member ids, sorted
	CreatedAt             time.Time
}

// group is the stored form of a group; guarded by its Tenant's mu.
type group struct {
	id, displayName, description, mailNickname, membershipRule string
	groupTypes                                                 []string
	mailEnabled, securityEnabled, onPremSync, roleAssignable   bool
	members                                                    map[string]bool // direct member ids
	created                                                    time.Time
	domain                                                     string
}

func (g *group) hasType(typ string) bool {
	return slices.ContainsFunc(g.groupTypes, func(s string) bool { return strings.EqualFold(s, typ) })
}
func (g *group) dynamic() bool { return g.hasType("DynamicMembership") }
func (g *group) unified() bool { return g.hasType("Unified") }

func (g *group) state() GroupState {
	ms := make([]string, 0, len(g.members))
	for m := range g.members {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return GroupState{g.id, g.displayName, slices.Clone(g.groupTypes), g.mailEnabled, g.securityEnabled,
		g.membershipRule, g.onPremSync, g.roleAssignable, ms, g.created}
}

// AddGroup adds (or replaces, by id) a group and returns its state.
func (t *Tenant) AddGroup(spec GroupSpec) GroupState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addGroupLocked(spec).state()
}

// addGroupLocked stores a group built from spec; t.mu held.
func (t *Tenant) addGroupLocked(spec GroupSpec) *group {
	g := &group{
		id: strings.ToLower(spec.ID), displayName: spec.DisplayName, description: spec.Description,
		mailNickname: spec.MailNickname, membershipRule: spec.MembershipRule,
		groupTypes: append([]string{}, spec.GroupTypes...), mailEnabled: spec.MailEnabled,
		securityEnabled: spec.SecurityEnabled, onPremSync: spec.OnPremisesSyncEnabled,
		roleAssignable: spec.IsAssignableToRole, members: make(map[string]bool),
		created: time.Now().UTC().Truncate(time.Second), domain: t.domain,
	}
	if g.id == "" {
		g.id = uuid.NewString()
	}
	if g.mailNickname == "" {
		g.mailNickname = strings.Map(func(r rune) rune {
			if r < 0x80 && (r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
				return r
			}
			return -1
		}, g.displayName)
	}
	for _, m := range spec.Members {
		if u := t.lookupLocked(m); u != nil {
			m = u.id
		}
		g.members[strings.ToLower(m)] = true
	}
	t.groups[g.id] = g
	return g
}

// Group returns the group with the given id.
func (t *Tenant) Group(id string) (GroupState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[strings.ToLower(id)]
	if g == nil {
		return GroupState{}, false
	}
	return g.state(), true
}

// Groups returns all groups ordered by display name, then id.
func (t *Tenant) Groups() []GroupState {
	t.mu.Lock()
	out := make([]GroupState, 0, len(t.groups))
	for _, g := range t.groups {
		out = append(out, g.state())
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].DisplayName != out[j].DisplayName {
			return out[i].DisplayName < out[j].DisplayName
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SetAppHasRoleManagement grants or withdraws RoleManagement.ReadWrite.Directory:
// it changes the granted permissions (see SetPermissions) and, at once,
// for tokens already issued too, the role writes and membership changes
// of role-assignable groups.
func (t *Tenant) SetAppHasRoleManagement(v bool) {
	t.mu.Lock()
	t.roleMgmt = v
	t.perms = slices.DeleteFunc(t.perms, func(p string) bool { return p == PermRoleManagementReadWrite })
	if v {
		t.perms = append(t.perms, PermRoleManagementReadWrite)
	}
	t.mu.Unlock()
}

// securityIdentifier derives the group's SID (S-1-12-1-...) from its id.
func securityIdentifier(id string) any {
	g, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	var parts []string
	for i := 0; i < 16; i += 4 {
		parts = append(parts, strconv.FormatUint(uint64(binary.LittleEndian.Uint32(g[i:i+4])), 10))
	}
	return "S-1-12-1-" + strings.Join(parts, "-")
}

func (g *group) mail() any {
	if !g.mailEnabled {
		return nil
	}
	return g.mailNickname + "@" + g.domain
}

// groupProps in the order Graph returns a group's default properties.
var groupProps = newPropSet("microsoft.graph.group", []*objProp[*group]{
	{name: "id", def: true, get: func(g *group) any { return g.id }},
	{name: "deletedDateTime", def: true, get: func(*group) any { return nil }},
	{name: "classification", def: true, get: func(*group) any { return nil }},
	{name: "createdDateTime", def: true, get: func(g *group) any { return g.created.Format(time.RFC3339) }},
	{name: "creationOptions", def: true, get: func(*group) any { return []string{} }},
	{name: "description", def: true, get: func(g *group) any { return nullable(g.description) }},
	{name: "displayName", def: true, get: func(g *group) any { return g.displayName }},
	{name: "expirationDateTime", def: true, get: func(*group) any { return nil }},
	{name: "groupTypes", def: true, get: func(g *group) any { return g.groupTypes }},
	{name: "isAssignableToRole", def: true, get: func(g *group) any {
		if g.roleAssignable {
			return true
		}
		return nil
	}},
	{name: "mail", def: true, get: (*group).mail},
	{name: "mailEnabled", def: true, get: func(g *group) any { return g.mailEnabled }},
	{name: "mailNickname", def: true, get: func(g *group) any { return g.mailNickname }},
	{name: "membershipRule", def: true, get: func(g *group) any { return nullable(g.membershipRule) }},
	{name: "membershipRuleProcessingState", def: true, get: func(g *group) any {
		if g.dynamic() {
			return "On"
		}
		return nil
	}},
	{name: "onPremisesSyncEnabled", def: true, get: func(g *group) any {
		if g.onPremSync {
			return true
		}
		return nil
	}},
	{name: "proxyAddresses", def: true, get: func(g *group) any {
		if m := g.mail(); m != nil {
			return []string{"SMTP:" + m.(string)}
		}
		return []string{}
	}},
	{name: "securityEnabled", def: true, get: func(g *group) any { return g.securityEnabled }},
	{name: "securityIdentifier", def: true, get: func(g *group) any { return securityIdentifier(g.id) }},
	{name: "visibility", def: true, get: func(g *group) any {
		if g.unified() {
			return "Private"
		}
		return nil
	}},
})

func (s *Server) registerGroupRoutes(rt *router[graphHandler]) {
	s.handleList(rt, "/groups", listGroups)
	rt.handle(http.MethodGet, "/groups/{gid}", getGroup)
	rt.handle(http.MethodPost, "/groups", createGroup)
	rt.handle(http.MethodPatch, "/groups/{gid}", patchGroup)
}

// getGroup serves GET /groups/{gid}[?$select=...].
func getGroup(c *call) *apiError {
	props, sel, e := groupProps.parseSelect(c.query.Get("$select"))
	if e != nil {
		return e
	}
	t := c.tenant
	t.mu.Lock()
	g := t.groups[strings.ToLower(c.params["gid"])]
	if g == nil {
		t.mu.Unlock()
		return notFound(c.params["gid"])
	}
	var buf bytes.Buffer
	groupProps.writeObject(&buf, g, props, false)
	t.mu.Unlock()
	c.writeJSON(http.StatusOK, withContext(buf.Bytes(), "groups"+sel+"/$entity"))
	return nil
}

// withContext prepends "@odata.context" to a rendered JSON object.
func withContext(obj []byte, context string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, graphMetadata+"#"+context)
	if len(obj) > 2 {
		buf.WriteByte(',')
	}
	buf.Write(obj[1:])
	return buf.Bytes()
}

// listGroups serves GET /groups[?$filter=displayName eq '...'].
func listGroups(c *call) *apiError {
	props, sel, e := groupProps.parseSelect(c.query.Get("$select"))
	if e != nil {
		return e
	}
	var match func(*group) bool
	if f := c.query.Get("$filter"); strings.TrimSpace(f) != "" {
		clauses, ok := parseEqFilter(f)
		if !ok {
			return &apiError{http.StatusBadRequest, codeBadRequest, "Invalid filter clause"}
		}
		for _, cl := range clauses {
			if cl.prop != "displayName" && cl.prop != "mailNickname" {
				return &apiError{http.StatusBadRequest, "Request_UnsupportedQuery",
					"Unsupported or invalid query filter clause specified for property '" + cl.prop + "' of resource 'Group'."}
			}
		}
		match = func(g *group) bool {
			for _, cl := range clauses {
				v := g.displayName
				if cl.prop == "mailNickname" {
					v = g.mailNickname
				}
				if !strings.EqualFold(v, cl.val) {
					return false
				}
			}
			return true
		}
	}
	t := c.tenant
	t.mu.Lock()
	var gs []*group
	for _, g := range t.groups {
		if match == nil || match(g) {
			gs = append(gs, g)
		}
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	lo, hi, next, e := c.page(len(gs), 100)
	if e != nil {
		t.mu.Unlock()
		return e
	}
	items := make([][]byte, 0, hi-lo)
	for _, g := range gs[lo:hi] {
		var buf bytes.Buffer
		groupProps.writeObject(&buf, g, props, false)
		items = append(items, buf.Bytes())
	}
	t.mu.Unlock()
	c.writeCollection("groups"+sel, next, items)
	return nil
}
