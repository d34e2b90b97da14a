package actions

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Special includeUsers values.
const (
	usersNone = "None"
	usersAll  = "All"
)

// userPlan is the includeUsers list being built by a users-mode flush.
type userPlan struct {
	kept    []string       // ids of the policy, in order, minus removed ones
	adds    []string       // ids added by this flush, in order
	addedBy map[string]int // lower-cased added id → index of its request
	groups  []string       // includeGroups of the policy
	all     bool           // the policy includes All users
	removed int
}

func newUserPlan(p *remediation.CAPolicy) *userPlan {
	up := &userPlan{addedBy: map[string]int{}}
	if p == nil {
		return up
	}
	up.groups = p.IncludeGroups
	for _, id := range p.IncludeUsers {
		switch {
		case strings.EqualFold(id, usersNone):
		case strings.EqualFold(id, usersAll):
			up.all = true
			up.kept = append(up.kept, id)
		default:
			up.kept = append(up.kept, id)
		}
	}
	return up
}

func (up *userPlan) has(id string) bool {
	_, added := up.addedBy[strings.ToLower(id)]
	return added || containsID(up.kept, id)
}

// count is the number of user ids the plan includes.
func (up *userPlan) count() int {
	n := len(up.kept) + len(up.adds)
	if up.all {
		n--
	}
	return n
}

func (up *userPlan) add(id string, req int) {
	up.adds = append(up.adds, id)
	up.addedBy[strings.ToLower(id)] = req
}

func (up *userPlan) remove(id string) {
	if _, ok := up.addedBy[strings.ToLower(id)]; ok {
		delete(up.addedBy, strings.ToLower(id))
		for i, a := range up.adds {
			if sameID(a, id) {
				up.adds = append(up.adds[:i], up.adds[i+1:]...)
				break
			}
		}
		return
	}
	for i, k := range up.kept {
		if sameID(k, id) {
			up.kept = append(up.kept[:i], up.kept[i+1:]...)
			up.removed++
			return
		}
	}
}

// include returns includeUsers with the first n adds; an empty list is
// ["None"] (Graph needs a user rule) unless included groups carry it.
func (up *userPlan) include(n int) []string {
	out := append(append([]string{}, up.kept...), up.adds[:n]...)
	if len(out) == 0 && len(up.groups) == 0 {
		out = []string{usersNone}
	}
	return out
}

// viaUsers flushes with mfa_targeting=users: the users are listed in
// includeUsers, written with one PATCH (or the creating POST).
func (fl *flush) viaUsers(ctx context.Context) error {
	if !fl.hasOpen(remediation.PolicyOpAdd) && !fl.hasOpen(remediation.PolicyOpRemove) {
		return nil
	}
	pol, err := fl.resolvePolicy(ctx)
	if err != nil {
		return err
	}
	up := newUserPlan(pol)
	label := fl.spec.label
	for i, r := range fl.reqs {
		switch {
		case !fl.open(i):
		case r.Op == remediation.PolicyOpAdd && (up.all || up.has(r.UserID)):
			fl.covered(i)
		case r.Op == remediation.PolicyOpAdd && up.count() >= fl.MaxPolicyUsers:
			fl.decide(i, false, failedResult(r, CodePolicyFull, fl.fullMessage(fmt.Sprintf("it holds %d users", up.count()))))
		case r.Op == remediation.PolicyOpAdd:
			up.add(r.UserID, i)
			fl.succeed(i, true, "added to the "+label)
		case up.has(r.UserID):
			up.remove(r.UserID)
			fl.succeed(i, true, "removed from the "+label)
		default:
			fl.succeed(i, false, "not in the policy: no change")
		}
	}
	if pol == nil {
		if len(up.adds) == 0 {
			return nil
		}
		return fl.commit(up, true, false, func(include []string) error { return fl.createPolicy(ctx, include, nil) })
	}
	excl := fl.excludes(pol.ExcludeUsers)
	state := fl.stateChange(pol)
	otherChanges := up.removed > 0 || len(excl) != len(pol.ExcludeUsers) || state != ""
	if len(up.adds) == 0 && !otherChanges {
		return nil
	}
	return fl.commit(up, false, otherChanges, func(include []string) error {
		if err := fl.pace(ctx); err != nil {
			return err
		}
		return fl.dir.UpdateCAPolicyUsers(ctx, pol.ID, remediation.CAPolicy{IncludeUsers: include, ExcludeUsers: excl,
			IncludeGroups: pol.IncludeGroups, ExcludeGroups: pol.ExcludeGroups, State: state})
	})
}

// commit writes the plan. When Graph answers 400 while users are being
// added (the policy document is too large), it tries again with half as
// many of this flush's adds, and fails the adds left out with policy_full:
// no user is dropped silently. A 400 for a single user added to a policy
// without users is not about size: it is returned. otherChanges says
// whether the write is needed without any add; creating that the write
// creates the policy.
func (fl *flush) commit(up *userPlan, creating, otherChanges bool, write func(include []string) error) error {
	n := len(up.adds)
	for {
		err := write(up.include(n))
		if err == nil {
			return nil
		}
		if graphStatus(err) != http.StatusBadRequest || n == 0 {
			return err
		}
		if n /= 2; n > 0 {
			fl.fillFull(up, up.adds[n:], err)
			continue
		}
		if creating || up.count() == len(up.adds) {
			return err
		}
		fl.fillFull(up, up.adds, err)
		if !otherChanges {
			return nil
		}
	}
}

// fillFull fails the requests that added ids with policy_full.
func (fl *flush) fillFull(up *userPlan, ids []string, cause error) {
	reason := "Graph refused a larger policy"
	if e, ok := itemError(cause); ok && e.Message != "" {
		reason += ": " + e.Message
	}
	for _, id := range ids {
		i := up.addedBy[strings.ToLower(id)]
		fl.decide(i, false, failedResult(fl.reqs[i], CodePolicyFull, fl.fullMessage(reason)))
	}
}

func (fl *flush) fullMessage(reason string) string {
	return fmt.Sprintf("the %s cannot take more users (%s): the user was not added; set mfa_targeting=group "+
		"in the tenant settings to cover more users", fl.spec.label, reason)
}
