package graphsim

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"
)

func memberRef(groupID, memberID string) string {
	return "/v1.0/groups/" + groupID + "/members/" + memberID + "/$ref"
}

func addRef(host, id string) []byte {
	return []byte(`{"@odata.id":"https://` + host + `/v1.0/directoryObjects/` + id + `"}`)
}

func ids(v []map[string]any) []string {
	var out []string
	for _, o := range v {
		out = append(out, o["id"].(string))
	}
	sort.Strings(out)
	return out
}

func TestMemberOf(t *testing.T) {
	b := setup(t)
	addGroups(b)
	direct := []string{groupSec, groupM365, groupDynamic, groupMailSec, groupDL, groupSynced, groupRole}
	r := b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/microsoft.graph.group", b.tokA, nil)
	v := r.values(t)
	if r.status != 200 || !slices.Equal(ids(v), direct) || v[0]["@odata.type"] != "#microsoft.graph.group" ||
		r.header.Get("x-ms-resource-unit") != "2" || r.json(t)["@odata.context"] != graphMetadata+"#groups" {
		t.Errorf("memberOf groups: %d %s", r.status, r.body)
	}
	// The SDKs use the namespace alias.
	if v := b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/graph.group", b.tokA, nil).values(t); !slices.Equal(ids(v), direct) {
		t.Errorf("memberOf/graph.group: %v", ids(v))
	}
	if v := b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf/graph.directoryRole", b.tokA, nil).values(t); len(v) != 1 {
		t.Errorf("transitiveMemberOf/graph.directoryRole: %v", v)
	}
	// transitiveMemberOf adds the outer group (through groupSec).
	v = b.do(t, http.MethodGet, userPath(upnAlice)+"/transitiveMemberOf/microsoft.graph.group", b.tokA, nil).values(t)
	if want := append(slices.Clone(direct), groupOuter); !slices.Equal(ids(v), sortedCopy(want)) {
		t.Errorf("transitive groups %v", ids(v))
	}
	// Uncast: groups and directory roles (the GA role through groupRole).
	v = b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf", b.tokA, nil).values(t)
	var roles int
	for _, o := range v {
		if o["@odata.type"] == "#microsoft.graph.directoryRole" && o["roleTemplateId"] == RoleGlobalAdministrator {
			roles++
		}
	}
	if len(v) != 9 || roles != 1 {
		t.Errorf("transitiveMemberOf: %v", v)
	}
	// memberOf of the direct GA lists the role as a directory object.
	v = b.do(t, http.MethodGet, userPath(userGA)+"/memberOf", b.tokA, nil).values(t)
	if len(v) != 1 || v[0]["roleTemplateId"] != RoleGlobalAdministrator {
		t.Errorf("GA memberOf: %v", v)
	}
	// $select, paging, unknown property, unknown user.
	r = b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/microsoft.graph.group?$select=id,displayName&$top=5", b.tokA, nil)
	var page struct {
		Context string           `json:"@odata.context"`
		Next    string           `json:"@odata.nextLink"`
		Value   []map[string]any `json:"value"`
	}
	r.decode(t, &page)
	if len(page.Value) != 5 || len(page.Value[0]) != 3 || page.Next == "" || page.Context != graphMetadata+"#groups(id,displayName)" ||
		r.header.Get("x-ms-resource-unit") != "1" {
		t.Errorf("select+top: %s", r.body)
	}
	if v := b.do(t, http.MethodGet, page.Next, b.tokA, nil).values(t); len(v) != 2 {
		t.Errorf("second page %v", v)
	}
	b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/microsoft.graph.group?$select=shoe", b.tokA, nil).
		wantError(t, 400, "Request_BadRequest", "")
	b.do(t, http.MethodGet, userPath("nobody@contoso.onmicrosoft.com")+"/memberOf", b.tokA, nil).
		wantError(t, 404, "Request_ResourceNotFound", "")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func TestRemoveGroupMember(t *testing.T) {
	b := setup(t)
	addGroups(b)
	for _, tc := range []struct {
		name, group  string
		status       int
		code, msg    string
		stillAMember bool
	}{
		{"security", groupSec, 204, "", "", false},
		{"again", groupSec, 400, "Request_BadRequest", msgMemberNotPresent, false},
		{"m365", groupM365, 204, "", "", false},
		{"dynamic", groupDynamic, 403, "Authorization_RequestDenied", msgInsufficientPrivileges, true},
		{"mail-enabled security", groupMailSec, 400, "Request_BadRequest", msgMailEnabledGroup, true},
		{"distribution list", groupDL, 400, "Request_BadRequest", "Cannot Update a mail-enabled security groups and or distribution list.", true},
		{"synced", groupSynced, 400, "Request_BadRequest", msgOnPremisesMastered, true},
		{"unknown group", "0badc0de-0000-4000-8000-000000000000", 404, "Request_ResourceNotFound", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, http.MethodDelete, memberRef(tc.group, userAlice), b.tokA, nil)
			if tc.status == 204 {
				if r.status != 204 {
					t.Fatalf("%d %s", r.status, r.body)
				}
			} else {
				r.wantError(t, tc.status, tc.code, tc.msg)
			}
			if g, ok := b.ta.Group(tc.group); ok && slices.Contains(g.Members, userAlice) != tc.stillAMember {
				t.Errorf("members %v", g.Members)
			}
		})
	}
	b.do(t, http.MethodDelete, memberRef(groupSec, "nobody@contoso.onmicrosoft.com"), b.tokA, nil).
		wantError(t, 404, "Request_ResourceNotFound", "")
	// Role-assignable groups need RoleManagement.ReadWrite.Directory.
	b.ta.SetAppHasRoleManagement(false)
	b.do(t, http.MethodDelete, memberRef(groupRole, userAlice), b.tokA, nil).wantError(t, 403, "Authorization_RequestDenied", "")
	b.ta.SetAppHasRoleManagement(true)
	if r := b.do(t, http.MethodDelete, memberRef(groupRole, upnAlice), b.tokA, nil); r.status != 204 {
		t.Errorf("role-assignable: %d %s", r.status, r.body)
	}
	// Alice lost the group-held GA role with it.
	if v := b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf/microsoft.graph.directoryRole", b.tokA, nil).values(t); len(v) != 0 {
		t.Errorf("roles after removal %v", v)
	}
}

func TestAddGroupMember(t *testing.T) {
	b := setup(t)
	addGroups(b)
	host := b.srv.URL()[len("https://"):]
	if r := b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", b.tokA, addRef("graph.microsoft.com", userGA)); r.status != 204 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", b.tokA, addRef("graph.microsoft.com", userGA)).
		wantError(t, 400, "Request_BadRequest", msgMemberExists)
	if r := b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", b.tokA, addRef(host, userSynced)); r.status != 204 {
		t.Errorf("simulator host: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		name, group string
		body        []byte
		status      int
		code        string
	}{
		{"foreign host", groupSec, addRef("evil.example", userGuest), 400, "BadRequest"},
		{"no @odata.id", groupSec, []byte(`{"id":"` + userGuest + `"}`), 400, "BadRequest"},
		{"not a reference", groupSec, []byte(`{"@odata.id":"` + userGuest + `"}`), 400, "BadRequest"},
		{"unknown object", groupSec, addRef("graph.microsoft.com", "0badc0de-0000-4000-8000-000000000000"), 404, "Request_ResourceNotFound"},
		{"dynamic", groupDynamic, addRef("graph.microsoft.com", userGuest), 403, "Authorization_RequestDenied"},
		{"distribution list", groupDL, addRef("graph.microsoft.com", userGuest), 400, "Request_BadRequest"},
		{"group into role-assignable", groupRole, addRef("graph.microsoft.com", groupSec), 400, "Request_BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.do(t, http.MethodPost, "/v1.0/groups/"+tc.group+"/members/$ref", b.tokA, tc.body).wantError(t, tc.status, tc.code, "")
		})
	}
	if g, _ := b.ta.Group(groupSec); !slices.Equal(g.Members, sortedCopy([]string{userAlice, userGA, userSynced})) {
		t.Errorf("members %v", g.Members)
	}
}

func TestDeleteMemberWithoutRefDeletesTheUser(t *testing.T) {
	b := setup(t)
	for _, g := range []GroupSpec{
		{ID: groupSec, DisplayName: "team", SecurityEnabled: true, Members: []string{userAlice}},
		{ID: groupM365, DisplayName: "project", GroupTypes: []string{"Unified"}, MailEnabled: true, Members: []string{userAlice}},
		{ID: "90000000-0000-4000-8000-0000000000aa", DisplayName: "admins", SecurityEnabled: true, Members: []string{userGA, userSynced}},
	} {
		b.ta.AddGroup(g)
	}
	if r := b.do(t, http.MethodDelete, "/v1.0/groups/"+groupSec+"/members/"+userAlice, b.tokA, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, ok := b.ta.User(userAlice); ok {
		t.Fatalf("alice still exists")
	}
	if d := b.ta.DeletedObjects(); !slices.Equal(d, []string{userAlice}) {
		t.Errorf("deleted %v", d)
	}
	b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil).wantError(t, 404, "Request_ResourceNotFound", "")
	if g, _ := b.ta.Group(groupM365); len(g.Members) != 0 {
		t.Errorf("alice still in other groups: %v", g.Members)
	}
	// Not a member: 404. Synced users and admins are protected like any delete.
	b.do(t, http.MethodDelete, "/v1.0/groups/"+groupSec+"/members/"+userGuest, b.tokA, nil).wantError(t, 404, "Request_ResourceNotFound", "")
	b.do(t, http.MethodDelete, "/v1.0/groups/90000000-0000-4000-8000-0000000000aa/members/"+userSynced, b.tokA, nil).
		wantError(t, 400, "Request_BadRequest", msgOnPremisesMastered)
	b.do(t, http.MethodDelete, "/v1.0/groups/90000000-0000-4000-8000-0000000000aa/members/"+userGA, b.tokA, nil).
		wantError(t, 403, "Authorization_RequestDenied", "")
	if n := len(b.ta.Users()); n != 3 {
		t.Errorf("%d users left", n)
	}
}

func TestConcurrentMembershipChanges(t *testing.T) {
	b := setup(t)
	addGroups(b)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var r resp
				ok := []int{200}
				switch (w + i) % 4 {
				case 0:
					r, ok = b.do(t, http.MethodDelete, memberRef(groupSec, userAlice), b.tokA, nil), []int{204, 400}
				case 1:
					r, ok = b.do(t, http.MethodPost, "/v1.0/groups/"+groupSec+"/members/$ref", b.tokA,
						addRef("graph.microsoft.com", userAlice)), []int{204, 400}
				case 2:
					r = b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf", b.tokA, nil)
				default:
					r = b.do(t, http.MethodGet, instancesPath+filterQuery("principalId eq '"+userAlice+"'"), b.tokA, nil)
				}
				if !slices.Contains(ok, r.status) {
					t.Errorf("worker %d request %d: %d %s", w, i, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	if g, ok := b.ta.Group(groupSec); !ok || len(g.Members) > 1 {
		t.Errorf("group %+v", g)
	}
}

func TestCastAliasAndRefQuery(t *testing.T) {
	b := setup(t)
	addGroups(b)
	// A fault named with the full cast hits the SDK's alias spelling, and
	// the other way round; the log shows the full name.
	b.srv.InjectFault(FaultSpec{Operation: "GET /users/{id}/memberOf/microsoft.graph.group", Status: 503, Times: 1})
	b.srv.InjectFault(FaultSpec{Operation: "GET /v1.0/users/{id}/transitiveMemberOf/graph.directoryRole", Status: 504, Times: 1})
	if r := b.do(t, http.MethodGet, userPath(userAlice)+"/memberOf/graph.group", b.tokA, nil); r.status != 503 {
		t.Errorf("alias with fault: %d", r.status)
	}
	if r := b.do(t, http.MethodGet, userPath(userAlice)+"/transitiveMemberOf/microsoft.graph.directoryRole", b.tokA, nil); r.status != 504 {
		t.Errorf("full name with alias fault: %d", r.status)
	}
	reqs := b.srv.Requests()
	if op := reqs[len(reqs)-2].Operation; op != "GET /users/{id}/memberOf/microsoft.graph.group" {
		t.Errorf("operation %q", op)
	}
	// DELETE members/$ref?@id=... is the other spelling of members/{id}/$ref.
	target := "/v1.0/groups/" + groupSec + "/members/$ref?%40id=" +
		url.QueryEscape("https://graph.microsoft.com/v1.0/directoryObjects/"+userAlice)
	if r := b.do(t, http.MethodDelete, target, b.tokA, nil); r.status != 204 {
		t.Fatalf("@id delete: %d %s", r.status, r.body)
	}
	b.do(t, http.MethodDelete, target, b.tokA, nil).wantError(t, 400, "Request_BadRequest", msgMemberNotPresent)
	b.do(t, http.MethodDelete, "/v1.0/groups/"+groupSec+"/members/$ref?%40id=nope", b.tokA, nil).wantError(t, 400, "BadRequest", "")
}
