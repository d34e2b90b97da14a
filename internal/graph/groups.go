package graph

import (
	"context"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Group operation names.
const (
	OpGetGroup          = "GET /groups/{id}"
	OpListGroups        = "GET /groups"
	OpCreateGroup       = "POST /groups"
	OpListMemberOf      = "GET /users/{id}/memberOf/microsoft.graph.group"
	OpAddGroupMember    = "POST /groups/{id}/members/$ref"
	OpAddGroupMembers   = "PATCH /groups/{id} members@odata.bind"
	OpRemoveGroupMember = "DELETE /groups/{id}/members/{memberId}/$ref"
)

// groupSelect are the group properties the product reads ($select).
var groupSelect = []string{"id", "displayName", "groupTypes", "mailEnabled", "securityEnabled",
	"membershipRule", "onPremisesSyncEnabled", "isAssignableToRole"}

// GetGroup implements remediation.GroupDirectory. A missing group is a
// *remediation.GraphError with Status 404.
func (d *directory) GetGroup(ctx context.Context, id string) (*remediation.Group, error) {
	var g models.Groupable
	err := d.do(ctx, OpGetGroup, id, func(ctx context.Context) error {
		var err error
		g, err = d.client.Groups().ByGroupId(id).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect},
		})
		if err == nil && g == nil {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := group(g)
	return &out, nil
}

// ListMemberOfGroups implements remediation.GroupDirectory: the groups the
// user is a direct member of (all pages; not the groups it belongs to
// through nesting).
func (d *directory) ListMemberOfGroups(ctx context.Context, userID string) ([]remediation.Group, error) {
	if err := needIDs(OpListMemberOf, userID); err != nil {
		return nil, err
	}
	items, err := listAll(ctx, d, OpListMemberOf, userID,
		func(ctx context.Context, next string) (models.GroupCollectionResponseable, error) {
			b := d.client.Users().ByUserId(userID).MemberOf().GraphGroup()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, &users.ItemMemberOfGraphGroupRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.ItemMemberOfGraphGroupRequestBuilderGetQueryParameters{Select: groupSelect},
			})
		})
	if err != nil {
		return nil, err
	}
	return groupList(items), nil
}

// RemoveGroupMember implements remediation.GroupDirectory with
// DELETE /groups/{g}/members/{u}/$ref: it removes the membership only
// (without /$ref Graph would delete the user object itself). A user who is
// not a member gives Graph's 400 Request_BadRequest.
func (d *directory) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	if err := needIDs(OpRemoveGroupMember, groupID, userID); err != nil {
		return err
	}
	return d.run(ctx, OpRemoveGroupMember, groupID+"/"+userID, func(ctx context.Context) error {
		return d.client.Groups().ByGroupId(groupID).Members().ByDirectoryObjectId(userID).Ref().Delete(ctx, nil)
	})
}

// AddGroupMember implements remediation.GroupDirectory with
// POST /groups/{g}/members/$ref and the user's @odata.id under the tenant's
// Graph base URL. A user who already is a member gives Graph's 400
// Request_BadRequest.
func (d *directory) AddGroupMember(ctx context.Context, groupID, userID string) error {
	if err := needIDs(OpAddGroupMember, groupID, userID); err != nil {
		return err
	}
	ref := models.NewReferenceCreate()
	odataID := strings.TrimRight(d.client.GetAdapter().GetBaseUrl(), "/") + "/directoryObjects/" + url.PathEscape(userID)
	ref.SetOdataId(&odataID)
	return d.run(ctx, OpAddGroupMember, groupID+"/"+userID, func(ctx context.Context) error {
		return d.client.Groups().ByGroupId(groupID).Members().Ref().Post(ctx, ref, nil)
	})
}

// AddGroupMembers implements remediation.GroupDirectory: one PATCH of the
// group with members@odata.bind (at most remediation.MaxMembersPerRequest
// references).
func (d *directory) AddGroupMembers(ctx context.Context, groupID string, userIDs []string) error {
	if len(userIDs) == 0 || len(userIDs) > remediation.MaxMembersPerRequest {
		return remediation.Errorf(remediation.EINVALID, "graph %s: %d members, want 1 to %d", OpAddGroupMembers,
			len(userIDs), remediation.MaxMembersPerRequest)
	}
	if err := needIDs(OpAddGroupMembers, append([]string{groupID}, userIDs...)...); err != nil {
		return err
	}
	base := strings.TrimRight(d.client.GetAdapter().GetBaseUrl(), "/") + "/directoryObjects/"
	refs := make([]string, len(userIDs))
	for i, id := range userIDs {
		refs[i] = base + url.PathEscape(id)
	}
	body := models.NewGroup()
	body.SetAdditionalData(map[string]any{"members@odata.bind": refs})
	return d.run(ctx, OpAddGroupMembers, groupID, func(ctx context.Context) error {
		_, err := d.client.Groups().ByGroupId(groupID).Patch(ctx, body, nil)
		return err
	})
}

// CreateSecurityGroup implements remediation.GroupDirectory: a cloud
// security group (securityEnabled, not mail-enabled, assigned membership).
// POST is not idempotent: after an ambiguous failure, look the group up
// by name before creating it again.
func (d *directory) CreateSecurityGroup(ctx context.Context, displayName, mailNickname string) (*remediation.Group, error) {
	if displayName == "" || mailNickname == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "graph %s: a group needs a display name and a mail nickname", OpCreateGroup)
	}
	body := models.NewGroup()
	name, nick, mail, security := displayName, mailNickname, false, true
	body.SetDisplayName(&name)
	body.SetMailNickname(&nick)
	body.SetMailEnabled(&mail)
	body.SetSecurityEnabled(&security)
	var created models.Groupable
	err := d.run(ctx, OpCreateGroup, displayName, func(ctx context.Context) error {
		var err error
		created, err = d.client.Groups().Post(ctx, body, nil)
		if err == nil && (created == nil || deref(created.GetId()) == "") {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := group(created)
	return &out, nil
}

// FindGroupByDisplayName implements remediation.GroupDirectory: the group
// whose display name is exactly displayName, nil when there is none. More
// than one such group is an ECONFLICT *remediation.Error (which one the
// product manages cannot be told).
func (d *directory) FindGroupByDisplayName(ctx context.Context, displayName string) (*remediation.Group, error) {
	if displayName == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "graph %s: empty display name", OpListGroups)
	}
	filter := "displayName eq " + quote(displayName)
	items, err := listAll(ctx, d, OpListGroups, displayName,
		func(ctx context.Context, next string) (models.GroupCollectionResponseable, error) {
			b := d.client.Groups()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
				QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: groupSelect},
			})
		})
	if err != nil {
		return nil, err
	}
	var found []remediation.Group
	for _, g := range groupList(items) {
		if g.DisplayName == displayName {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	return nil, remediation.Errorf(remediation.ECONFLICT, "%d groups are named %q", len(found), displayName)
}

// group maps a group read from Graph.
func group(g models.Groupable) remediation.Group {
	return remediation.Group{
		ID:                    deref(g.GetId()),
		DisplayName:           deref(g.GetDisplayName()),
		GroupTypes:            g.GetGroupTypes(),
		MailEnabled:           deref(g.GetMailEnabled()),
		SecurityEnabled:       deref(g.GetSecurityEnabled()),
		MembershipRule:        deref(g.GetMembershipRule()),
		OnPremisesSyncEnabled: deref(g.GetOnPremisesSyncEnabled()),
		IsAssignableToRole:    deref(g.GetIsAssignableToRole()),
	}
}

func groupList(items []models.Groupable) []remediation.Group {
	out := make([]remediation.Group, 0, len(items))
	for _, g := range items {
		if g != nil {
			out = append(out, group(g))
		}
	}
	return out
}
