package actions

import (
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/entraremediator/remediator/internal/remediation"
)

// policy returns a copy of the stored policy id, nil if there is none.
func (d *fakeDir) policy(id string) *remediation.CAPolicy {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.policies {
		if p.ID == id {
			return clonePolicy(p)
		}
	}
	return nil
}

// addPolicy stores p (with its ID) as if created earlier.
func (d *fakeDir) addPolicy(p remediation.CAPolicy) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.policies = append(d.policies, clonePolicy(&p))
}

func clonePolicy(p *remediation.CAPolicy) *remediation.CAPolicy {
	c := *p
	c.IncludeUsers, c.ExcludeUsers = slices.Clone(p.IncludeUsers), slices.Clone(p.ExcludeUsers)
	c.IncludeGroups, c.ExcludeGroups = slices.Clone(p.IncludeGroups), slices.Clone(p.ExcludeGroups)
	c.BuiltInControls = slices.Clone(p.BuiltInControls)
	return &c
}

// checkPolicyUsers validates the users condition as Graph does, plus the
// fake's size limit.
func (d *fakeDir) checkPolicyUsers(op string, p remediation.CAPolicy) error {
	if len(p.IncludeUsers)+len(p.IncludeGroups) == 0 {
		return gerr(op, http.StatusBadRequest, "BadRequest") // no user rule
	}
	if d.policyLimit > 0 && len(p.IncludeUsers) > d.policyLimit {
		return gerr(op, http.StatusBadRequest, "BadRequest") // document too large
	}
	return nil
}

func (d *fakeDir) ListCAPolicies(context.Context) ([]remediation.CAPolicy, error) {
	if err := d.call("ListCAPolicies", "", false); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []remediation.CAPolicy
	for _, p := range d.policies {
		out = append(out, *clonePolicy(p))
	}
	return out, nil
}

func (d *fakeDir) GetCAPolicy(_ context.Context, id string) (*remediation.CAPolicy, error) {
	if err := d.call("GetCAPolicy", id, false); err != nil {
		return nil, err
	}
	if p := d.policy(id); p != nil {
		return p, nil
	}
	return nil, gerr("GetCAPolicy", http.StatusNotFound, "NotFound")
}

func (d *fakeDir) CreateCAPolicy(_ context.Context, p remediation.CAPolicy) (*remediation.CAPolicy, error) {
	if err := d.call("CreateCAPolicy", p.DisplayName, true); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if (len(p.BuiltInControls) == 0) == (p.AuthenticationStrengthID == "") || p.DisplayName == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "fake: invalid policy")
	}
	if err := d.checkPolicyUsers("CreateCAPolicy", p); err != nil {
		return nil, err
	}
	p.ID = d.newID("pol")
	d.policies = append(d.policies, clonePolicy(&p))
	return clonePolicy(&p), nil
}

func (d *fakeDir) UpdateCAPolicyUsers(_ context.Context, id string, p remediation.CAPolicy) error {
	if err := d.call("UpdateCAPolicyUsers", id, true); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkPolicyUsers("UpdateCAPolicyUsers", p); err != nil {
		return err
	}
	for _, s := range d.policies {
		if s.ID == id {
			s.IncludeUsers, s.ExcludeUsers = slices.Clone(p.IncludeUsers), slices.Clone(p.ExcludeUsers)
			s.IncludeGroups, s.ExcludeGroups = slices.Clone(p.IncludeGroups), slices.Clone(p.ExcludeGroups)
			return nil
		}
	}
	return gerr("UpdateCAPolicyUsers", http.StatusNotFound, "NotFound")
}

// fakeRefStore records SetPolicyRef.
type fakeRefStore struct {
	mu   sync.Mutex
	refs map[remediation.PolicyKind]remediation.PolicyRef
	sets int
	err  error
}

func (s *fakeRefStore) SetPolicyRef(_ context.Context, tenantID string, kind remediation.PolicyKind, ref remediation.PolicyRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.refs == nil {
		s.refs = map[remediation.PolicyKind]remediation.PolicyRef{}
	}
	s.refs[kind] = ref
	s.sets++
	return nil
}
