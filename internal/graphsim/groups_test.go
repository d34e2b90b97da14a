package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const (
	groupSec     = "90000000-0000-4000-8000-000000000001" // assigned security group: alice
	groupM365    = "90000000-0000-4000-8000-000000000002" // Microsoft 365: alice
	groupDynamic = "90000000-0000-4000-8000-000000000003" // dynamic: alice
	groupMailSec = "90000000-0000-4000-8000-000000000004" // mail-enabled security: alice
	groupDL      = "90000000-0000-4000-8000-000000000005" // distribution list: alice
	groupSynced  = "90000000-0000-4000-8000-000000000006" // synced from on-premises: alice
	groupRole    = "90000000-0000-4000-8000-000000000007" // role-assignable, GA: alice
	groupOuter   = "90000000-0000-4000-8000-000000000008" // contains groupSec
)

// addGroups adds one group of each kind to tenant A, alice in all of them.
func addGroups(b *bundle) {
	for _, g := range []GroupSpec{
		{ID: groupSec, DisplayName: "Sales Team", SecurityEnabled: true},
		{ID: groupM365, DisplayName: "Project X", GroupTypes: []string{"Unified"}, MailEnabled: true},
		{ID: groupDynamic, DisplayName: "All Analysts", GroupTypes: []string{"DynamicMembership"}, SecurityEnabled: true,
			MembershipRule: `(user.jobTitle -eq "Analyst")`},
		{ID: groupMailSec, DisplayName: "Finance Approvers", MailEnabled: true, SecurityEnabled: true},
		{ID: groupDL, DisplayName: "Announcements", MailEnabled: true},
		{ID: groupSynced, DisplayName: "HR (synced)", SecurityEnabled: true, OnPremisesSyncEnabled: true},
		{ID: groupRole, DisplayName: "Tier 0", SecurityEnabled: true, IsAssignableToRole: true},
	} {
		g.Members = []string{upnAlice}
		b.ta.AddGroup(g)
	}
	b.ta.AddGroup(GroupSpec{ID: groupOuter, DisplayName: "Everyone", SecurityEnabled: true, Members: []string{groupSec, userGuest}})
	b.ta.AssignRole(groupRole, RoleGlobalAdministrator, AssignDirect)
}

func TestGetGroup(t *testing.T) {
	b := setup(t)
	addGroups(b)
	r := b.do(t, http.MethodGet, "/v1.0/groups/"+groupM365, b.tokA, nil)
	m := r.json(t)
	if r.status != 200 || m["id"] != groupM365 || m["mail"] != "ProjectX@contoso.onmicrosoft.com" || m["mailEnabled"] != true ||
		!slices.Equal(strs(m["groupTypes"]), []string{"Unified"}) || m["@odata.context"] != graphMetadata+"#groups/$entity" ||
		m["securityIdentifier"] == nil || m["onPremisesSyncEnabled"] != nil {
		t.Errorf("M365 group: %d %s", r.status, r.body)
	}
	sel := "id,displayName,groupTypes,mailEnabled,securityEnabled,membershipRule,onPremisesSyncEnabled,isAssignableToRole"
	for _, tc := range []struct {
		id   string
		want map[string]any
	}{
		{groupDynamic, map[string]any{"membershipRule": `(user.jobTitle -eq "Analyst")`, "securityEnabled": true, "isAssignableToRole": nil}},
		{groupSynced, map[string]any{"onPremisesSyncEnabled": true, "mailEnabled": false}},
		{groupRole, map[string]any{"isAssignableToRole": true, "membershipRule": nil}},
		{groupDL, map[string]any{"mailEnabled": true, "securityEnabled": false}},
	} {
		r := b.do(t, http.MethodGet, "/v1.0/groups/"+tc.id+"?%24select="+url.QueryEscape(sel), b.tokA, nil)
		m := r.json(t)
		if r.status != 200 || len(m) != 9 || m["@odata.context"] != graphMetadata+"#groups("+sel+")/$entity" {
			t.Errorf("%s: %d %s", tc.id, r.status, r.body)
		}
		for k, v := range tc.want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.id, k, m[k], v)
			}
		}
	}
	b.do(t, http.MethodGet, "/v1.0/groups/"+groupSec+"?$select=id,shoeSize", b.tokA, nil).wantError(t, 400, "Request_BadRequest", "")
	b.do(t, http.MethodGet, "/v1.0/groups/0badc0de-0000-4000-8000-000000000000", b.tokA, nil).wantError(t, 404, "Request_ResourceNotFound", "")
	if g, ok := b.ta.Group(groupOuter); !ok || !slices.Equal(g.Members, []string{groupSec, userGuest}) {
		t.Errorf("Group(): %+v", g)
	}
}

func TestListGroupsFilterAndPaging(t *testing.T) {
	b := setup(t)
	addGroups(b)
	b.ta.AddGroup(GroupSpec{DisplayName: "O'Brien's team", SecurityEnabled: true})
	b.ta.AddGroup(GroupSpec{DisplayName: "sales team", SecurityEnabled: true}) // names are not unique

	v := b.do(t, http.MethodGet, "/v1.0/groups"+filterQuery("displayName eq 'Sales Team'"), b.tokA, nil).values(t)
	if len(v) != 2 {
		t.Errorf("displayName filter: %v", v)
	}
	v = b.do(t, http.MethodGet, "/v1.0/groups"+filterQuery("displayName eq 'O''Brien''s team'"), b.tokA, nil).values(t)
	if len(v) != 1 || v[0]["displayName"] != "O'Brien's team" {
		t.Errorf("quoted filter: %v", v)
	}
	b.do(t, http.MethodGet, "/v1.0/groups"+filterQuery("startswith(displayName,'S')"), b.tokA, nil).wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodGet, "/v1.0/groups"+filterQuery("mail eq 'x'"), b.tokA, nil).wantError(t, 400, "Request_UnsupportedQuery", "")
	b.do(t, http.MethodGet, "/v1.0/groups?$top=1000", b.tokA, nil).wantError(t, 400, "Request_BadRequest", "")

	// Pages of 3 until no nextLink; the link points at the simulator.
	seen := map[string]bool{}
	next := b.srv.URL() + "/v1.0/groups?%24top=3&%24select=id"
	for pages := 0; next != ""; pages++ {
		if pages > 10 || !strings.HasPrefix(next, b.srv.URL()+"/v1.0/groups?") {
			t.Fatalf("page %d: next %q", pages, next)
		}
		var page struct {
			Next  string           `json:"@odata.nextLink"`
			Value []map[string]any `json:"value"`
		}
		b.do(t, http.MethodGet, next, b.tokA, nil).decode(t, &page)
		for _, g := range page.Value {
			seen[g["id"].(string)] = true
		}
		next = page.Next
	}
	if len(seen) != 10 {
		t.Errorf("paged through %d groups, want 10", len(seen))
	}
}

func TestCreateGroup(t *testing.T) {
	b := setup(t)
	body := `{"displayName":"Remediation: require MFA","mailEnabled":false,"mailNickname":"remediation-mfa","securityEnabled":true,` +
		`"members@odata.bind":["https://graph.microsoft.com/v1.0/directoryObjects/` + userAlice + `"]}`
	r := b.do(t, http.MethodPost, "/v1.0/groups", b.tokA, gz(t, body), "Content-Encoding: gzip")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	if !isGUID(id) || m["securityEnabled"] != true || m["mailEnabled"] != false || len(strs(m["groupTypes"])) != 0 {
		t.Errorf("created %s", r.body)
	}
	if g, _ := b.ta.Group(id); !slices.Equal(g.Members, []string{userAlice}) {
		t.Errorf("members %v", g.Members)
	}
	// Same name again: Graph allows it.
	if r := b.do(t, http.MethodPost, "/v1.0/groups", b.tokA, []byte(body)); r.status != 201 || r.json(t)["id"] == id {
		t.Errorf("duplicate name: %d %s", r.status, r.body)
	}
	for i, tc := range []struct{ body, msg string }{
		{`{"displayName":"x","mailEnabled":false,"securityEnabled":true}`, "A value is required for property 'mailNickname' of resource 'Group'."},
		{`{"displayName":"x","mailEnabled":true,"mailNickname":"x","securityEnabled":true}`, "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or is set to false."},
		{`{"displayName":"x","mailEnabled":false,"mailNickname":"a b","securityEnabled":true}`, "Invalid value specified for property 'mailNickname' of resource 'Group'."},
		{`{"displayName":"x","mailEnabled":false,"mailNickname":"x","securityEnabled":true,"shoe":1}`, "Invalid property 'shoe'."},
		{`{"id":"` + userAlice + `","displayName":"x","mailEnabled":false,"mailNickname":"x","securityEnabled":true}`, "Property 'id' is read-only and cannot be set."},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			b.do(t, http.MethodPost, "/v1.0/groups", b.tokA, []byte(tc.body)).wantError(t, 400, "Request_BadRequest", tc.msg)
		})
	}
	// Role-assignable groups need RoleManagement.ReadWrite.Directory.
	roleGroup := `{"displayName":"Admins","mailEnabled":false,"mailNickname":"admins","securityEnabled":true,"isAssignableToRole":true}`
	b.ta.SetAppHasRoleManagement(false)
	b.do(t, http.MethodPost, "/v1.0/groups", b.tokA, []byte(roleGroup)).wantError(t, 403, "Authorization_RequestDenied", "")
	b.ta.SetAppHasRoleManagement(true)
	if r := b.do(t, http.MethodPost, "/v1.0/groups", b.tokA, []byte(roleGroup)); r.status != 201 || r.json(t)["isAssignableToRole"] != true {
		t.Errorf("role-assignable: %d %s", r.status, r.body)
	}
	if n := len(b.ta.Groups()); n != 3 {
		t.Errorf("%d groups", n)
	}
}
