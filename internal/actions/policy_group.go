package actions

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/entraremediator/remediator/internal/remediation"
)

// viaGroup flushes with mfa_targeting=group: the policy includes the
// managed security group, and users are added to or removed from that
// group (ordinary directory writes, not Conditional Access requests).
func (fl *flush) viaGroup(ctx context.Context) error {
	adds := fl.hasOpen(remediation.PolicyOpAdd)
	if !adds && !fl.hasOpen(remediation.PolicyOpRemove) {
		return nil
	}
	g, err := fl.resolveGroup(ctx, adds)
	if err != nil {
		return err
	}
	if g == nil { // only removals, and no group: nobody is covered
		for i := range fl.reqs {
			if fl.open(i) {
				fl.succeed(i, false, "not in the policy: no change")
			}
		}
		return nil
	}
	pol, err := fl.resolvePolicy(ctx)
	if err != nil {
		return err
	}
	switch {
	case pol == nil && adds:
		if err := fl.createPolicy(ctx, nil, []string{g.ID}); err != nil {
			return err
		}
	case pol != nil:
		excl := fl.excludes(pol.ExcludeUsers)
		state := fl.stateChange(pol)
		if !containsID(pol.IncludeGroups, g.ID) || len(excl) != len(pol.ExcludeUsers) || state != "" {
			if err := fl.pace(ctx); err != nil {
				return err
			}
			err := fl.dir.UpdateCAPolicyUsers(ctx, pol.ID, remediation.CAPolicy{IncludeUsers: pol.IncludeUsers,
				ExcludeUsers: excl, IncludeGroups: appendID(pol.IncludeGroups, g.ID), ExcludeGroups: pol.ExcludeGroups, State: state})
			if err != nil {
				return err
			}
		}
	}
	// Adds go 20 to a request (members@odata.bind); removals one by one.
	// Requests run a few at once, so that the tenant's write budget, not
	// Graph's latency, sets the pace. Each goroutine decides its own
	// requests only.
	eg, gctx := errgroup.WithContext(ctx)
	eg.SetLimit(memberWriters)
	var batch []int
	inBatch := map[string]bool{}
	flushBatch := func() {
		if len(batch) > 0 {
			b := batch
			eg.Go(func() error { return fl.addMembers(gctx, b, g.ID) })
		}
		batch, inBatch = nil, map[string]bool{}
	}
	for i, r := range fl.reqs {
		if !fl.open(i) {
			continue
		}
		key := strings.ToLower(r.UserID)
		if r.Op != remediation.PolicyOpAdd || inBatch[key] {
			// A removal, or a second add of a user (it would fail the
			// batch): on its own.
			eg.Go(func() error { return fl.changeMember(gctx, i, r, g.ID) })
			continue
		}
		batch, inBatch[key] = append(batch, i), true
		if len(batch) == remediation.MaxMembersPerRequest {
			flushBatch()
		}
	}
	flushBatch()
	return eg.Wait()
}

// memberWriters is the number of membership requests a flush runs at once.
const memberWriters = 8

// addMembers adds the users of requests idx to the managed group in one
// request. Graph refuses the whole request when one of them is already a
// member or is gone (400, 404): each is then added on its own, which tells
// them apart. Retryable errors are returned.
func (fl *flush) addMembers(ctx context.Context, idx []int, groupID string) error {
	ids := make([]string, len(idx))
	for k, i := range idx {
		ids[k] = fl.reqs[i].UserID
	}
	err := fl.dir.AddGroupMembers(ctx, groupID, ids)
	switch {
	case err == nil:
		for _, i := range idx {
			fl.succeed(i, false, "added to the "+fl.spec.label)
		}
		return nil
	case retryable(err):
		return err
	}
	if s := graphStatus(err); s == http.StatusBadRequest || s == http.StatusNotFound {
		for _, i := range idx {
			if err := fl.changeMember(ctx, i, fl.reqs[i], groupID); err != nil {
				return err
			}
		}
		return nil
	}
	e, ok := itemError(err)
	if !ok {
		return err
	}
	for _, i := range idx {
		fl.decide(i, false, failedResult(fl.reqs[i], e.Code, e.Message))
	}
	return nil
}

// changeMember adds r's user to (or removes it from) the managed group.
// Graph answers 400 for a user who already is (or is not) a member: the
// membership is then read to tell "no change" from a real refusal.
// Retryable errors are returned (the whole flush runs again; memberships
// already changed then read as no change).
func (fl *flush) changeMember(ctx context.Context, i int, r remediation.PolicyRequest, groupID string) error {
	add := r.Op == remediation.PolicyOpAdd
	var err error
	if add {
		err = fl.dir.AddGroupMember(ctx, groupID, r.UserID)
	} else {
		err = fl.dir.RemoveGroupMember(ctx, groupID, r.UserID)
	}
	switch {
	case err == nil && add:
		fl.succeed(i, false, "added to the "+fl.spec.label)
		return nil
	case err == nil:
		fl.succeed(i, false, "removed from the "+fl.spec.label)
		return nil
	case retryable(err):
		return err
	}
	if graphStatus(err) == http.StatusBadRequest {
		member, rerr := isMember(ctx, fl.dir, r.UserID, groupID)
		if rerr != nil {
			return rerr
		}
		if member == add {
			if add {
				fl.covered(i)
			} else {
				fl.succeed(i, false, "not in the policy: no change")
			}
			return nil
		}
	}
	e, ok := itemError(err)
	if !ok {
		return err
	}
	fl.decide(i, false, failedResult(r, e.Code, e.Message))
	return nil
}

// resolveGroup finds the managed group: by stored id, else by display
// name, else (only when create) creates it; the id is stored. It returns
// nil when there is none and create is false.
func (fl *flush) resolveGroup(ctx context.Context, create bool) (*remediation.Group, error) {
	ref := fl.ref()
	if ref.GroupID != "" {
		g, err := fl.dir.GetGroup(ctx, ref.GroupID)
		if err == nil {
			return g, nil
		}
		if graphStatus(err) != http.StatusNotFound {
			return nil, err
		}
	}
	g, err := fl.dir.FindGroupByDisplayName(ctx, fl.spec.group)
	if err != nil {
		return nil, err
	}
	if g == nil && !create {
		return nil, nil
	}
	if g == nil {
		if g, err = fl.dir.CreateSecurityGroup(ctx, fl.spec.group, fl.spec.nickname); err != nil {
			return nil, err
		}
	}
	if !sameID(g.ID, ref.GroupID) {
		ref.GroupID = g.ID
		if err := fl.saveRef(ctx, ref); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// isMember reads whether userID is a direct member of groupID.
func isMember(ctx context.Context, gd remediation.GroupDirectory, userID, groupID string) (bool, error) {
	groups, err := gd.ListMemberOfGroups(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if sameID(g.ID, groupID) {
			return true, nil
		}
	}
	return false, nil
}

// appendID returns ids with id appended unless already there.
func appendID(ids []string, id string) []string {
	if containsID(ids, id) {
		return ids
	}
	return append(append([]string{}, ids...), id)
}
