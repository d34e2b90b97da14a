package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

func TestGetGroupReadsEveryKind(t *testing.T) {
	b := setup(t, graph.Options{})
	d := b.full(t)
	ctx := context.Background()
	specs := map[string]graphsim.GroupSpec{
		"security":        {DisplayName: "Sec", SecurityEnabled: true},
		"microsoft 365":   {DisplayName: "M365", GroupTypes: []string{"Unified"}, MailEnabled: true},
		"dynamic":         {DisplayName: "Dyn", GroupTypes: []string{"DynamicMembership"}, SecurityEnabled: true, MembershipRule: `(user.department -eq "Sales")`},
		"mail security":   {DisplayName: "MailSec", MailEnabled: true, SecurityEnabled: true},
		"distribution":    {DisplayName: "DL", MailEnabled: true},
		"synced":          {DisplayName: "Synced", SecurityEnabled: true, OnPremisesSyncEnabled: true},
		"role-assignable": {DisplayName: "Admins", SecurityEnabled: true, IsAssignableToRole: true},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			s := b.st.AddGroup(spec)
			g, err := d.GetGroup(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := remediation.Group{ID: s.ID, DisplayName: s.DisplayName, GroupTypes: s.GroupTypes, MailEnabled: s.MailEnabled,
				SecurityEnabled: s.SecurityEnabled, MembershipRule: s.MembershipRule,
				OnPremisesSyncEnabled: s.OnPremisesSyncEnabled, IsAssignableToRole: s.IsAssignableToRole}
			if !sameGroup(*g, want) {
				t.Fatalf("GetGroup = %+v, want %+v", *g, want)
			}
			if g.Dynamic() != (name == "dynamic") || g.Unified() != (name == "microsoft 365") {
				t.Errorf("Dynamic %v Unified %v", g.Dynamic(), g.Unified())
			}
			q := lastQuery(t, b.sim, "GET", "/v1.0/groups/"+s.ID)
			if got := q.Get("$select"); got != "id,displayName,groupTypes,mailEnabled,securityEnabled,membershipRule,onPremisesSyncEnabled,isAssignableToRole" {
				t.Errorf("$select = %q", got)
			}
		})
	}
	ge := asGraphError(t, func() error { _, err := d.GetGroup(ctx, "00000000-0000-0000-0000-00000000abcd"); return err }())
	if ge.Status != 404 || ge.Code != "Request_ResourceNotFound" || ge.Operation != graph.OpGetGroup {
		t.Fatalf("missing group: %+v", ge)
	}
}

func TestListMemberOfGroupsFollowsPages(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "many@contoso.example", AccountEnabled: true})
	var want []string
	for i := range 130 {
		want = append(want, b.st.AddGroup(graphsim.GroupSpec{DisplayName: fmt.Sprintf("G%03d", i), SecurityEnabled: true,
			Members: []string{u.ID}}).ID)
	}
	// Nested membership only: not a direct group of u.
	b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Outer", SecurityEnabled: true, Members: []string{want[0]}})
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)

	got, err := b.full(t).ListMemberOfGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.ID)
		if !g.SecurityEnabled || !strings.HasPrefix(g.DisplayName, "G") {
			t.Errorf("group %+v", g)
		}
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("%d groups, want %d", len(ids), len(want))
	}
	// Two pages, each one call in the log.
	calls := log.Calls()
	if len(calls) != 2 || calls[0].Operation != graph.OpListMemberOf || calls[1].Operation != graph.OpListMemberOf ||
		calls[1].HTTPStatus != 200 {
		t.Fatalf("calls %+v", calls)
	}
	gets := graphRequests(b.sim, "GET")
	if len(gets) != 2 || !strings.Contains(gets[1].Query, "skiptoken") {
		t.Fatalf("GET requests %+v", gets)
	}
}

func TestRemoveGroupMemberUsesRef(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "member@contoso.example", AccountEnabled: true})
	keep := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "keep@contoso.example", AccountEnabled: true})
	g := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Team", SecurityEnabled: true, Members: []string{u.ID, keep.ID}})
	d := b.full(t)
	ctx := context.Background()

	if err := d.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.st.Group(g.ID); !slices.Equal(s.Members, []string{keep.ID}) {
		t.Fatalf("members %v, want only %s", s.Members, keep.ID)
	}
	if _, ok := b.st.User(u.ID); !ok || len(b.st.DeletedObjects()) != 0 {
		t.Fatalf("the user object was deleted: %v", b.st.DeletedObjects())
	}
	dels := graphRequests(b.sim, "DELETE")
	if len(dels) != 1 || dels[0].Path != "/v1.0/groups/"+g.ID+"/members/"+u.ID+"/$ref" {
		t.Fatalf("DELETE requests %+v", dels)
	}

	// Not a member any more: Graph's 400.
	ge := asGraphError(t, d.RemoveGroupMember(ctx, g.ID, u.ID))
	if ge.Status != 400 || ge.Code != "Request_BadRequest" || ge.Operation != graph.OpRemoveGroupMember ||
		!strings.Contains(ge.Message, "do not exist") {
		t.Fatalf("second removal: %+v", ge)
	}

	for name, spec := range map[string]graphsim.GroupSpec{
		"mail-enabled security": {DisplayName: "MailSec", MailEnabled: true, SecurityEnabled: true, Members: []string{keep.ID}},
		"synced":                {DisplayName: "Synced", SecurityEnabled: true, OnPremisesSyncEnabled: true, Members: []string{keep.ID}},
	} {
		s := b.st.AddGroup(spec)
		if ge := asGraphError(t, d.RemoveGroupMember(ctx, s.ID, keep.ID)); ge.Status != 400 || ge.Retryable() {
			t.Errorf("%s: %+v", name, ge)
		}
	}
	if ge := asGraphError(t, d.RemoveGroupMember(ctx, "00000000-0000-0000-0000-00000000abcd", keep.ID)); ge.Status != 404 {
		t.Errorf("missing group: %+v", ge)
	}
	for _, r := range graphRequests(b.sim, "DELETE") {
		if !strings.HasSuffix(r.Path, "/$ref") {
			t.Errorf("DELETE without /$ref: %s", r.Path)
		}
	}
	before := len(b.sim.Requests())
	if err := d.RemoveGroupMember(ctx, g.ID, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("empty user id: %v", err)
	}
	if len(b.sim.Requests()) != before {
		t.Fatal("an empty id reached Graph")
	}
}

func TestAddGroupMember(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "back@contoso.example", AccountEnabled: true})
	g := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Team", SecurityEnabled: true})
	d := b.full(t)
	ctx := context.Background()

	if err := d.AddGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.st.Group(g.ID); !slices.Equal(s.Members, []string{u.ID}) {
		t.Fatalf("members %v", s.Members)
	}
	body := lastBody(t, b.sim, "POST", "/v1.0/groups/"+g.ID+"/members/$ref")
	if want := map[string]any{"@odata.id": b.sim.GraphURL() + "/directoryObjects/" + u.ID}; !sameFields(body, want) {
		t.Fatalf("body %v, want %v", body, want)
	}
	ge := asGraphError(t, d.AddGroupMember(ctx, g.ID, u.ID))
	if ge.Status != 400 || ge.Operation != graph.OpAddGroupMember || !strings.Contains(ge.Message, "already exist") {
		t.Fatalf("second add: %+v", ge)
	}
}

func TestCreateAndFindSecurityGroup(t *testing.T) {
	b := setup(t, graph.Options{})
	d := b.full(t)
	ctx := context.Background()

	if g, err := d.FindGroupByDisplayName(ctx, "Remediator MFA targets"); err != nil || g != nil {
		t.Fatalf("before creation: %+v, %v", g, err)
	}
	created, err := d.CreateSecurityGroup(ctx, "Remediator MFA targets", "remediator-mfa")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := b.st.Group(created.ID)
	if !ok || s.DisplayName != "Remediator MFA targets" || !s.SecurityEnabled || s.MailEnabled || len(s.GroupTypes) != 0 {
		t.Fatalf("simulator holds %+v", s)
	}
	if created.DisplayName != s.DisplayName || !created.SecurityEnabled || created.MailEnabled {
		t.Fatalf("CreateSecurityGroup = %+v", created)
	}
	body := lastBody(t, b.sim, "POST", "/v1.0/groups")
	want := map[string]any{"displayName": "Remediator MFA targets", "mailNickname": "remediator-mfa", "mailEnabled": false,
		"securityEnabled": true}
	if !sameFields(body, want, "@odata.type") {
		t.Fatalf("body %v, want %v", body, want)
	}

	found, err := d.FindGroupByDisplayName(ctx, "Remediator MFA targets")
	if err != nil || found == nil || found.ID != created.ID {
		t.Fatalf("FindGroupByDisplayName = %+v, %v", found, err)
	}
	// Exact names only (Graph's eq ignores case).
	if g, err := d.FindGroupByDisplayName(ctx, "remediator mfa TARGETS"); err != nil || g != nil {
		t.Fatalf("other case: %+v, %v", g, err)
	}

	// Quotes are doubled in the filter.
	quoted := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "O'Brien's team", SecurityEnabled: true})
	found, err = d.FindGroupByDisplayName(ctx, "O'Brien's team")
	if err != nil || found == nil || found.ID != quoted.ID {
		t.Fatalf("quoted name: %+v, %v", found, err)
	}
	if q := lastQuery(t, b.sim, "GET", "/v1.0/groups"); q.Get("$filter") != "displayName eq 'O''Brien''s team'" {
		t.Errorf("$filter = %q", q.Get("$filter"))
	}

	// Two groups with the name: which one is ours cannot be told.
	b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Remediator MFA targets", SecurityEnabled: true})
	if _, err := d.FindGroupByDisplayName(ctx, "Remediator MFA targets"); remediation.ErrorCode(err) != remediation.ECONFLICT {
		t.Fatalf("duplicate names: %v", err)
	}

	// Graph refuses a bad nickname.
	ge := asGraphError(t, func() error { _, err := d.CreateSecurityGroup(ctx, "Bad", "bad nick"); return err }())
	if ge.Status != 400 || ge.Operation != graph.OpCreateGroup {
		t.Fatalf("bad nickname: %+v", ge)
	}
}

func TestFindGroupFollowsPages(t *testing.T) {
	b := setup(t, graph.Options{})
	for range 105 {
		b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Same name", SecurityEnabled: true})
	}
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)
	_, err := b.full(t).FindGroupByDisplayName(ctx, "Same name")
	if remediation.ErrorCode(err) != remediation.ECONFLICT || !strings.Contains(err.Error(), "105 groups") {
		t.Fatalf("err %v", err)
	}
	if calls := log.Calls(); len(calls) != 2 || calls[1].Operation != graph.OpListGroups {
		t.Fatalf("calls %+v", calls)
	}
}

func sameGroup(a, b remediation.Group) bool {
	return a.ID == b.ID && a.DisplayName == b.DisplayName && slices.Equal(a.GroupTypes, b.GroupTypes) &&
		a.MailEnabled == b.MailEnabled && a.SecurityEnabled == b.SecurityEnabled && a.MembershipRule == b.MembershipRule &&
		a.OnPremisesSyncEnabled == b.OnPremisesSyncEnabled && a.IsAssignableToRole == b.IsAssignableToRole
}

func TestAddGroupMembers(t *testing.T) {
	b := setup(t, graph.Options{})
	var ids []string
	for i := range 3 {
		u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: fmt.Sprintf("bulk%d@contoso.example", i), AccountEnabled: true})
		ids = append(ids, u.ID)
	}
	g := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Targets", SecurityEnabled: true})
	d := b.full(t)
	ctx := context.Background()

	if err := d.AddGroupMembers(ctx, g.ID, ids[:2]); err != nil {
		t.Fatal(err)
	}
	body := lastBody(t, b.sim, "PATCH", "/v1.0/groups/"+g.ID)
	want := map[string]any{"@odata.type": "#microsoft.graph.group", "members@odata.bind": []any{b.sim.GraphURL() + "/directoryObjects/" + ids[0],
		b.sim.GraphURL() + "/directoryObjects/" + ids[1]}}
	if !sameFields(body, want) {
		t.Fatalf("body %v, want %v", body, want)
	}
	// All or none: an existing member fails the request, the new one is not added.
	ge := asGraphError(t, d.AddGroupMembers(ctx, g.ID, ids[1:]))
	if ge.Status != 400 || ge.Operation != graph.OpAddGroupMembers || !strings.Contains(ge.Message, "already exist") {
		t.Fatalf("add with an existing member: %+v", ge)
	}
	if s, _ := b.st.Group(g.ID); !slices.Equal(s.Members, sortedStrings(ids[:2])) {
		t.Fatalf("members %v, want %v", s.Members, ids[:2])
	}
	before := len(b.sim.Requests())
	too := make([]string, remediation.MaxMembersPerRequest+1)
	for i := range too {
		too[i] = ids[0]
	}
	if err := d.AddGroupMembers(ctx, g.ID, too); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("21 members: %v", err)
	}
	if err := d.AddGroupMembers(ctx, g.ID, nil); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("no members: %v", err)
	}
	if len(b.sim.Requests()) != before {
		t.Fatal("a refused batch reached Graph")
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
