package budget

import (
	"context"
	"sync"

	"github.com/entraremediator/remediator/internal/remediation"
)

// fakeDir is a remediation.FullDirectory that counts calls and fails the
// next call of a method with a queued error.
type fakeDir struct {
	mu    sync.Mutex
	calls map[string]int
	errs  map[string][]error
}

var _ remediation.FullDirectory = (*fakeDir)(nil)

func newFakeDir() *fakeDir {
	return &fakeDir{calls: map[string]int{}, errs: map[string][]error{}}
}

// failNext makes the next call of method return err.
func (f *fakeDir) failNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = append(f.errs[method], err)
}

func (f *fakeDir) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeDir) hit(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if q := f.errs[method]; len(q) > 0 {
		f.errs[method] = q[1:]
		return q[0]
	}
	return nil
}

func (f *fakeDir) GetUser(ctx context.Context, id string) (*remediation.User, error) {
	return &remediation.User{ID: id}, f.hit("GetUser")
}
func (f *fakeDir) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	return f.hit("SetAccountEnabled")
}
func (f *fakeDir) RevokeSignInSessions(ctx context.Context, id string) error {
	return f.hit("RevokeSignInSessions")
}
func (f *fakeDir) ListCAPolicies(ctx context.Context) ([]remediation.CAPolicy, error) {
	return nil, f.hit("ListCAPolicies")
}
func (f *fakeDir) GetCAPolicy(ctx context.Context, id string) (*remediation.CAPolicy, error) {
	return &remediation.CAPolicy{ID: id}, f.hit("GetCAPolicy")
}
func (f *fakeDir) CreateCAPolicy(ctx context.Context, p remediation.CAPolicy) (*remediation.CAPolicy, error) {
	return &p, f.hit("CreateCAPolicy")
}
func (f *fakeDir) UpdateCAPolicyUsers(ctx context.Context, id string, p remediation.CAPolicy) error {
	return f.hit("UpdateCAPolicyUsers")
}
func (f *fakeDir) ListRoleAssignments(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	return nil, f.hit("ListRoleAssignments")
}
func (f *fakeDir) ListRoleAssignmentsOfRole(ctx context.Context, roleDefinitionID string) ([]remediation.RoleAssignment, error) {
	return nil, f.hit("ListRoleAssignmentsOfRole")
}
func (f *fakeDir) ListActiveRoleInstances(ctx context.Context, principalID string) ([]remediation.RoleAssignment, error) {
	return nil, f.hit("ListActiveRoleInstances")
}
func (f *fakeDir) TransitiveRoleTemplateIDs(ctx context.Context, userID string) ([]string, error) {
	return nil, f.hit("TransitiveRoleTemplateIDs")
}
func (f *fakeDir) DeleteRoleAssignment(ctx context.Context, id string) error {
	return f.hit("DeleteRoleAssignment")
}
func (f *fakeDir) AdminRemoveRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	return f.hit("AdminRemoveRoleAssignment")
}
func (f *fakeDir) CreateRoleAssignment(ctx context.Context, a remediation.RoleAssignment) (string, error) {
	return "new", f.hit("CreateRoleAssignment")
}
func (f *fakeDir) AdminAssignRoleAssignment(ctx context.Context, a remediation.RoleAssignment, justification string) error {
	return f.hit("AdminAssignRoleAssignment")
}
func (f *fakeDir) GetGroup(ctx context.Context, id string) (*remediation.Group, error) {
	return &remediation.Group{ID: id}, f.hit("GetGroup")
}
func (f *fakeDir) ListMemberOfGroups(ctx context.Context, userID string) ([]remediation.Group, error) {
	return nil, f.hit("ListMemberOfGroups")
}
func (f *fakeDir) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return f.hit("RemoveGroupMember")
}
func (f *fakeDir) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return f.hit("AddGroupMember")
}
func (f *fakeDir) AddGroupMembers(ctx context.Context, groupID string, userIDs []string) error {
	return f.hit("AddGroupMembers")
}
func (f *fakeDir) CreateSecurityGroup(ctx context.Context, displayName, mailNickname string) (*remediation.Group, error) {
	return &remediation.Group{DisplayName: displayName}, f.hit("CreateSecurityGroup")
}
func (f *fakeDir) FindGroupByDisplayName(ctx context.Context, displayName string) (*remediation.Group, error) {
	return nil, f.hit("FindGroupByDisplayName")
}

// fakeDirs hands out one Directory for every tenant.
type fakeDirs struct{ d remediation.Directory }

func (f fakeDirs) For(ctx context.Context, t *remediation.Tenant) (remediation.Directory, error) {
	return f.d, nil
}
