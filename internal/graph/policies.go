package graph

import (
	"context"
	"slices"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Conditional Access operation names. Graph allows 1 request per second per
// tenant on these endpoints and its 429s carry no Retry-After: the caller
// backs off (RetryAfter is 0).
const (
	OpListCAPolicies = "GET /identity/conditionalAccess/policies"
	OpGetCAPolicy    = "GET /identity/conditionalAccess/policies/{id}"
	OpCreateCAPolicy = "POST /identity/conditionalAccess/policies"
	OpUpdateCAPolicy = "PATCH /identity/conditionalAccess/policies/{id}"
)

const (
	grantOperatorOR = "OR"
	includeAllApps  = "All"
	stateEnabled    = "enabled"
	stateDisabled   = "disabled"
	stateReportOnly = "enabledForReportingButNotEnforced"
)

// ListCAPolicies implements remediation.PolicyDirectory: every Conditional
// Access policy of the tenant (all pages).
func (d *directory) ListCAPolicies(ctx context.Context) ([]remediation.CAPolicy, error) {
	items, err := listAll(ctx, d, OpListCAPolicies, "",
		func(ctx context.Context, next string) (models.ConditionalAccessPolicyCollectionResponseable, error) {
			b := d.client.Identity().ConditionalAccess().Policies()
			if next != "" {
				return b.WithUrl(next).Get(ctx, nil)
			}
			return b.Get(ctx, nil)
		})
	if err != nil {
		return nil, err
	}
	out := make([]remediation.CAPolicy, 0, len(items))
	for _, p := range items {
		if p != nil {
			out = append(out, caPolicy(p))
		}
	}
	return out, nil
}

// GetCAPolicy implements remediation.PolicyDirectory. A deleted policy is a
// *remediation.GraphError with Status 404.
func (d *directory) GetCAPolicy(ctx context.Context, id string) (*remediation.CAPolicy, error) {
	var p models.ConditionalAccessPolicyable
	err := d.do(ctx, OpGetCAPolicy, id, func(ctx context.Context) error {
		var err error
		p, err = d.client.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(id).Get(ctx, nil)
		if err == nil && p == nil {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := caPolicy(p)
	return &out, nil
}

// CreateCAPolicy implements remediation.PolicyDirectory. It posts a policy
// for all client app types and all applications, with the four user and
// group arrays of p, and a grant control requiring either p.BuiltInControls
// or the authentication strength p.AuthenticationStrengthID (exactly one of
// them). p.ID is ignored. It returns the policy as created by Graph. An
// invalid p is an EINVALID *remediation.Error and sends nothing. POST is not
// idempotent: after an ambiguous failure, list before creating again.
func (d *directory) CreateCAPolicy(ctx context.Context, p remediation.CAPolicy) (*remediation.CAPolicy, error) {
	body, err := newCAPolicyBody(p)
	if err != nil {
		return nil, err
	}
	var created models.ConditionalAccessPolicyable
	err = d.run(ctx, OpCreateCAPolicy, p.DisplayName, func(ctx context.Context) error {
		var err error
		created, err = d.client.Identity().ConditionalAccess().Policies().Post(ctx, body, nil)
		if err == nil && created == nil {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := caPolicy(created)
	return &out, nil
}

// UpdateCAPolicyUsers implements remediation.PolicyDirectory. The PATCH body
// holds conditions.users only, with its four arrays (includeUsers,
// excludeUsers, includeGroups, excludeGroups; empty ones as []): Graph
// replaces arrays, it does not merge them. No other field is sent (never
// the read-only id, templateId, createdDateTime or modifiedDateTime).
func (d *directory) UpdateCAPolicyUsers(ctx context.Context, id string, p remediation.CAPolicy) error {
	body := models.NewConditionalAccessPolicy()
	conditions := models.NewConditionalAccessConditionSet()
	conditions.SetUsers(caUsers(p))
	body.SetConditions(conditions)
	if p.State != "" {
		// The tenant's mfa_policy_state changed since the policy was made.
		stateVal, err := models.ParseConditionalAccessPolicyState(p.State)
		state, ok := stateVal.(*models.ConditionalAccessPolicyState)
		if err != nil || !ok {
			return remediation.Errorf(remediation.EINVALID, "graph %s: state %q is not valid", OpUpdateCAPolicy, p.State)
		}
		body.SetState(state)
	}
	return d.do(ctx, OpUpdateCAPolicy, id, func(ctx context.Context) error {
		info, err := d.client.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(id).
			ToPatchRequestInformation(ctx, body, nil)
		if err != nil {
			return err
		}
		return d.client.GetAdapter().SendNoContent(ctx, info, errorMapping)
	})
}

// newCAPolicyBody validates p and builds the POST body of CreateCAPolicy.
func newCAPolicyBody(p remediation.CAPolicy) (*models.ConditionalAccessPolicy, error) {
	if p.DisplayName == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "graph %s: the policy has no display name", OpCreateCAPolicy)
	}
	stateVal, _ := models.ParseConditionalAccessPolicyState(p.State)
	state, ok := stateVal.(*models.ConditionalAccessPolicyState)
	if !ok || !slices.Contains([]string{stateEnabled, stateDisabled, stateReportOnly}, p.State) {
		return nil, remediation.Errorf(remediation.EINVALID, "graph %s: state %q is not %s, %s or %s", OpCreateCAPolicy,
			p.State, stateEnabled, stateDisabled, stateReportOnly)
	}
	if (len(p.BuiltInControls) == 0) == (p.AuthenticationStrengthID == "") {
		return nil, remediation.Errorf(remediation.EINVALID, "graph %s: a policy requires either built-in controls or an authentication strength", OpCreateCAPolicy)
	}

	grant := models.NewConditionalAccessGrantControls()
	operator := grantOperatorOR
	grant.SetOperator(&operator)
	if p.AuthenticationStrengthID != "" {
		strength := models.NewAuthenticationStrengthPolicy()
		id := p.AuthenticationStrengthID
		strength.SetId(&id)
		grant.SetAuthenticationStrength(strength)
	} else {
		controls := make([]models.ConditionalAccessGrantControl, 0, len(p.BuiltInControls))
		for _, c := range p.BuiltInControls {
			v, _ := models.ParseConditionalAccessGrantControl(c)
			gc, ok := v.(*models.ConditionalAccessGrantControl)
			if !ok || gc.String() != c {
				return nil, remediation.Errorf(remediation.EINVALID, "graph %s: unknown built-in control %q", OpCreateCAPolicy, c)
			}
			controls = append(controls, *gc)
		}
		grant.SetBuiltInControls(controls)
	}

	apps := models.NewConditionalAccessApplications()
	apps.SetIncludeApplications([]string{includeAllApps})
	conditions := models.NewConditionalAccessConditionSet()
	conditions.SetClientAppTypes([]models.ConditionalAccessClientApp{models.ALL_CONDITIONALACCESSCLIENTAPP})
	conditions.SetApplications(apps)
	conditions.SetUsers(caUsers(p))

	body := models.NewConditionalAccessPolicy()
	name := p.DisplayName
	body.SetDisplayName(&name)
	body.SetState(state)
	body.SetConditions(conditions)
	body.SetGrantControls(grant)
	return body, nil
}

// caUsers is the users condition of p with all four arrays set (a nil
// slice would be left out of the JSON body; an empty one is sent as []).
func caUsers(p remediation.CAPolicy) *models.ConditionalAccessUsers {
	u := models.NewConditionalAccessUsers()
	u.SetIncludeUsers(nonNil(p.IncludeUsers))
	u.SetExcludeUsers(nonNil(p.ExcludeUsers))
	u.SetIncludeGroups(nonNil(p.IncludeGroups))
	u.SetExcludeGroups(nonNil(p.ExcludeGroups))
	return u
}

// caPolicy maps a policy read from Graph.
func caPolicy(p models.ConditionalAccessPolicyable) remediation.CAPolicy {
	out := remediation.CAPolicy{
		ID:          deref(p.GetId()),
		DisplayName: deref(p.GetDisplayName()),
	}
	if s := p.GetState(); s != nil {
		out.State = s.String()
	}
	if c := p.GetConditions(); c != nil {
		if u := c.GetUsers(); u != nil {
			out.IncludeUsers = u.GetIncludeUsers()
			out.ExcludeUsers = u.GetExcludeUsers()
			out.IncludeGroups = u.GetIncludeGroups()
			out.ExcludeGroups = u.GetExcludeGroups()
		}
	}
	if g := p.GetGrantControls(); g != nil {
		for _, c := range g.GetBuiltInControls() {
			out.BuiltInControls = append(out.BuiltInControls, c.String())
		}
		if s := g.GetAuthenticationStrength(); s != nil {
			out.AuthenticationStrengthID = deref(s.GetId())
		}
	}
	return out
}

// nonNil returns s, or an empty slice when s is nil.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
