package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/entraremediator/remediator/internal/remediation"
)

// DefaultMaxPolicyUsers is the number of user ids PolicyFlusher puts in one
// policy's includeUsers when MaxPolicyUsers is zero. Graph stores a policy
// as a size-limited document; beyond that, target a group.
const DefaultMaxPolicyUsers = 1000

// PolicyFlusher writes the batched PolicyRequests of one tenant and kind
// to the tenant's managed Conditional Access policy: one policy per tenant
// and kind, found by its stored id, else by display name, else created.
// With mfa_targeting=users the users are listed in includeUsers (one PATCH
// per flush); with mfa_targeting=group the policy includes one managed
// security group and users are added to or removed from that group.
//
// The caller serializes flushes per tenant and kind (a read-modify-write
// of includeUsers from two flushes at once would lose users).
type PolicyFlusher struct {
	// Store keeps the policy (and group) ids; required.
	Store interface {
		SetPolicyRef(ctx context.Context, tenantID string, kind remediation.PolicyKind, ref remediation.PolicyRef) error
	}
	// Pace is called before every Conditional Access request: those
	// endpoints allow 1 request/s per tenant. Nil means no pacing.
	Pace func(ctx context.Context) error
	// MaxPolicyUsers caps includeUsers (DefaultMaxPolicyUsers when 0).
	MaxPolicyUsers int
}

// Flush applies reqs (oldest first) to the managed policy of kind in
// tenant t and returns one outcome per request, in order: succeeded
// ("added to the MFA policy", "already covered: no change", "removed from
// the MFA policy", "not in the policy: no change"), skipped (protected
// identity) or failed (e.g. policy_full, or a Graph refusal). An error
// means nothing is decided: retry the whole flush later (throttling, an
// unavailable Graph or store). Flush updates t.Policies[kind] with the ids
// it stores.
func (f *PolicyFlusher) Flush(ctx context.Context, dir remediation.FullDirectory, t *remediation.Tenant,
	kind remediation.PolicyKind, reqs []remediation.PolicyRequest) ([]remediation.PolicyOutcome, error) {
	spec, ok := policySpecs[kind]
	if !ok {
		return nil, remediation.Errorf(remediation.EINVALID, "unknown policy kind %q", kind)
	}
	if f.Store == nil {
		return nil, errors.New("actions: PolicyFlusher has no Store")
	}
	fl := &flush{PolicyFlusher: f, dir: dir, t: t, spec: spec, settings: t.Settings.WithDefaults(), reqs: reqs,
		outs: make([]*remediation.Result, len(reqs)), tentative: make([]bool, len(reqs))}
	if fl.MaxPolicyUsers <= 0 {
		fl.MaxPolicyUsers = DefaultMaxPolicyUsers
	}
	fl.screen()
	var err error
	if groupTargeting(fl.settings) {
		err = fl.viaGroup(ctx)
	} else {
		err = fl.viaUsers(ctx)
	}
	if err != nil {
		ie, ok := itemError(err)
		if !ok || retryable(err) || graphStatus(err) == http.StatusNotFound {
			return nil, fmt.Errorf("flush %s policy of tenant %s: %w", kind, t.ID, err)
		}
		fl.failOpen(ie)
	}
	out := make([]remediation.PolicyOutcome, len(reqs))
	for i, r := range reqs {
		out[i] = remediation.PolicyOutcome{Request: r, Result: *fl.outs[i]}
	}
	return out, nil
}

// flush is the state of one Flush call.
type flush struct {
	*PolicyFlusher
	dir      remediation.FullDirectory
	t        *remediation.Tenant
	spec     policySpec
	settings remediation.TenantSettings
	reqs     []remediation.PolicyRequest
	// outs[i] is the outcome of reqs[i], nil while undecided; tentative
	// outcomes still depend on the policy write.
	outs      []*remediation.Result
	tentative []bool
}

// screen decides the requests that need no Graph call: foreign or
// malformed requests, dry runs, and adds of protected identities.
func (fl *flush) screen() {
	for i, r := range fl.reqs {
		switch {
		case r.Kind != fl.spec.kind || (r.TenantID != "" && r.TenantID != fl.t.ID) || r.UserID == "" ||
			(r.Op != remediation.PolicyOpAdd && r.Op != remediation.PolicyOpRemove):
			fl.decide(i, false, failedResult(r, remediation.EINVALID, "malformed policy request for this flush"))
		case r.DryRun:
			fl.decide(i, false, remediation.Result{Status: remediation.ItemSkipped, ObjectID: r.UserID,
				Detail: "dry run: the policy was not changed"})
		case r.Op == remediation.PolicyOpAdd && fl.settings.IsProtected(r.UserID):
			fl.decide(i, false, remediation.Result{Status: remediation.ItemSkipped, ObjectID: r.UserID, Detail: msgProtected,
				Error: &remediation.ItemError{Code: CodeProtectedIdentity, Message: msgProtected}})
		}
	}
}

// decide sets the outcome of request i.
func (fl *flush) decide(i int, tentative bool, res remediation.Result) {
	fl.outs[i], fl.tentative[i] = &res, tentative
}

// open reports whether request i is still undecided.
func (fl *flush) open(i int) bool { return fl.outs[i] == nil }

// succeed records a success of request i.
func (fl *flush) succeed(i int, tentative bool, detail string) {
	fl.decide(i, tentative, remediation.Result{Status: remediation.ItemSucceeded, Detail: detail, ObjectID: fl.reqs[i].UserID})
}

// covered records that request i's user was already covered: no change,
// and a prior state telling undo to leave the user in place.
func (fl *flush) covered(i int) {
	prior, _ := json.Marshal(policyPrior{Kind: fl.reqs[i].Kind, UserID: fl.reqs[i].UserID, AlreadyCovered: true})
	fl.decide(i, false, remediation.Result{Status: remediation.ItemSucceeded, Detail: "already covered: no change",
		ObjectID: fl.reqs[i].UserID, PriorState: prior})
}

// failOpen fails every undecided or tentative request with e.
func (fl *flush) failOpen(e *remediation.ItemError) {
	for i := range fl.reqs {
		if fl.open(i) || fl.tentative[i] {
			fl.decide(i, false, failedResult(fl.reqs[i], e.Code, e.Message))
		}
	}
}

func failedResult(r remediation.PolicyRequest, code, msg string) remediation.Result {
	return remediation.Result{Status: remediation.ItemFailed, Detail: msg, ObjectID: r.UserID,
		Error: &remediation.ItemError{Code: code, Message: msg}}
}

// hasOpen reports whether an undecided request has op.
func (fl *flush) hasOpen(op string) bool {
	for i, r := range fl.reqs {
		if fl.open(i) && r.Op == op {
			return true
		}
	}
	return false
}

// pace waits for the Conditional Access rate limit.
func (fl *flush) pace(ctx context.Context) error {
	if fl.Pace == nil {
		return ctx.Err()
	}
	return fl.Pace(ctx)
}

// ref is the stored reference of the managed policy.
func (fl *flush) ref() remediation.PolicyRef { return fl.t.Policies[fl.spec.kind] }

// saveRef stores ref (and keeps it in the tenant for the rest of the flush).
func (fl *flush) saveRef(ctx context.Context, ref remediation.PolicyRef) error {
	if err := fl.Store.SetPolicyRef(ctx, fl.t.ID, fl.spec.kind, ref); err != nil {
		return fmt.Errorf("store %s policy ref: %w", fl.spec.kind, err)
	}
	if fl.t.Policies == nil {
		fl.t.Policies = map[remediation.PolicyKind]remediation.PolicyRef{}
	}
	fl.t.Policies[fl.spec.kind] = ref
	return nil
}

// resolvePolicy finds the managed policy: by stored id, else (gone or never
// stored) by display name among all policies, storing the id found. It
// returns nil when the tenant has none. Listing before every creation is
// what keeps an ambiguous earlier POST from leaving two policies.
func (fl *flush) resolvePolicy(ctx context.Context) (*remediation.CAPolicy, error) {
	ref := fl.ref()
	if ref.PolicyID != "" {
		if err := fl.pace(ctx); err != nil {
			return nil, err
		}
		p, err := fl.dir.GetCAPolicy(ctx, ref.PolicyID)
		if err == nil {
			return p, nil
		}
		if graphStatus(err) != http.StatusNotFound {
			return nil, err
		}
	}
	if err := fl.pace(ctx); err != nil {
		return nil, err
	}
	all, err := fl.dir.ListCAPolicies(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].DisplayName == fl.spec.name {
			if all[i].ID != ref.PolicyID {
				ref.PolicyID = all[i].ID
				if err := fl.saveRef(ctx, ref); err != nil {
					return nil, err
				}
			}
			return &all[i], nil
		}
	}
	return nil, nil
}

// createPolicy creates the managed policy with the given user and group
// inclusions and stores its id.
func (fl *flush) createPolicy(ctx context.Context, includeUsers, includeGroups []string) error {
	if err := fl.pace(ctx); err != nil {
		return err
	}
	p, err := fl.dir.CreateCAPolicy(ctx, remediation.CAPolicy{DisplayName: fl.spec.name, State: caState(fl.settings),
		IncludeUsers: includeUsers, IncludeGroups: includeGroups, ExcludeUsers: fl.excludes(nil),
		BuiltInControls: fl.spec.controls, AuthenticationStrengthID: fl.spec.strength})
	if err != nil {
		return err
	}
	ref := fl.ref()
	ref.PolicyID = p.ID
	return fl.saveRef(ctx, ref)
}

// excludes returns current ∪ the protected identities (always excluded).
func (fl *flush) excludes(current []string) []string {
	out := append([]string{}, current...)
	for _, id := range fl.settings.ProtectedIdentities {
		if !containsID(out, id) {
			out = append(out, id)
		}
	}
	return out
}
