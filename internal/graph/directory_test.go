package graph_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
)

func TestGetUserReadsSelectedProperties(t *testing.T) {
	b := setup(t, graph.Options{})
	member := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "alice@contoso.example", AccountEnabled: true})
	guest := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "bob_fabrikam.example#EXT#@contoso.example",
		UserType: "Guest", AccountEnabled: false, OnPremisesSyncEnabled: true})
	d := b.dir(t)
	ctx := context.Background()

	u, err := d.GetUser(ctx, member.ID)
	if err != nil {
		t.Fatalf("GetUser(member): %v", err)
	}
	if u.ID != member.ID || u.UserPrincipalName != "alice@contoso.example" || u.UserType != "Member" ||
		!u.AccountEnabled || u.OnPremisesSyncEnabled {
		t.Fatalf("member = %+v", *u)
	}

	// By UPN, with '#' and '@' that must be escaped in the path.
	u, err = d.GetUser(ctx, guest.UserPrincipalName)
	if err != nil {
		t.Fatalf("GetUser(guest UPN): %v", err)
	}
	if u.ID != guest.ID || u.UserType != "Guest" || !u.IsGuest() || u.AccountEnabled || !u.OnPremisesSyncEnabled {
		t.Fatalf("guest = %+v", *u)
	}

	gets := graphRequests(b.sim, "GET")
	if len(gets) != 2 {
		t.Fatalf("%d GET requests, want 2", len(gets))
	}
	last := gets[1]
	if last.Path != "/v1.0/users/"+guest.UserPrincipalName || last.Operation != "GET /users/{id}" {
		t.Errorf("path %q operation %q", last.Path, last.Operation)
	}
	q, err := url.ParseQuery(last.Query)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Get("$select"); got != "id,userPrincipalName,userType,accountEnabled,onPremisesSyncEnabled" {
		t.Errorf("$select = %q (query %q)", got, last.Query)
	}
}

func TestSetAccountEnabledChangesState(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "carol@contoso.example", AccountEnabled: true})
	d := b.dir(t)
	ctx := context.Background()

	if err := d.SetAccountEnabled(ctx, u.ID, false); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if s, _ := b.st.User(u.ID); s.AccountEnabled || s.PatchCount != 1 {
		t.Fatalf("after disable: enabled=%v patches=%d", s.AccountEnabled, s.PatchCount)
	}
	// By UPN this time.
	if err := d.SetAccountEnabled(ctx, u.UserPrincipalName, true); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if s, _ := b.st.User(u.ID); !s.AccountEnabled || s.PatchCount != 2 {
		t.Fatalf("after enable: enabled=%v patches=%d", s.AccountEnabled, s.PatchCount)
	}

	patches := graphRequests(b.sim, "PATCH")
	if len(patches) != 2 {
		t.Fatalf("%d PATCH requests, want 2", len(patches))
	}
	// The SDK's gzip compression is kept.
	if patches[0].ContentEncoding != "gzip" {
		t.Errorf("Content-Encoding %q, want gzip", patches[0].ContentEncoding)
	}
	if body := string(patches[0].Body); !strings.Contains(body, `"accountEnabled":false`) {
		t.Errorf("PATCH body %s", body)
	}
}

func TestRevokeSignInSessions(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "dave@contoso.example", AccountEnabled: true})
	d := b.dir(t)
	if err := d.RevokeSignInSessions(context.Background(), u.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := d.RevokeSignInSessions(context.Background(), u.UserPrincipalName); err != nil {
		t.Fatalf("revoke by UPN: %v", err)
	}
	if s, _ := b.st.User(u.ID); s.RevokedCount != 2 {
		t.Fatalf("RevokedCount = %d, want 2", s.RevokedCount)
	}
	posts := graphRequests(b.sim, "POST")
	if len(posts) != 2 || posts[0].Operation != "POST /users/{id}/revokeSignInSessions" {
		t.Fatalf("POST requests: %+v", posts)
	}
}

func TestEmptyIDIsRefused(t *testing.T) {
	b := setup(t, graph.Options{})
	if _, err := b.dir(t).GetUser(context.Background(), ""); err == nil {
		t.Fatal("GetUser(\"\") succeeded")
	}
	if n := len(graphRequests(b.sim, "GET")); n != 0 {
		t.Fatalf("%d requests reached Graph", n)
	}
}
