package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Role management operation names.
const (
	OpListRoleAssignments  = "GET /roleManagement/directory/roleAssignments"
	OpCreateRoleAssignment = "POST /roleManagement/directory/roleAssignments"
	OpDeleteRoleAssignment = "DELETE /roleManagement/directory/roleAssignments/{id}"
	OpListRoleInstances    = "GET /roleManagement/directory/roleAssignmentScheduleInstances"
	OpRoleScheduleRequest  = "POST /roleManagement/directory/roleAssignmentScheduleRequests"
	OpListTransitiveRoles  = "GET /users/{id}/transitiveMemberOf/microsoft.graph.directoryRole"
)

// CodeScheduleRequestFailed is the GraphError code of a
// roleAssignmentScheduleRequest that Graph accepted (201) with a failed,
// denied or canceled status.
const CodeScheduleRequestFailed = "schedule_request_failed"

// tenantScope is the directoryScopeId of a tenant-wide assignment.
const tenantScope = "/"

// failedRequestStatuses are the statuses of a schedule request that did
// not and will not take effect (compared case-insensitively).
var failedRequestStatuses = []string{"failed", "failedasresourceislocked", "denied", "admindenied",
	"canceled", "cancelled", "timedout", "invalid"}

// ListRoleAssignments implements remediation.RoleDirectory (all pages).
func (d *directory) ListRoleAssignments(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	if err := needIDs(OpListRoleAssignments, principalID); err != nil {
		return nil, err
	}
	return d.listRoleAssignments(ctx, principalID, "principalId eq "+quote(principalID))
}

// ListRoleAssignmentsOfRole implements remediation.RoleDirectory (all pages).
func (d *directory) ListRoleAssignmentsOfRole(ctx context.Context, roleDefinitionID string) ([]remediation.RoleAssignment, error) {
	if err := needIDs(OpListRoleAssignments, roleDefinitionID); err != nil {
		return nil, err
	}
	return d.listRoleAssignments(ctx, roleDefinitionID, "roleDefinitionId eq "+quote(roleDefinitionID))
}

func (d *directory) listRoleAssignments(ctx context.Context, target, filter string) ([]remediation.RoleAssignment, error) {
	items, err := listAll(ctx, d, OpListRoleAssignments, target,
		func(ctx context.Context, next string) (models.UnifiedRoleAssignmentCollectionResponseable, error) {
			b := d.client.RoleManagement().Directory().RoleAssignments()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
				QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: &filter},
			})
		})
	if err != nil {
		return nil, err
	}
	out := make([]remediation.RoleAssignment, 0, len(items))
	for _, a := range items {
		if a == nil {
			continue
		}
		out = append(out, remediation.RoleAssignment{
			ID:               deref(a.GetId()),
			PrincipalID:      deref(a.GetPrincipalId()),
			RoleDefinitionID: deref(a.GetRoleDefinitionId()),
			DirectoryScopeID: deref(a.GetDirectoryScopeId()),
		})
	}
	return out, nil
}

// ListActiveRoleInstances implements remediation.RoleDirectory: the
// principal's roleAssignmentScheduleInstances (all pages), with their
// AssignmentType and MemberType. ID is the instance id.
func (d *directory) ListActiveRoleInstances(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	if err := needIDs(OpListRoleInstances, principalID); err != nil {
		return nil, err
	}
	filter := "principalId eq " + quote(principalID)
	items, err := listAll(ctx, d, OpListRoleInstances, principalID,
		func(ctx context.Context, next string) (models.UnifiedRoleAssignmentScheduleInstanceCollectionResponseable, error) {
			b := d.client.RoleManagement().Directory().RoleAssignmentScheduleInstances()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetRequestConfiguration{
				QueryParameters: &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter},
			})
		})
	if err != nil {
		return nil, err
	}
	out := make([]remediation.RoleAssignment, 0, len(items))
	for _, a := range items {
		if a == nil {
			continue
		}
		out = append(out, remediation.RoleAssignment{
			ID:               deref(a.GetId()),
			PrincipalID:      deref(a.GetPrincipalId()),
			RoleDefinitionID: deref(a.GetRoleDefinitionId()),
			DirectoryScopeID: deref(a.GetDirectoryScopeId()),
			AssignmentType:   deref(a.GetAssignmentType()),
			MemberType:       deref(a.GetMemberType()),
			EndDateTime:      a.GetEndDateTime(),
		})
	}
	return out, nil
}

// TransitiveRoleTemplateIDs implements remediation.RoleDirectory: the
// distinct roleTemplateIds of the directory roles the user holds directly
// or through groups (all pages), in the order Graph lists them.
func (d *directory) TransitiveRoleTemplateIDs(ctx context.Context, userID string) ([]string, error) {
	if err := needIDs(OpListTransitiveRoles, userID); err != nil {
		return nil, err
	}
	items, err := listAll(ctx, d, OpListTransitiveRoles, userID,
		func(ctx context.Context, next string) (models.DirectoryRoleCollectionResponseable, error) {
			b := d.client.Users().ByUserId(userID).TransitiveMemberOf().GraphDirectoryRole()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, &users.ItemTransitiveMemberOfGraphDirectoryRoleRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.ItemTransitiveMemberOfGraphDirectoryRoleRequestBuilderGetQueryParameters{
					Select: []string{"id", "displayName", "roleTemplateId"},
				},
			})
		})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, r := range items {
		if r == nil {
			continue
		}
		if id := deref(r.GetRoleTemplateId()); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// DeleteRoleAssignment implements remediation.RoleDirectory. A missing
// assignment is a *remediation.GraphError with Status 404.
func (d *directory) DeleteRoleAssignment(ctx context.Context, id string) error {
	return d.do(ctx, OpDeleteRoleAssignment, id, func(ctx context.Context) error {
		return d.client.RoleManagement().Directory().RoleAssignments().ByUnifiedRoleAssignmentId(id).Delete(ctx, nil)
	})
}

// CreateRoleAssignment implements remediation.RoleDirectory: it posts
// principalId, roleDefinitionId and directoryScopeId ("/" when empty) and
// returns the new assignment's id.
func (d *directory) CreateRoleAssignment(ctx context.Context, a remediation.RoleAssignment) (string, error) {
	if err := needIDs(OpCreateRoleAssignment, a.PrincipalID, a.RoleDefinitionID); err != nil {
		return "", err
	}
	body := models.NewUnifiedRoleAssignment()
	principal, role, scope := a.PrincipalID, a.RoleDefinitionID, scopeOf(a)
	body.SetPrincipalId(&principal)
	body.SetRoleDefinitionId(&role)
	body.SetDirectoryScopeId(&scope)
	var created models.UnifiedRoleAssignmentable
	err := d.run(ctx, OpCreateRoleAssignment, a.PrincipalID, func(ctx context.Context) error {
		var err error
		created, err = d.client.RoleManagement().Directory().RoleAssignments().Post(ctx, body, nil)
		if err == nil && (created == nil || deref(created.GetId()) == "") {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return deref(created.GetId()), nil
}

// AdminRemoveRoleAssignment implements remediation.RoleDirectory. A request
// Graph answers with a failed, denied or canceled status is a
// *remediation.GraphError with Code CodeScheduleRequestFailed.
func (d *directory) AdminRemoveRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	return d.scheduleRequest(ctx, models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS, a, justification, nil)
}

// AdminAssignRoleAssignment implements remediation.RoleDirectory: an active
// assignment starting now, until a.EndDateTime (expiration afterDateTime)
// or without expiration. Failed statuses as for AdminRemoveRoleAssignment.
func (d *directory) AdminAssignRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	schedule := models.NewRequestSchedule()
	start := time.Now().UTC()
	schedule.SetStartDateTime(&start)
	expiration := models.NewExpirationPattern()
	kind := models.NOEXPIRATION_EXPIRATIONPATTERNTYPE
	if a.EndDateTime != nil {
		kind = models.AFTERDATETIME_EXPIRATIONPATTERNTYPE
		end := a.EndDateTime.UTC()
		expiration.SetEndDateTime(&end)
	}
	expiration.SetTypeEscaped(&kind)
	schedule.SetExpiration(expiration)
	return d.scheduleRequest(ctx, models.ADMINASSIGN_UNIFIEDROLESCHEDULEREQUESTACTIONS, a, justification, schedule)
}

// scheduleRequest posts a roleAssignmentScheduleRequest and checks the
// status of the answer.
func (d *directory) scheduleRequest(ctx context.Context, action models.UnifiedRoleScheduleRequestActions,
	a remediation.RoleAssignment, justification string, schedule models.RequestScheduleable) error {
	if err := needIDs(OpRoleScheduleRequest, a.PrincipalID, a.RoleDefinitionID); err != nil {
		return err
	}
	body := models.NewUnifiedRoleAssignmentScheduleRequest()
	principal, role, scope := a.PrincipalID, a.RoleDefinitionID, scopeOf(a)
	body.SetAction(&action)
	body.SetPrincipalId(&principal)
	body.SetRoleDefinitionId(&role)
	body.SetDirectoryScopeId(&scope)
	body.SetJustification(&justification)
	if schedule != nil {
		body.SetScheduleInfo(schedule)
	}
	return d.run(ctx, OpRoleScheduleRequest, a.PrincipalID, func(ctx context.Context) error {
		res, err := d.client.RoleManagement().Directory().RoleAssignmentScheduleRequests().Post(ctx, body, nil)
		if err != nil {
			return err
		}
		if res == nil {
			return errEmptyResponse
		}
		status := deref(res.GetStatus())
		if scheduleRequestFailed(status) {
			return &remediation.GraphError{Code: CodeScheduleRequestFailed,
				Message: fmt.Sprintf("%s request %s for role %s: status %s", action.String(), deref(res.GetId()), role, status)}
		}
		return nil
	})
}

// scheduleRequestFailed reports whether a schedule request's status says
// it did not and will not take effect. Other statuses (Provisioned,
// Granted, Revoked, pending ones) are successes.
func scheduleRequestFailed(status string) bool {
	return slices.Contains(failedRequestStatuses, strings.ToLower(status))
}

// scopeOf is the directory scope of a, the tenant when empty.
func scopeOf(a remediation.RoleAssignment) string {
	if a.DirectoryScopeID == "" {
		return tenantScope
	}
	return a.DirectoryScopeID
}
