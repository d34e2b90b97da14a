package graphsim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestGetUserDefaultProperties(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodGet, userPath(userAlice), b.tokA, nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	want := []string{"@odata.context", "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
		"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("properties %v, want %v", got, want)
	}
	if m["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users/$entity" || m["id"] != userAlice ||
		m["userPrincipalName"] != upnAlice || m["mobilePhone"] != nil {
		t.Errorf("body %s", r.body)
	}
}

func TestGetUserSelect(t *testing.T) {
	b := setup(t)
	sel := "id,userPrincipalName,userType,accountEnabled,onPremisesSyncEnabled"
	for _, tc := range []struct {
		name, ref string
		want      map[string]any
	}{
		{"member by id", userAlice, map[string]any{"id": userAlice, "userPrincipalName": upnAlice, "userType": "Member",
			"accountEnabled": true, "onPremisesSyncEnabled": nil}},
		{"member by UPN, other case", strings.ToUpper(upnAlice), map[string]any{"id": userAlice, "userPrincipalName": upnAlice,
			"userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": nil}},
		{"synced", userSynced, map[string]any{"id": userSynced, "userPrincipalName": "sync@contoso.onmicrosoft.com",
			"userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": true}},
		{"guest by #EXT# UPN", upnGuest, map[string]any{"id": userGuest, "userPrincipalName": upnGuest, "userType": "Guest",
			"accountEnabled": true, "onPremisesSyncEnabled": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// kiota sends $select percent-encoded.
			r := b.do(t, http.MethodGet, userPath(tc.ref)+"?%24select="+url.QueryEscape(sel), b.tokA, nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			m := r.json(t)
			if m["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#users("+sel+")/$entity" {
				t.Errorf("@odata.context %v", m["@odata.context"])
			}
			delete(m, "@odata.context")
			if !slices.Equal(keys(m), keys(tc.want)) {
				t.Fatalf("properties %v, want %v", keys(m), keys(tc.want))
			}
			for k, v := range tc.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
		})
	}
	r := b.do(t, http.MethodGet, userPath(userAlice)+"?$select=id,shoeSize", b.tokA, nil)
	if code, msg := r.graphError(t); r.status != 400 || code != "BadRequest" || !strings.Contains(msg, "'shoeSize'") {
		t.Errorf("unknown $select property: %d %s", r.status, r.body)
	}
}

func TestGetUserNotFound(t *testing.T) {
	b := setup(t)
	const missing = "0badc0de-0000-4000-8000-000000000000"
	r := b.do(t, http.MethodGet, userPath(missing), b.tokA, nil)
	code, msg := r.graphError(t)
	if r.status != 404 || code != "Request_ResourceNotFound" ||
		msg != "Resource '"+missing+"' does not exist or one of its queried reference-property objects are not present." {
		t.Errorf("%d %s %q", r.status, code, msg)
	}
}

func TestPatchUser(t *testing.T) {
	b := setup(t)
	body := `{"@odata.type":"#microsoft.graph.user","accountEnabled":false}`
	r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, gz(t, body), "Content-Encoding: gzip")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	u, _ := b.ta.User(userAlice)
	if u.AccountEnabled || u.PatchCount != 1 {
		t.Errorf("after PATCH: %+v", u)
	}
	r = b.do(t, http.MethodGet, userPath(upnAlice)+"?$select=accountEnabled", b.tokA, nil)
	if r.json(t)["accountEnabled"] != false {
		t.Errorf("GET after PATCH: %s", r.body)
	}
	// Plain (uncompressed) bodies and ordinary properties work too.
	r = b.do(t, http.MethodPatch, userPath(upnAlice), b.tokA, []byte(`{"accountEnabled":true,"jobTitle":"Lead"}`))
	if u, _ := b.ta.User(userAlice); r.status != 204 || !u.AccountEnabled {
		t.Errorf("PATCH by UPN: %d %s, state %+v", r.status, r.body, u)
	}

	for _, tc := range []struct {
		name, body, code, msg string
	}{
		{"unknown property", `{"accountEnabled":false,"shoeSize":44}`, "Request_BadRequest", "Invalid property 'shoeSize'."},
		{"read-only id", `{"id":"` + userAlice + `","accountEnabled":false}`, "Request_BadRequest", "Property 'id' is read-only and cannot be set."},
		{"wrong type", `{"accountEnabled":"false"}`, "BadRequest", "Cannot convert the literal 'false' to the expected type 'Edm.Boolean'."},
		{"wrong @odata.type", `{"@odata.type":"#microsoft.graph.group","accountEnabled":false}`, "BadRequest", ""},
		{"empty body", ``, "BadRequest", "Empty Payload. JSON content expected."},
		{"not JSON", `accountEnabled=false`, "BadRequest", msgUnreadablePayload},
		{"bad userType", `{"userType":"Visitor"}`, "Request_BadRequest", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, []byte(tc.body))
			code, msg := r.graphError(t)
			if r.status != 400 || code != tc.code || (tc.msg != "" && msg != tc.msg) {
				t.Errorf("%d %s %q, want 400 %s %q", r.status, code, msg, tc.code, tc.msg)
			}
			if u, _ := b.ta.User(userAlice); !u.AccountEnabled || u.PatchCount != 2 {
				t.Errorf("rejected PATCH changed state: %+v", u)
			}
		})
	}

	r = b.do(t, http.MethodPatch, userPath("0badc0de-0000-4000-8000-000000000000"), b.tokA, []byte(`{"accountEnabled":false}`))
	if code, _ := r.graphError(t); r.status != 404 || code != "Request_ResourceNotFound" {
		t.Errorf("PATCH unknown user: %d %s", r.status, r.body)
	}
}

func TestPatchOnPremisesSynced(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodPatch, userPath(userSynced), b.tokA, []byte(`{"accountEnabled":false}`))
	code, msg := r.graphError(t)
	if r.status != 400 || code != "Request_BadRequest" || msg != "Unable to update the specified properties for on-premises "+
		"mastered Directory Sync objects or objects currently undergoing migration." {
		t.Errorf("%d %s %q", r.status, code, msg)
	}
	if u, _ := b.ta.User(userSynced); !u.AccountEnabled || u.PatchCount != 0 {
		t.Errorf("state changed: %+v", u)
	}
}

func TestPatchPrivilegedTarget(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodPatch, userPath(userGA), b.tokA, []byte(`{"accountEnabled":false}`))
	code, msg := r.graphError(t)
	if r.status != 403 || code != "Authorization_RequestDenied" || msg != "Insufficient privileges to complete the operation." {
		t.Errorf("%d %s %q", r.status, code, msg)
	}
	if u, _ := b.ta.User(userGA); !u.AccountEnabled {
		t.Errorf("admin disabled despite 403")
	}
	// Non-sensitive properties of an admin can be changed.
	if r := b.do(t, http.MethodPatch, userPath(userGA), b.tokA, []byte(`{"jobTitle":"CIO"}`)); r.status != 204 {
		t.Errorf("PATCH jobTitle of admin: %d %s", r.status, r.body)
	}
	b.ta.SetAppHasPrivilegedRole(true)
	if r := b.do(t, http.MethodPatch, userPath(userGA), b.tokA, []byte(`{"accountEnabled":false}`)); r.status != 204 {
		t.Errorf("PATCH with privileged app: %d %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userGA); u.AccountEnabled {
		t.Errorf("admin still enabled")
	}
}

func TestRevokeSignInSessions(t *testing.T) {
	b := setup(t)
	for i, ref := range []string{userAlice, upnAlice, upnGuest} {
		r := b.do(t, http.MethodPost, userPath(ref)+"/revokeSignInSessions", b.tokA, nil)
		if r.status != 200 || string(r.body) != `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean","value":true}` {
			t.Fatalf("revoke %d: %d %s", i, r.status, r.body)
		}
	}
	a, _ := b.ta.User(userAlice)
	g, _ := b.ta.User(userGuest)
	if a.RevokedCount != 2 || a.LastRevokedAt.IsZero() || g.RevokedCount != 1 {
		t.Errorf("alice %+v guest %+v", a, g)
	}
	r := b.do(t, http.MethodPost, userPath("nobody@contoso.onmicrosoft.com")+"/revokeSignInSessions", b.tokA, nil)
	if code, _ := r.graphError(t); r.status != 404 || code != "Request_ResourceNotFound" {
		t.Errorf("revoke unknown: %d %s", r.status, r.body)
	}
}

func TestGzipBodies(t *testing.T) {
	b := setup(t)
	// kiota's retry bug: an uncompressed body labelled gzip.
	r := b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, []byte(`{"accountEnabled":false}`), "Content-Encoding: gzip")
	if code, _ := r.graphError(t); r.status != 400 || code != "BadRequest" {
		t.Errorf("corrupt gzip: %d %s", r.status, r.body)
	}
	if u, _ := b.ta.User(userAlice); !u.AccountEnabled {
		t.Errorf("corrupt request changed state")
	}
	// A truncated gzip stream.
	z := gz(t, `{"accountEnabled":false}`)
	r = b.do(t, http.MethodPatch, userPath(userAlice), b.tokA, z[:len(z)-6], "Content-Encoding: gzip")
	if r.status != 400 {
		t.Errorf("truncated gzip: %d %s", r.status, r.body)
	}
	// Revoke with a gzipped empty JSON object.
	r = b.do(t, http.MethodPost, userPath(userAlice)+"/revokeSignInSessions", b.tokA, gz(t, `{}`), "Content-Encoding: gzip")
	if r.status != 200 {
		t.Errorf("gzipped revoke: %d %s", r.status, r.body)
	}
}
