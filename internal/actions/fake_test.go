package actions

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/entraremediator/remediator/internal/remediation"
)

// fakeDir is a tiny in-memory remediation.Directory for unit tests. It
// records every call; errs makes the named operation fail. Methods the
// actions under test do not use panic (nil embedded interface).
type fakeDir struct {
	remediation.Directory
	mu    sync.Mutex
	users map[string]*remediation.User
	calls []string
	errs  map[string]error // "GetUser", "SetAccountEnabled", "RevokeSignInSessions"
}

func newFakeDir(users ...remediation.User) *fakeDir {
	d := &fakeDir{users: map[string]*remediation.User{}, errs: map[string]error{}}
	for _, u := range users {
		u := u
		d.users[strings.ToLower(u.ID)] = &u
		d.users[strings.ToLower(u.UserPrincipalName)] = &u
	}
	return d
}

func (d *fakeDir) record(op, id string) (*remediation.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, op+" "+id)
	if err := d.errs[op]; err != nil {
		return nil, err
	}
	u, ok := d.users[strings.ToLower(id)]
	if !ok {
		return nil, &remediation.GraphError{Operation: op, Status: http.StatusNotFound,
			Code: "Request_ResourceNotFound", Message: "Resource '" + id + "' does not exist", RequestID: "req-404"}
	}
	return u, nil
}

func (d *fakeDir) GetUser(_ context.Context, id string) (*remediation.User, error) {
	u, err := d.record("GetUser", id)
	if err != nil {
		return nil, err
	}
	c := *u
	return &c, nil
}

func (d *fakeDir) SetAccountEnabled(_ context.Context, id string, enabled bool) error {
	u, err := d.record("SetAccountEnabled", id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	u.AccountEnabled = enabled
	d.mu.Unlock()
	return nil
}

func (d *fakeDir) RevokeSignInSessions(_ context.Context, id string) error {
	_, err := d.record("RevokeSignInSessions", id)
	return err
}

func (d *fakeDir) callList() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// newExec returns an Exec for identity whose SavePriorState stores into
// the item (like the worker does) and counts the saves.
func newExec(d *fakeDir, action remediation.Action, identity string, prior json.RawMessage) (*remediation.Exec, *[]json.RawMessage) {
	item := &remediation.Item{JobID: "job-1", Seq: 0, Action: action, Identity: identity,
		Status: remediation.ItemRunning, PriorState: prior}
	var saved []json.RawMessage
	x := &remediation.Exec{
		Dir:    d,
		Tenant: &remediation.Tenant{ID: "tenant-1"},
		Job:    &remediation.Job{ID: "job-1", Action: action},
		Item:   item,
		SavePriorState: func(_ context.Context, p json.RawMessage) error {
			saved = append(saved, p)
			item.PriorState = p
			return nil
		},
	}
	return x, &saved
}
