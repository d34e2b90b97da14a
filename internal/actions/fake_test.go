package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/entraremediator/remediator/internal/remediation"
)

// fakeDir is a small in-memory remediation.FullDirectory for unit tests:
// users, groups with members, role assignments and Conditional Access
// policies, behaving like Graph where the actions care (404s, the 400s of
// membership references, PIM assignments that refuse a plain DELETE). It
// records every call and, separately, every write; errs makes an
// operation fail ("Op" for all calls, "Op arg" for one); before runs a
// hook at the start of an operation.
type fakeDir struct {
	mu          sync.Mutex
	users       map[string]*remediation.User
	groups      map[string]*fakeGroup
	assignments []*fakeAssignment
	// instances are extra PIM schedule instances (ListActiveRoleInstances
	// only).
	instances []remediation.RoleAssignment
	policies  []*remediation.CAPolicy
	// policyLimit makes policy writes with more includeUsers answer 400
	// (Graph's document size limit); 0 means no limit.
	policyLimit int
	calls       []string
	writes      []string
	errs        map[string]error
	before      map[string]func()
	nextID      int
}

func newFakeDir(users ...remediation.User) *fakeDir {
	d := &fakeDir{users: map[string]*remediation.User{}, groups: map[string]*fakeGroup{},
		errs: map[string]error{}, before: map[string]func(){}}
	for _, u := range users {
		d.addUser(u)
	}
	return d
}

func (d *fakeDir) addUser(u remediation.User) {
	d.users[strings.ToLower(u.ID)] = &u
	if u.UserPrincipalName != "" {
		d.users[strings.ToLower(u.UserPrincipalName)] = &u
	}
}

// gerr is a Graph error as the directory returns it.
func gerr(op string, status int, code string) *remediation.GraphError {
	return &remediation.GraphError{Operation: op, Status: status, Code: code, Message: code + " from the fake", RequestID: "req-1"}
}

// call records op on arg (a write when write is set) and returns the
// error configured for it. The caller holds no lock.
func (d *fakeDir) call(op, arg string, write bool) error {
	d.mu.Lock()
	hook := d.before[op]
	d.mu.Unlock()
	if hook != nil {
		hook()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := op + " " + arg
	d.calls = append(d.calls, c)
	if write {
		d.writes = append(d.writes, c)
	}
	if err := d.errs[c]; err != nil {
		return err
	}
	return d.errs[op]
}

// note records a non-directory event (e.g. "Pace") in the call list.
func (d *fakeDir) note(s string) {
	d.mu.Lock()
	d.calls = append(d.calls, s)
	d.mu.Unlock()
}

func (d *fakeDir) newID(prefix string) string {
	d.nextID++
	return fmt.Sprintf("%s-new-%d", prefix, d.nextID)
}

func (d *fakeDir) callList() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func (d *fakeDir) writeList() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.writes...)
}

// countCalls counts the calls of op.
func (d *fakeDir) countCalls(op string) int {
	n := 0
	for _, c := range d.callList() {
		if c == op || strings.HasPrefix(c, op+" ") {
			n++
		}
	}
	return n
}

func (d *fakeDir) user(op, id string, write bool) (*remediation.User, error) {
	if err := d.call(op, id, write); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[strings.ToLower(id)]
	if !ok {
		return nil, &remediation.GraphError{Operation: op, Status: http.StatusNotFound,
			Code: "Request_ResourceNotFound", Message: "Resource '" + id + "' does not exist", RequestID: "req-404"}
	}
	return u, nil
}

func (d *fakeDir) GetUser(_ context.Context, id string) (*remediation.User, error) {
	u, err := d.user("GetUser", id, false)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := *u
	return &c, nil
}

func (d *fakeDir) SetAccountEnabled(_ context.Context, id string, enabled bool) error {
	u, err := d.user("SetAccountEnabled", id, true)
	if err != nil {
		return err
	}
	d.mu.Lock()
	u.AccountEnabled = enabled
	d.mu.Unlock()
	return nil
}

func (d *fakeDir) RevokeSignInSessions(_ context.Context, id string) error {
	_, err := d.user("RevokeSignInSessions", id, true)
	return err
}

var _ remediation.FullDirectory = (*fakeDir)(nil)

// plainDir is a Directory without the role, group and policy surfaces.
type plainDir struct{ fake *fakeDir }

func (p plainDir) GetUser(ctx context.Context, id string) (*remediation.User, error) {
	return p.fake.GetUser(ctx, id)
}

func (p plainDir) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	return p.fake.SetAccountEnabled(ctx, id, enabled)
}

func (p plainDir) RevokeSignInSessions(ctx context.Context, id string) error {
	return p.fake.RevokeSignInSessions(ctx, id)
}

// execRecorder holds what an Exec's callbacks received.
type execRecorder struct {
	saved    []json.RawMessage
	requests []remediation.PolicyRequest
}

// newExec returns an Exec for identity whose SavePriorState stores into
// the item (like the worker does) and counts the saves.
func newExec(d remediation.Directory, action remediation.Action, identity string, prior json.RawMessage) (*remediation.Exec, *[]json.RawMessage) {
	x, rec := newExecRec(d, action, identity, prior)
	return x, &rec.saved
}

// newExecRec is newExec that also records policy requests. Each save and
// request is noted in the fake's call list, so tests can check the order
// against the directory calls.
func newExecRec(d remediation.Directory, action remediation.Action, identity string, prior json.RawMessage) (*remediation.Exec, *execRecorder) {
	item := &remediation.Item{JobID: "job-1", Seq: 3, Action: action, Identity: identity,
		Status: remediation.ItemRunning, PriorState: prior}
	rec := &execRecorder{}
	fd, _ := d.(*fakeDir)
	x := &remediation.Exec{
		Dir:    d,
		Tenant: &remediation.Tenant{ID: "tenant-1"},
		Job:    &remediation.Job{ID: "job-1", Action: action},
		Item:   item,
		SavePriorState: func(_ context.Context, p json.RawMessage) error {
			rec.saved = append(rec.saved, p)
			item.PriorState = p
			if fd != nil {
				fd.note("SavePriorState")
			}
			return nil
		},
		RequestPolicy: func(_ context.Context, r remediation.PolicyRequest) error {
			rec.requests = append(rec.requests, r)
			if fd != nil {
				fd.note("RequestPolicy")
			}
			return nil
		},
	}
	return x, rec
}

// undoExec turns x into the undo of the item that returned res.
func undoExec(x *remediation.Exec, res remediation.Result) {
	x.Job = &remediation.Job{ID: "job-2", Action: x.Job.Action, UndoOf: "job-1", Params: x.Job.Params}
	x.Item.UndoState, x.Item.PriorState, x.Item.ObjectID = res.PriorState, nil, res.ObjectID
}

// sortedCopy returns ss sorted.
func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
