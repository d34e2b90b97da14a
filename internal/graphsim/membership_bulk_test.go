package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func bindMembers(ids ...string) []byte {
	refs := make([]string, len(ids))
	for i, id := range ids {
		refs[i] = "https://graph.microsoft.com/v1.0/directoryObjects/" + id
	}
	b, _ := json.Marshal(map[string]any{"members@odata.bind": refs})
	return b
}

// PATCH /groups/{id} with members@odata.bind adds up to 20 members, all or
// none.
func TestAddGroupMembersInBulk(t *testing.T) {
	b := setup(t)
	addGroups(b)
	path := "/v1.0/groups/" + groupSec
	if r := b.do(t, http.MethodPatch, path, b.tokA, bindMembers(userGA, userGuest)); r.status != 204 {
		t.Fatalf("bulk add: %d %s", r.status, r.body)
	}
	want := sortedCopy([]string{userAlice, userGA, userGuest})
	// One existing member or one unknown object fails the whole request.
	b.do(t, http.MethodPatch, path, b.tokA, bindMembers(userSynced, userGA)).
		wantError(t, 400, "Request_BadRequest", msgMemberExists)
	b.do(t, http.MethodPatch, path, b.tokA, bindMembers(userSynced, "0badc0de-0000-4000-8000-000000000000")).
		wantError(t, 404, "Request_ResourceNotFound", "")
	b.do(t, http.MethodPatch, path, b.tokA, bindMembers(userSynced, userSynced)).
		wantError(t, 400, "Request_BadRequest", msgMemberExists)
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("0badc0de-0000-4000-8000-%012d", i)
	}
	b.do(t, http.MethodPatch, path, b.tokA, bindMembers(many...)).wantError(t, 400, "Request_BadRequest", "")
	b.do(t, http.MethodPatch, path, b.tokA, []byte(`{"displayName":"x"}`)).wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodPatch, path, b.tokA, []byte(`{"@odata.type":"#microsoft.graph.user","members@odata.bind":["https://graph.microsoft.com/v1.0/directoryObjects/`+userSynced+`"]}`)).
		wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodPatch, path, b.tokA, []byte(`{"members@odata.bind":[]}`)).wantError(t, 400, "BadRequest", "")
	b.do(t, http.MethodPatch, "/v1.0/groups/"+groupDynamic, b.tokA, bindMembers(userSynced)).
		wantError(t, 403, "Authorization_RequestDenied", "")
	if g, _ := b.ta.Group(groupSec); !slices.Equal(g.Members, want) {
		t.Errorf("members %v, want %v (refused requests must change nothing)", g.Members, want)
	}
}
