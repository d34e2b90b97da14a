package graph_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

func verify(t *testing.T, conn *graph.Connector, tn *remediation.Tenant) *remediation.Verification {
	t.Helper()
	v, err := conn.Verify(context.Background(), tn)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v == nil {
		t.Fatal("Verify returned nil")
	}
	return v
}

// requiredWhy maps the required permissions to what they are for.
func requiredWhy(names ...string) map[string]string {
	out := map[string]string{}
	for _, p := range remediation.RequiredPermissions {
		if slices.Contains(names, p.Name) {
			out[p.Name] = p.Why
		}
	}
	return out
}

func TestVerifyAllPermissions(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "v@contoso.example", AccountEnabled: true})
	v := verify(t, b.conn, b.tenant)
	want := slices.Sorted(slices.Values(graphsim.ProductPermissions))
	if !v.TokenAcquired || !v.ReadOK || v.Error != nil || len(v.Missing) != 0 || v.MissingFor != nil ||
		!slices.Equal(v.Granted, want) {
		t.Fatalf("verification %+v (error %+v), want everything granted %v", v, v.Error, want)
	}
	// One token request: the read reuses the token; the read is
	// GET /organization?$select=id.
	if n := tokenRequests(b.sim); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	org := lastRequest(t, b.sim, "GET", "/v1.0/organization")
	if org.Status != 200 || !strings.Contains(org.Query, "select=id") {
		t.Fatalf("organization read %+v", org)
	}
	if len(graphRequests(b.sim, "GET")) != 1 {
		t.Fatal("Verify made more than one Graph read")
	}
	// The JSON form lists empty slices, not null.
	raw, _ := json.Marshal(v)
	if !strings.Contains(string(raw), `"missing_permissions":[]`) {
		t.Errorf("JSON %s", raw)
	}

	// Verify neither used nor filled the cache of For: the directory gets
	// its own credential.
	d := b.dir(t)
	if _, err := d.GetUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if n := tokenRequests(b.sim); n != 2 {
		t.Fatalf("%d token requests after For, want 2", n)
	}
	verify(t, b.conn, b.tenant)
	if n := tokenRequests(b.sim); n != 3 {
		t.Fatalf("%d token requests after a second Verify, want 3 (always a fresh credential)", n)
	}
}

func TestVerifyMissingPermissions(t *testing.T) {
	b := setup(t, graph.Options{})
	// Broader permissions stand in for some required ones.
	b.st.SetPermissions([]string{"User.ReadWrite.All", "Policy.Read.All", "Group.ReadWrite.All"})
	v := verify(t, b.conn, b.tenant)
	missing := []string{"Policy.ReadWrite.ConditionalAccess", "RoleManagement.ReadWrite.Directory"}
	if !v.TokenAcquired || !v.ReadOK || v.Error != nil || !slices.Equal(v.Missing, missing) ||
		!maps.Equal(v.MissingFor, requiredWhy(missing...)) ||
		!slices.Equal(v.Granted, []string{"Group.ReadWrite.All", "Policy.Read.All", "User.ReadWrite.All"}) {
		t.Fatalf("verification %+v (error %+v)", v, v.Error)
	}
	if v.MissingFor["RoleManagement.ReadWrite.Directory"] == "" {
		t.Fatal("MissingFor does not say what the permission is for")
	}

	// Only the disabling permission: the read (and most else) fails.
	b.st.SetPermissions([]string{"User.EnableDisableAccount.All"})
	v = verify(t, b.conn, b.tenant)
	var all []string
	for _, p := range remediation.RequiredPermissions {
		if p.Name != "User.EnableDisableAccount.All" {
			all = append(all, p.Name)
		}
	}
	if !v.TokenAcquired || v.ReadOK || v.Error == nil || v.Error.Code != "Authorization_RequestDenied" ||
		!slices.Equal(v.Missing, all) || len(v.MissingFor) != len(all) {
		t.Fatalf("verification %+v (error %+v)", v, v.Error)
	}
}

func TestVerifyWrongSecret(t *testing.T) {
	b := setup(t, graph.Options{})
	const wrong = "wrong-secret~value.123"
	v := verify(t, b.conn, tenantFor(t, b.sim, b.st, wrong))
	if v.TokenAcquired || v.ReadOK || v.Error == nil || v.Error.Code != graph.CodeAuthentication ||
		!strings.Contains(v.Error.Message, "AADSTS7000215") || len(v.Granted) != 0 {
		t.Fatalf("verification %+v (error %+v)", v, v.Error)
	}
	raw, _ := json.Marshal(v)
	if strings.Contains(string(raw), wrong) || strings.Contains(string(raw), b.st.ClientSecret()) {
		t.Fatalf("verification holds a secret: %s", raw)
	}
	if len(graphRequests(b.sim, "GET")) != 0 {
		t.Fatal("Graph was called without a token")
	}
}

func TestVerifyCertificate(t *testing.T) {
	b := setup(t, graph.Options{})
	c := newCertificate(t, "remediator")
	b.st.SetCertificate(c.cert)
	v := verify(t, b.conn, tenantWith(t, b.sim, b.st, c.pkcs12Credential(t, "pfx-pass")))
	if !v.TokenAcquired || !v.ReadOK || len(v.Missing) != 0 {
		t.Fatalf("certificate verification %+v (error %+v)", v, v.Error)
	}
	// Another certificate: refused by the authority.
	v = verify(t, b.conn, tenantWith(t, b.sim, b.st, newCertificate(t, "other").pemCredential()))
	if v.TokenAcquired || v.Error == nil || v.Error.Code != graph.CodeAuthentication || !strings.Contains(v.Error.Message, "AADSTS700027") {
		t.Fatalf("wrong certificate verification %+v (error %+v)", v, v.Error)
	}
	// An unreadable stored certificate: reported, not an error.
	const password = "pfx-secret-pass"
	bad := c.pkcs12Credential(t, password)
	bad.Password = "x" + password
	v = verify(t, b.conn, tenantWith(t, b.sim, b.st, bad))
	if v.TokenAcquired || v.Error == nil || v.Error.Code != graph.CodeInvalidCredential || strings.Contains(v.Error.Message, password) {
		t.Fatalf("unreadable certificate verification %+v (error %+v)", v, v.Error)
	}
}

func TestVerifyErrors(t *testing.T) {
	b := setup(t, graph.Options{})
	bad := *b.tenant
	bad.GraphEndpoint = "http://127.0.0.1:1/v1.0"
	if _, err := b.conn.Verify(context.Background(), &bad); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("http endpoint: %v", err)
	}
	badKey := *b.tenant
	badKey.SecretKeyID = "other"
	if v, err := b.conn.Verify(context.Background(), &badKey); err == nil || v != nil {
		t.Fatalf("unknown key id: %+v, %v (the box failure is an error)", v, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := b.conn.Verify(ctx, b.tenant); err == nil || v != nil {
		t.Fatalf("canceled: %+v, %v", v, err)
	}
}

func TestScheduleRequestDenied(t *testing.T) {
	b := setup(t, graph.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "denied@contoso.example", AccountEnabled: true})
	b.st.AssignRole(u.ID, graphsim.RoleSecurityAdministrator, graphsim.AssignPIMActivated)
	d := b.full(t)
	ctx := context.Background()
	insts, err := d.ListActiveRoleInstances(ctx, u.ID)
	if err != nil || len(insts) != 1 {
		t.Fatalf("instances %+v, %v", insts, err)
	}
	for _, status := range []string{"Denied", "Failed"} {
		b.st.SetScheduleRequestStatus(status)
		ge := asGraphError(t, d.AdminRemoveRoleAssignment(ctx, insts[0], "risky"))
		if ge.Code != graph.CodeScheduleRequestFailed || ge.Status != 201 || ge.Operation != graph.OpRoleScheduleRequest ||
			!strings.Contains(ge.Message, status) || ge.RequestID == "" {
			t.Fatalf("%s request: %+v", status, ge)
		}
	}
	if got := simAssignments(b.st, func(a graphsim.RoleAssignmentState) bool { return a.PrincipalID == u.ID }); len(got) != 1 {
		t.Fatalf("a denied request removed the assignment: %+v", got)
	}
	b.st.SetScheduleRequestStatus("")
	if err := d.AdminRemoveRoleAssignment(ctx, insts[0], "risky"); err != nil {
		t.Fatalf("normal request: %v", err)
	}
}
