package graphsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Run serves the simulator with the demo tenant (DemoTenantSpec, seeded with
// DemoUsers members) until ctx is done. It writes the CA certificate to
// caFile and prints the URLs, the CA path, the tenant and client ids and a
// few sample users to out. The client secret is not printed: it is the
// constant DemoClientSecret.
func Run(ctx context.Context, opts Options, caFile string, out io.Writer) error {
	if caFile == "" {
		return errors.New("graphsim: a CA certificate file path is required")
	}
	s, err := New(opts)
	if err != nil {
		return err
	}
	t := s.AddTenant(DemoTenantSpec())
	t.SeedDemo(DemoUsers)
	if err := s.WriteCA(caFile); err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	defer s.Close()

	var b strings.Builder
	fmt.Fprintf(&b, "Microsoft Graph simulator (graphsim) listening\n")
	fmt.Fprintf(&b, "  URL:             %s\n", s.URL())
	fmt.Fprintf(&b, "  Graph endpoint:  %s\n", s.GraphURL())
	fmt.Fprintf(&b, "  Authority host:  %s\n", s.AuthorityURL())
	fmt.Fprintf(&b, "  CA certificate:  %s\n", caFile)
	fmt.Fprintf(&b, "  Tenant id:       %s (%s)\n", t.ID(), t.Domain())
	fmt.Fprintf(&b, "  Client id:       %s\n", t.ClientID())
	fmt.Fprintf(&b, "  Client secret:   not printed; it is the Go constant graphsim.DemoClientSecret\n")
	fmt.Fprintf(&b, "Sample users (%d in the directory):\n", len(t.Users()))
	for _, u := range sampleUsers(t) {
		fmt.Fprintf(&b, "  %s  %-55s %s\n", u.state.ID, u.state.UserPrincipalName, u.note)
	}
	fmt.Fprintf(&b, "Groups:\n")
	for _, g := range t.Groups() {
		fmt.Fprintf(&b, "  %s  %-55s %s\n", g.ID, g.DisplayName, groupKind(g))
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("graphsim: write banner: %w", err)
	}
	<-ctx.Done()
	return nil
}

type sample struct {
	state UserState
	note  string
}

// sampleUsers picks one user of each interesting kind from a demo tenant.
func sampleUsers(t *Tenant) []sample {
	var out []sample
	pick := func(note string, ok func(UserState) bool) {
		for _, u := range t.Users() {
			if ok(u) {
				out = append(out, sample{u, note})
				return
			}
		}
	}
	id := func(kind string, i int) func(UserState) bool {
		want := demoID(t.id, kind, i)
		return func(u UserState) bool { return u.ID == want }
	}
	pick("Global Administrator", id("member", 0))
	pick("Global Administrator, break-glass account", id("member", 1))
	pick("member, enabled", id("member", 5))
	pick("member, disabled", id("member", 6))
	pick("member, synced from on-premises", id("member", 4))
	pick("Global Administrator through a role-assignable group", id("member", DemoMemberGroupGA))
	pick("Privileged Role Administrator, PIM-activated", id("member", DemoMemberPIMActivated))
	pick("guest", id("guest", 0))
	return out
}

// groupKind describes a group for the banner.
func groupKind(g GroupState) string {
	var kind string
	switch {
	case slices.Contains(g.GroupTypes, "DynamicMembership"):
		kind = "dynamic"
	case slices.Contains(g.GroupTypes, "Unified"):
		kind = "Microsoft 365"
	case g.MailEnabled && g.SecurityEnabled:
		kind = "mail-enabled security"
	case g.MailEnabled:
		kind = "distribution list"
	default:
		kind = "security"
	}
	if g.OnPremisesSyncEnabled {
		kind += ", synced from on-premises"
	}
	if g.IsAssignableToRole {
		kind += ", role-assignable"
	}
	return kind
}
