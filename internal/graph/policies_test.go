package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

const policiesPath = "/v1.0/identity/conditionalAccess/policies"

// caSetup is a bundle whose tenant has no Conditional Access rate limit.
func caSetup(t *testing.T, simOpts graphsim.Options) *bundle {
	t.Helper()
	simOpts.CARequestsPerSecond = -1
	return setupWith(t, simOpts, graph.Options{})
}

func TestCreateCAPolicyRequiringMFA(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "risky@contoso.example", AccountEnabled: true})
	bg := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "breakglass@contoso.example", AccountEnabled: true})
	d := b.full(t)
	ctx := context.Background()

	created, err := d.CreateCAPolicy(ctx, remediation.CAPolicy{
		ID: "ignored", DisplayName: "Remediator: require MFA", State: "enabled",
		IncludeUsers: []string{u.ID}, ExcludeUsers: []string{bg.ID}, BuiltInControls: []string{"mfa"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := remediation.CAPolicy{ID: created.ID, DisplayName: "Remediator: require MFA", State: "enabled",
		IncludeUsers: []string{u.ID}, ExcludeUsers: []string{bg.ID}, IncludeGroups: []string{}, ExcludeGroups: []string{},
		BuiltInControls: []string{"mfa"}}
	if created.ID == "" || created.ID == "ignored" || !reflect.DeepEqual(*created, want) {
		t.Fatalf("created %+v, want %+v", *created, want)
	}
	s, ok := b.st.CAPolicy(created.ID)
	if !ok || s.DisplayName != want.DisplayName || s.State != "enabled" || !slices.Equal(s.IncludeUsers, want.IncludeUsers) ||
		!slices.Equal(s.ExcludeUsers, want.ExcludeUsers) || !slices.Equal(s.BuiltInControls, []string{"mfa"}) ||
		s.AuthenticationStrengthID != "" {
		t.Fatalf("simulator holds %+v", s)
	}
	wantBody := jsonMap(t, `{"displayName":"Remediator: require MFA","state":"enabled",
		"conditions":{"clientAppTypes":["all"],"applications":{"includeApplications":["All"]},
			"users":{"includeUsers":["`+u.ID+`"],"excludeUsers":["`+bg.ID+`"],"includeGroups":[],"excludeGroups":[]}},
		"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`)
	if body := lastBody(t, b.sim, "POST", policiesPath); !reflect.DeepEqual(body, wantBody) {
		t.Fatalf("POST body\n%v\nwant\n%v", body, wantBody)
	}
}

func TestCreateCAPolicyRequiringPhishingResistantMFA(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "ga@contoso.example", AccountEnabled: true})
	g := b.st.AddGroup(graphsim.GroupSpec{DisplayName: "Targets", SecurityEnabled: true})
	d := b.full(t)
	ctx := context.Background()

	created, err := d.CreateCAPolicy(ctx, remediation.CAPolicy{
		DisplayName: "Remediator: phishing-resistant MFA", State: "enabledForReportingButNotEnforced",
		IncludeGroups: []string{g.ID}, ExcludeUsers: []string{u.ID},
		AuthenticationStrengthID: remediation.AuthStrengthPhishingResistant,
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.AuthenticationStrengthID != remediation.AuthStrengthPhishingResistant || len(created.BuiltInControls) != 0 ||
		created.State != "enabledForReportingButNotEnforced" {
		t.Fatalf("created %+v", *created)
	}
	body := lastBody(t, b.sim, "POST", policiesPath)
	wantGrant := jsonMap(t, `{"operator":"OR","authenticationStrength":{"id":"`+remediation.AuthStrengthPhishingResistant+`"}}`)
	if !reflect.DeepEqual(body["grantControls"], any(wantGrant)) {
		t.Fatalf("grantControls %v, want %v", body["grantControls"], wantGrant)
	}

	// GET expands the strength: its id is read back.
	got, err := d.GetCAPolicy(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthenticationStrengthID != remediation.AuthStrengthPhishingResistant || len(got.BuiltInControls) != 0 ||
		!slices.Equal(got.IncludeGroups, []string{g.ID}) || !slices.Equal(got.ExcludeUsers, []string{u.ID}) {
		t.Fatalf("GetCAPolicy = %+v", *got)
	}
	if r := lastRequest(t, b.sim, "GET", policiesPath+"/"+created.ID); r.Operation != "GET /identity/conditionalAccess/policies/{pid}" {
		t.Errorf("operation %q", r.Operation)
	}
}

func TestCreateCAPolicyRefusesInvalidPolicies(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	d := b.full(t)
	user := uuid.NewString()
	for name, p := range map[string]remediation.CAPolicy{
		"no name":         {State: "enabled", IncludeUsers: []string{user}, BuiltInControls: []string{"mfa"}},
		"no state":        {DisplayName: "p", IncludeUsers: []string{user}, BuiltInControls: []string{"mfa"}},
		"unknown state":   {DisplayName: "p", State: "on", IncludeUsers: []string{user}, BuiltInControls: []string{"mfa"}},
		"no control":      {DisplayName: "p", State: "enabled", IncludeUsers: []string{user}},
		"both controls":   {DisplayName: "p", State: "enabled", IncludeUsers: []string{user}, BuiltInControls: []string{"mfa"}, AuthenticationStrengthID: remediation.AuthStrengthPhishingResistant},
		"unknown control": {DisplayName: "p", State: "enabled", IncludeUsers: []string{user}, BuiltInControls: []string{"MFA"}},
	} {
		if _, err := d.CreateCAPolicy(context.Background(), p); remediation.ErrorCode(err) != remediation.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(graphRequests(b.sim, "POST")); n != 0 {
		t.Fatalf("%d invalid policies reached Graph", n)
	}
}

func TestUpdateCAPolicyUsersPatchesUsersOnly(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	u1, u2, bg := uuid.NewString(), uuid.NewString(), uuid.NewString()
	g1 := uuid.NewString()
	seed, err := b.st.AddCAPolicy(graphsim.CAPolicySpec{DisplayName: "Remediator: require MFA",
		IncludeUsers: []string{u1}, ExcludeUsers: []string{bg}, IncludeGroups: []string{g1}, ExcludeGroups: []string{g1}})
	if err != nil {
		t.Fatal(err)
	}
	d := b.full(t)
	ctx := context.Background()

	// Read-modify-write as enforce_mfa does: the GET carries read-only
	// fields, the PATCH must not.
	p, err := d.GetCAPolicy(ctx, seed.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.IncludeUsers = append(p.IncludeUsers, u2)
	p.ExcludeGroups = nil // sent as []
	p.State = ""          // the state is written only when it must change
	if err := d.UpdateCAPolicyUsers(ctx, seed.ID, *p); err != nil {
		t.Fatalf("UpdateCAPolicyUsers: %v", err)
	}
	wantBody := jsonMap(t, `{"conditions":{"users":{"includeUsers":["`+u1+`","`+u2+`"],"excludeUsers":["`+bg+`"],
		"includeGroups":["`+g1+`"],"excludeGroups":[]}}}`)
	patch := lastRequest(t, b.sim, "PATCH", policiesPath+"/"+seed.ID)
	if body := decodeBody(t, patch); !reflect.DeepEqual(body, wantBody) {
		t.Fatalf("PATCH body\n%s\nwant\n%v", patch.Body, wantBody)
	}
	for _, f := range []string{"id", "templateId", "createdDateTime", "modifiedDateTime", "displayName", "state", "grantControls"} {
		if strings.Contains(string(patch.Body), `"`+f+`"`) {
			t.Errorf("PATCH body holds %q: %s", f, patch.Body)
		}
	}
	s, _ := b.st.CAPolicy(seed.ID)
	if !slices.Equal(s.IncludeUsers, []string{u1, u2}) || !slices.Equal(s.ExcludeUsers, []string{bg}) ||
		!slices.Equal(s.IncludeGroups, []string{g1}) || len(s.ExcludeGroups) != 0 || s.Patches != 1 ||
		s.DisplayName != seed.DisplayName || s.State != "enabled" || !slices.Equal(s.BuiltInControls, []string{"mfa"}) {
		t.Fatalf("after PATCH: %+v", s)
	}

	// Arrays are replaced: dropping u1 removes it.
	p.IncludeUsers = []string{u2}
	if err := d.UpdateCAPolicyUsers(ctx, seed.ID, *p); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.st.CAPolicy(seed.ID); !slices.Equal(s.IncludeUsers, []string{u2}) || s.Patches != 2 {
		t.Fatalf("after second PATCH: %+v", s)
	}
	got, err := d.GetCAPolicy(ctx, seed.ID)
	if err != nil || !slices.Equal(got.IncludeUsers, []string{u2}) || got.DisplayName != seed.DisplayName ||
		!slices.Equal(got.BuiltInControls, []string{"mfa"}) {
		t.Fatalf("GetCAPolicy = %+v, %v", got, err)
	}
}

func TestCAPolicyNotFound(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	d := b.full(t)
	ctx := context.Background()
	gone := uuid.NewString()

	ge := asGraphError(t, func() error { _, err := d.GetCAPolicy(ctx, gone); return err }())
	if ge.Status != 404 || ge.Operation != graph.OpGetCAPolicy || ge.Retryable() || ge.RequestID == "" {
		t.Fatalf("GET: %+v", ge)
	}
	ge = asGraphError(t, d.UpdateCAPolicyUsers(ctx, gone, remediation.CAPolicy{IncludeUsers: []string{uuid.NewString()}}))
	if ge.Status != 404 || ge.Operation != graph.OpUpdateCAPolicy {
		t.Fatalf("PATCH: %+v", ge)
	}
	before := len(b.sim.Requests())
	if _, err := d.GetCAPolicy(ctx, ""); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Fatalf("empty id: %v", err)
	}
	if len(b.sim.Requests()) != before {
		t.Fatal("an empty id reached Graph")
	}
}

func TestListCAPolicies(t *testing.T) {
	b := caSetup(t, graphsim.Options{})
	u := uuid.NewString()
	var want []graphsim.CAPolicyState
	for _, spec := range []graphsim.CAPolicySpec{
		{DisplayName: "A", IncludeUsers: []string{u}},
		{DisplayName: "B", State: "disabled", IncludeUsers: []string{"All"}, ExcludeUsers: []string{u}},
		{DisplayName: "C", IncludeUsers: []string{u}, AuthenticationStrengthID: remediation.AuthStrengthPhishingResistant},
	} {
		s, err := b.st.AddCAPolicy(spec)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	got, err := b.full(t).ListCAPolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d policies, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.DisplayName != w.DisplayName || g.State != w.State || !slices.Equal(g.IncludeUsers, w.IncludeUsers) ||
			!slices.Equal(g.ExcludeUsers, w.ExcludeUsers) || g.AuthenticationStrengthID != w.AuthenticationStrengthID ||
			!slices.Equal(g.BuiltInControls, w.BuiltInControls) {
			t.Errorf("policy %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestCAPolicyLimits(t *testing.T) {
	b := caSetup(t, graphsim.Options{CAPolicyMaxBytes: 4096})
	d := b.full(t)
	ctx := context.Background()
	seed, err := b.st.AddCAPolicy(graphsim.CAPolicySpec{DisplayName: "Remediator", IncludeUsers: []string{uuid.NewString()}})
	if err != nil {
		t.Fatal(err)
	}
	// Too many user ids for the policy document: 400, nothing changed.
	var many []string
	for range 200 {
		many = append(many, uuid.NewString())
	}
	ge := asGraphError(t, d.UpdateCAPolicyUsers(ctx, seed.ID, remediation.CAPolicy{IncludeUsers: many}))
	if ge.Status != 400 || ge.Retryable() {
		t.Fatalf("oversized PATCH: %+v", ge)
	}
	if s, _ := b.st.CAPolicy(seed.ID); s.Patches != 0 || len(s.IncludeUsers) != 1 {
		t.Fatalf("policy changed: %+v", s)
	}

	// 195 policies per tenant.
	for len(b.st.CAPolicies()) < graphsim.MaxCAPolicies {
		if _, err := b.st.AddCAPolicy(graphsim.CAPolicySpec{DisplayName: "filler", IncludeUsers: []string{"All"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = d.CreateCAPolicy(ctx, remediation.CAPolicy{DisplayName: "one too many", State: "enabled",
		IncludeUsers: []string{uuid.NewString()}, BuiltInControls: []string{"mfa"}})
	if ge := asGraphError(t, err); ge.Status != 400 || ge.Operation != graph.OpCreateCAPolicy {
		t.Fatalf("196th policy: %+v", ge)
	}
	if n := len(b.st.CAPolicies()); n != graphsim.MaxCAPolicies {
		t.Fatalf("%d policies", n)
	}
}

// Conditional Access allows 1 request per second per tenant and its 429s
// carry no Retry-After: the SDK must not retry nor sleep, the error says
// "throttled" with RetryAfter 0, and the caller's later retry succeeds.
func TestCAThrottleWithoutRetryAfter(t *testing.T) {
	b := setup(t, graph.Options{}) // Graph's real rate: 1 request/s
	u := uuid.NewString()
	seed, err := b.st.AddCAPolicy(graphsim.CAPolicySpec{DisplayName: "Remediator", IncludeUsers: []string{u}})
	if err != nil {
		t.Fatal(err)
	}
	d := b.full(t)
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)

	p, err := d.GetCAPolicy(ctx, seed.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.IncludeUsers = append(p.IncludeUsers, uuid.NewString())
	start := time.Now()
	err = d.UpdateCAPolicyUsers(ctx, seed.ID, *p)
	elapsed := time.Since(start)
	ge := asGraphError(t, err)
	if ge.Status != 429 || !ge.Throttled() || !ge.Retryable() || ge.RetryAfter != 0 || ge.Code != "TooManyRequests" ||
		ge.Operation != graph.OpUpdateCAPolicy {
		t.Fatalf("throttled PATCH: %+v", ge)
	}
	if elapsed > 900*time.Millisecond {
		t.Errorf("the throttled call took %v: the SDK waited", elapsed)
	}
	patches := requestsTo(b.sim, "PATCH", policiesPath+"/"+seed.ID)
	if len(patches) != 1 || patches[0].Status != 429 {
		t.Fatalf("PATCH requests %+v, want exactly one 429", patches)
	}
	if s, _ := b.st.CAPolicy(seed.ID); s.Patches != 0 {
		t.Fatalf("throttled PATCH applied: %+v", s)
	}
	if calls := log.Calls(); len(calls) != 2 || calls[1].HTTPStatus != 429 || calls[1].ErrorCode != "TooManyRequests" {
		t.Fatalf("calls %+v", calls)
	}

	// The caller backs off and tries again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = d.UpdateCAPolicyUsers(ctx, seed.ID, *p)
		var ge *remediation.GraphError
		if err == nil || !errors.As(err, &ge) || !ge.Throttled() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if s, _ := b.st.CAPolicy(seed.ID); s.Patches != 1 || !slices.Equal(s.IncludeUsers, p.IncludeUsers) {
		t.Fatalf("after retry: %+v", s)
	}
}

// The per-call time-out applies to the new operations too.
func TestCACallTimesOut(t *testing.T) {
	b := setupWith(t, graphsim.Options{CARequestsPerSecond: -1}, graph.Options{Timeout: 500 * time.Millisecond})
	seed, err := b.st.AddCAPolicy(graphsim.CAPolicySpec{DisplayName: "Remediator", IncludeUsers: []string{uuid.NewString()}})
	if err != nil {
		t.Fatal(err)
	}
	b.sim.InjectFault(graphsim.FaultSpec{TenantID: b.st.ID(), Operation: "GET /identity/conditionalAccess/policies/{pid}",
		Latency: 3 * time.Second, Times: 1})
	log := &remediation.CallLog{}
	ctx := remediation.WithCallLog(context.Background(), log)
	start := time.Now()
	_, err = b.full(t).GetCAPolicy(ctx, seed.ID)
	ge := asGraphError(t, err)
	if ge.Status != 0 || ge.Code != graph.CodeTimeout || !ge.Retryable() || ge.Operation != graph.OpGetCAPolicy {
		t.Fatalf("slow GET: %+v", ge)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("the call took %v", elapsed)
	}
	if calls := log.Calls(); len(calls) != 1 || calls[0].ErrorCode != graph.CodeTimeout || calls[0].Operation != graph.OpGetCAPolicy {
		t.Fatalf("calls %+v", calls)
	}
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}
