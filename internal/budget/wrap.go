package budget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// WrapOptions are the hooks of Wrap. All are optional.
type WrapOptions struct {
	// OnWait is told of every sleep before a Graph call: the budget that
	// was short (a bucket name such as "writes" or "writes_bulk", or
	// "pause" / "pause_ca") and the time slept.
	OnWait func(budget string, d time.Duration)
	// OnError is told when recording a throttling or a recovery in Redis
	// failed (the Graph call's own result is returned regardless).
	OnError func(err error)
}

// Wrap returns Directories whose Directory meters every Graph call through
// g: before each call it acquires the call's cost (see MethodCosts) under
// limitsFor(tenant) (DefaultLimits(0) when limitsFor is nil), in the lane
// of the call's context (WithLane; Bulk by default); after a *GraphError
// with status 429, 503 or 504 it calls Throttled, which pauses the tenant
// for every worker (the Conditional Access calls only when a CA call was
// refused without Retry-After, as CA's own limit does); after a call Graph
// answered otherwise, it resets the tenant's backoff. A call refused by the
// budget returns the *WaitError (wrapped) without reaching Graph.
//
// The Directory keeps the interfaces of the inner one: it is a
// remediation.FullDirectory when the inner one is, and a PolicyDirectory,
// RoleDirectory or GroupDirectory exactly when the inner one is.
func Wrap(dirs remediation.Directories, g *Gate, limitsFor func(t *remediation.Tenant) Limits, opts WrapOptions) remediation.Directories {
	if limitsFor == nil {
		limitsFor = func(*remediation.Tenant) Limits { return DefaultLimits(0) }
	}
	return &directories{inner: dirs, g: g, limitsFor: limitsFor, opts: opts}
}

type directories struct {
	inner     remediation.Directories
	g         *Gate
	limitsFor func(t *remediation.Tenant) Limits
	opts      WrapOptions
}

// For implements remediation.Directories.
func (w *directories) For(ctx context.Context, t *remediation.Tenant) (remediation.Directory, error) {
	d, err := w.inner.For(ctx, t)
	if err != nil {
		return nil, err
	}
	m := &meter{g: w.g, tenantID: t.ID, limits: w.limitsFor(t), opts: w.opts}
	return compose(m, d), nil
}

// Costs of Graph calls.
var (
	costGet     = Cost{RU: 1}
	costList    = Cost{RU: 2}
	costWrite   = Cost{RU: 1, Write: true}
	costCAGet   = Cost{RU: 1, CA: true}
	costCAList  = Cost{RU: 2, CA: true}
	costCAWrite = Cost{RU: 1, Write: true, CA: true}
)

// MethodCosts is the cost of each remediation.FullDirectory method: a GET
// with $select 1 RU, a list, memberOf or transitiveMemberOf 2 RU, a write
// 1 RU and 1 write; Conditional Access calls also take the CA budget.
// Listings are metered once per call, for their first page.
var MethodCosts = map[string]Cost{
	"GetUser":                   costGet,
	"SetAccountEnabled":         costWrite,
	"RevokeSignInSessions":      costWrite,
	"ListCAPolicies":            costCAList,
	"GetCAPolicy":               costCAGet,
	"CreateCAPolicy":            costCAWrite,
	"UpdateCAPolicyUsers":       costCAWrite,
	"ListRoleAssignments":       costList,
	"ListRoleAssignmentsOfRole": costList,
	"ListActiveRoleInstances":   costList,
	"TransitiveRoleTemplateIDs": costList,
	"DeleteRoleAssignment":      costWrite,
	"AdminRemoveRoleAssignment": costWrite,
	"CreateRoleAssignment":      costWrite,
	"AdminAssignRoleAssignment": costWrite,
	"GetGroup":                  costGet,
	"ListMemberOfGroups":        costList,
	"RemoveGroupMember":         costWrite,
	"AddGroupMember":            costWrite,
	"AddGroupMembers":           costWrite,
	"CreateSecurityGroup":       costWrite,
	"FindGroupByDisplayName":    costList,
}

// meter is the per-tenant state the wrapped methods share.
type meter struct {
	g        *Gate
	tenantID string
	limits   Limits
	opts     WrapOptions
}

// call meters one Graph call named op around f.
func call[T any](ctx context.Context, m *meter, op string, f func() (T, error)) (T, error) {
	c := MethodCosts[op]
	lane := LaneFrom(ctx)
	var (
		got acquired
		ok  bool
		err error
	)
	if p := prepaidFrom(ctx); p != nil {
		got, ok, err = p.draw(ctx, m, c, lane)
	}
	if !ok && err == nil {
		got, err = m.g.acquire(ctx, m.tenantID, m.limits, c, lane, m.opts.OnWait)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", op, err)
	}
	v, err := f()
	m.observe(ctx, c, got, err)
	return v, err
}

// call0 is call for methods that return only an error.
func call0(ctx context.Context, m *meter, op string, f func() error) error {
	_, err := call(ctx, m, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// observe records what Graph's answer says about throttling.
func (m *meter) observe(ctx context.Context, c Cost, got acquired, err error) {
	var ge *remediation.GraphError
	if err != nil && !errors.As(err, &ge) {
		return // not an answer from Graph
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ge != nil {
		switch ge.Status {
		case 0:
			return // no answer
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if _, err := m.g.Throttled(rctx, m.tenantID, c.CA && ge.RetryAfter == 0, ge.RetryAfter); err != nil {
				m.report(err)
			}
			return
		}
	}
	if got.backoff {
		if err := m.g.Recovered(rctx, m.tenantID, c.CA); err != nil {
			m.report(err)
		}
	}
}

func (m *meter) report(err error) {
	if m.opts.OnError != nil {
		m.opts.OnError(err)
	}
}

// compose returns the metered Directory with the interfaces of d.
func compose(m *meter, d remediation.Directory) remediation.Directory {
	base := dir{m, d}
	p, okP := d.(remediation.PolicyDirectory)
	r, okR := d.(remediation.RoleDirectory)
	g, okG := d.(remediation.GroupDirectory)
	pd, rd, gd := policyDir{m, p}, roleDir{m, r}, groupDir{m, g}
	switch {
	case okP && okR && okG:
		return fullDir{base, pd, rd, gd}
	case okP && okR:
		return struct {
			dir
			policyDir
			roleDir
		}{base, pd, rd}
	case okP && okG:
		return struct {
			dir
			policyDir
			groupDir
		}{base, pd, gd}
	case okR && okG:
		return struct {
			dir
			roleDir
			groupDir
		}{base, rd, gd}
	case okP:
		return struct {
			dir
			policyDir
		}{base, pd}
	case okR:
		return struct {
			dir
			roleDir
		}{base, rd}
	case okG:
		return struct {
			dir
			groupDir
		}{base, gd}
	}
	return base
}

// fullDir is the metered remediation.FullDirectory.
type fullDir struct {
	dir
	policyDir
	roleDir
	groupDir
}

var _ remediation.FullDirectory = fullDir{}
