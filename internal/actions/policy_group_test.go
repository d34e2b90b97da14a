package actions

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Adds go to the managed group 20 to a request; a batch Graph refuses (a
// user already a member) is added one by one, which tells the members
// apart; a user asked twice is never twice in one batch.
func TestFlushGroupTargetingAddsInBatches(t *testing.T) {
	e := newFlushEnv()
	e.tenant.Settings.MFATargeting = remediation.MFATargetGroup
	users := make([]string, 45)
	for i := range users {
		users[i] = fmt.Sprintf("b0000000-0000-4000-8000-%012d", i)
	}
	e.flush(t, remediation.PolicyMFA, adds(users[7])...)
	single, batches := e.d.countCalls("AddGroupMember"), e.d.countCalls("AddGroupMembers")

	reqs := adds(append(slices.Clone(users), users[3])...)
	got := e.flush(t, remediation.PolicyMFA, reqs...)
	if n := e.d.countCalls("AddGroupMembers") - batches; n != 3 {
		t.Errorf("%d batch requests for 45 users, want 3 (20, 20, 5)", n)
	}
	// The refused batch (users 0-19, with user 7) one by one; user 3's
	// second request goes into the last batch (40-44), which Graph refuses
	// too when the first batch's fallback added user 3 before it ran.
	if n := e.d.countCalls("AddGroupMember") - single; n != 20 && n != 26 {
		t.Errorf("%d single adds, want 20 or 26: %q", n, e.d.callList())
	}
	var added, covered int
	for i, line := range got {
		switch {
		case strings.HasSuffix(line, "succeeded added to the MFA policy"):
			added++
		case strings.HasSuffix(line, "succeeded already covered: no change"):
			covered++
		default:
			t.Errorf("request %d: %q", i, line)
		}
	}
	if got[7] != users[7]+" succeeded already covered: no change" || added != 44 || covered != 2 {
		t.Errorf("added %d, covered %d, user 7: %q; want 44 added, user 7 and one of user 3's two requests covered", added, covered, got[7])
	}
	ref := e.store.refs[remediation.PolicyMFA]
	var want []string
	for _, u := range users {
		want = append(want, strings.ToLower(ref.GroupID)+" "+u)
	}
	slices.Sort(want)
	if m := e.d.groupState(); !slices.Equal(m, want) {
		t.Errorf("%d memberships, want the 45 users", len(m))
	}
}
