package actions

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/entraremediator/remediator/internal/remediation"
)

// fakeGroup is a group and its direct members (lower-cased ids).
type fakeGroup struct {
	remediation.Group
	members map[string]bool
}

// addGroup adds g with the given members.
func (d *fakeDir) addGroup(g remediation.Group, members ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fg := &fakeGroup{Group: g, members: map[string]bool{}}
	for _, m := range members {
		fg.members[strings.ToLower(m)] = true
	}
	d.groups[strings.ToLower(g.ID)] = fg
}

// groupState lists the memberships as "group member", sorted.
func (d *fakeDir) groupState() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, g := range d.groups {
		for m := range g.members {
			out = append(out, id+" "+m)
		}
	}
	slices.Sort(out)
	return out
}

func (d *fakeDir) GetGroup(_ context.Context, id string) (*remediation.Group, error) {
	if err := d.call("GetGroup", id, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[strings.ToLower(id)]
	if g == nil {
		return nil, gerr("GetGroup", http.StatusNotFound, "Request_ResourceNotFound")
	}
	c := g.Group
	return &c, nil
}

func (d *fakeDir) ListMemberOfGroups(_ context.Context, userID string) ([]remediation.Group, error) {
	if err := d.call("ListMemberOfGroups", userID, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []remediation.Group
	for _, g := range d.groups {
		if g.members[strings.ToLower(userID)] {
			out = append(out, g.Group)
		}
	}
	slices.SortFunc(out, func(a, b remediation.Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (d *fakeDir) RemoveGroupMember(_ context.Context, groupID, userID string) error {
	if err := d.call("RemoveGroupMember", groupID+"/"+userID, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[strings.ToLower(groupID)]
	switch {
	case g == nil:
		return gerr("RemoveGroupMember", http.StatusNotFound, "Request_ResourceNotFound")
	case !g.members[strings.ToLower(userID)]:
		return gerr("RemoveGroupMember", http.StatusBadRequest, "Request_BadRequest")
	}
	delete(g.members, strings.ToLower(userID))
	return nil
}

func (d *fakeDir) AddGroupMember(_ context.Context, groupID, userID string) error {
	if err := d.call("AddGroupMember", groupID+"/"+userID, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[strings.ToLower(groupID)]
	switch {
	case g == nil:
		return gerr("AddGroupMember", http.StatusNotFound, "Request_ResourceNotFound")
	case g.members[strings.ToLower(userID)]:
		return gerr("AddGroupMember", http.StatusBadRequest, "Request_BadRequest")
	}
	g.members[strings.ToLower(userID)] = true
	return nil
}

// AddGroupMembers adds all or none, as Graph's members@odata.bind PATCH.
func (d *fakeDir) AddGroupMembers(_ context.Context, groupID string, userIDs []string) error {
	if err := d.call("AddGroupMembers", groupID+"/"+strings.Join(userIDs, ","), true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.groups[strings.ToLower(groupID)]
	if g == nil {
		return gerr("AddGroupMembers", http.StatusNotFound, "Request_ResourceNotFound")
	}
	for _, id := range userIDs {
		if g.members[strings.ToLower(id)] {
			return gerr("AddGroupMembers", http.StatusBadRequest, "Request_BadRequest")
		}
	}
	for _, id := range userIDs {
		g.members[strings.ToLower(id)] = true
	}
	return nil
}

func (d *fakeDir) CreateSecurityGroup(_ context.Context, displayName, mailNickname string) (*remediation.Group, error) {
	if err := d.call("CreateSecurityGroup", displayName, true); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if mailNickname == "" || strings.ContainsAny(mailNickname, " –") {
		return nil, gerr("CreateSecurityGroup", http.StatusBadRequest, "Request_BadRequest")
	}
	g := &fakeGroup{Group: remediation.Group{ID: d.newID("grp"), DisplayName: displayName, SecurityEnabled: true},
		members: map[string]bool{}}
	d.groups[strings.ToLower(g.ID)] = g
	c := g.Group
	return &c, nil
}

func (d *fakeDir) FindGroupByDisplayName(_ context.Context, displayName string) (*remediation.Group, error) {
	if err := d.call("FindGroupByDisplayName", displayName, false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.groups {
		if g.DisplayName == displayName {
			c := g.Group
			return &c, nil
		}
	}
	return nil, nil
}
