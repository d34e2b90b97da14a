package graphsim

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// TenantSpec describes a tenant and its single app registration.
type TenantSpec struct {
	ID           string // tenant id (GUID); random when empty
	ClientID     string // app (client) id; random when empty
	ClientSecret string // app secret; random when empty
	// AppHasPrivilegedRole reports whether the app's service principal holds
	// a privileged Entra role (Privileged Authentication Administrator or
	// Global Administrator). Without it, sensitive changes to users holding
	// an admin role get 403 Authorization_RequestDenied.
	AppHasPrivilegedRole bool
	// Domain is the tenant's initial domain, e.g. "contoso.onmicrosoft.com";
	// derived from the id when empty. The token endpoint accepts it in place
	// of the id.
	Domain string
	// AppLacksRoleManagement withholds RoleManagement.ReadWrite.Directory
	// from the app: role assignment writes and membership changes of
	// role-assignable groups then get 403 Authorization_RequestDenied.
	AppLacksRoleManagement bool
	// SecurityDefaultsEnabled turns Security Defaults on: Conditional
	// Access policies cannot be created.
	SecurityDefaultsEnabled bool
	// CAPolicyMaxBytes overrides Options.CAPolicyMaxBytes for this tenant.
	CAPolicyMaxBytes int
	// DisplayName is the organization's name (GET /organization); derived
	// from the domain when empty.
	DisplayName string
	// Certificate is a certificate registered on the app: the token
	// endpoint then also accepts a client assertion signed with its key
	// (the client secret keeps working). Nil registers none.
	Certificate *x509.Certificate
	// Permissions are the Microsoft Graph application permissions granted
	// to the app (the access token's roles claim); nil grants
	// ProductPermissions (without RoleManagement.ReadWrite.Directory when
	// AppLacksRoleManagement). An empty non-nil slice grants none.
	Permissions []string
}

// Tenant is one simulated directory. Its methods are safe for concurrent use.
type Tenant struct {
	id, clientID, secret, domain, displayName string

	mu         sync.Mutex
	cert       *x509.Certificate // registered app certificate, or nil
	perms      []string          // granted application permissions
	scheduleSt string            // status override of schedule requests ("" = normal)
	privileged bool
	users      map[string]*user // by lower-case id
	byUPN      map[string]*user // by lower-case UPN
	userCount  atomic.Int64     // len(users), read by the quotas without mu
	deleted    []string         // ids of deleted directory objects, in order

	roleMgmt         bool                       // app holds RoleManagement.ReadWrite.Directory
	groups           map[string]*group          // by lower-case id
	assignments      map[string]*roleAssignment // by id (case-sensitive)
	assignmentSeq    int
	securityDefaults bool
	caMaxBytes       int
	caPolicies       map[string]*caPolicy // by lower-case id
	caOrder          []string             // policy ids in creation order

	q tenantQuota // throttling state; its own mutex (lock order: mu, then q.mu)
}

func newTenant(spec TenantSpec) *Tenant {
	t := &Tenant{
		id:         strings.ToLower(spec.ID),
		clientID:   strings.ToLower(spec.ClientID),
		secret:     spec.ClientSecret,
		domain:     strings.ToLower(spec.Domain),
		privileged: spec.AppHasPrivilegedRole,
		users:      make(map[string]*user),
		byUPN:      make(map[string]*user),

		roleMgmt:         !spec.AppLacksRoleManagement,
		groups:           make(map[string]*group),
		assignments:      make(map[string]*roleAssignment),
		securityDefaults: spec.SecurityDefaultsEnabled,
		caMaxBytes:       spec.CAPolicyMaxBytes,
		caPolicies:       make(map[string]*caPolicy),
		displayName:      spec.DisplayName,
		cert:             spec.Certificate,
	}
	t.perms = slices.Clone(spec.Permissions)
	if spec.Permissions == nil {
		t.perms = slices.Clone(ProductPermissions)
		if spec.AppLacksRoleManagement {
			t.perms = slices.DeleteFunc(t.perms, func(p string) bool { return p == PermRoleManagementReadWrite })
		}
	}
	t.roleMgmt = t.roleMgmt && slices.Contains(t.perms, PermRoleManagementReadWrite)
	if t.id == "" {
		t.id = uuid.NewString()
	}
	if t.clientID == "" {
		t.clientID = uuid.NewString()
	}
	if t.secret == "" {
		b := make([]byte, 30)
		_, _ = rand.Read(b)
		t.secret = base64.RawURLEncoding.EncodeToString(b)
	}
	if t.domain == "" {
		t.domain = "tenant" + strings.ReplaceAll(t.id, "-", "")[:8] + ".onmicrosoft.com"
	}
	if t.displayName == "" {
		name, _, _ := strings.Cut(t.domain, ".")
		t.displayName = name
	}
	return t
}

// ID returns the tenant id.
func (t *Tenant) ID() string { return t.id }

// ClientID returns the app registration's client id.
func (t *Tenant) ClientID() string { return t.clientID }

// ClientSecret returns the app registration's secret (for test wiring only;
// never log it).
func (t *Tenant) ClientSecret() string { return t.secret }

// Domain returns the tenant's initial domain.
func (t *Tenant) Domain() string { return t.domain }

// SetAppHasPrivilegedRole grants or withdraws the app's privileged role.
func (t *Tenant) SetAppHasPrivilegedRole(v bool) {
	t.mu.Lock()
	t.privileged = v
	t.mu.Unlock()
}

// UserSpec describes a user to add. Note that the zero AccountEnabled means
// a disabled account.
type UserSpec struct {
	ID                    string // object id (GUID); random when empty
	UserPrincipalName     string // required in practice; derived from the id when empty
	DisplayName           string // derived from the UPN when empty
	UserType              string // "Member" (default) or "Guest"
	AccountEnabled        bool
	OnPremisesSyncEnabled bool
	// Roles are the directory role template ids the user holds, e.g.
	// RoleGlobalAdministrator: AddUser creates one active, directly
	// assigned (non-PIM) tenant-wide role assignment per role.
	Roles []string

	GivenName, Surname, JobTitle, Department, Mail, MobilePhone string
	OfficeLocation, PreferredLanguage, UsageLocation            string
	BusinessPhones                                              []string
}

// UserState is a snapshot of a simulated user.
type UserState struct {
	ID                    string
	UserPrincipalName     string
	DisplayName           string
	UserType              string
	Mail                  string
	AccountEnabled        bool
	OnPremisesSyncEnabled bool
	// Roles are the role template ids of the user's own active role
	// assignments (direct or PIM-activated; not roles held through groups).
	Roles     []string
	CreatedAt time.Time
	// RevokedCount counts revokeSignInSessions calls; LastRevokedAt is the
	// time of the last one (zero if none).
	RevokedCount  int
	LastRevokedAt time.Time
	// PatchCount counts successful PATCH requests.
	PatchCount int
}

// IsGuest reports whether the user is a guest (userType Guest).
func (u UserState) IsGuest() bool { return u.UserType == "Guest" }

// AddUser adds (or replaces, by id) a user and returns its state. Group
// memberships of a replaced user are kept; its own role assignments are
// replaced by spec.Roles.
func (t *Tenant) AddUser(spec UserSpec) UserState {
	u := newUser(spec, t.domain)
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.users[u.id]; old != nil {
		delete(t.byUPN, strings.ToLower(old.upn))
		for id, a := range t.assignments {
			if a.principalID == u.id {
				delete(t.assignments, id)
			}
		}
	}
	t.users[u.id] = u
	t.byUPN[strings.ToLower(u.upn)] = u
	t.userCount.Store(int64(len(t.users)))
	for _, r := range spec.Roles {
		t.assignLocked(u.id, r, "/", AssignDirect)
	}
	return t.userStateLocked(u)
}

// User returns the user with the given object id or user principal name
// (case-insensitive).
func (t *Tenant) User(idOrUPN string) (UserState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.lookupLocked(idOrUPN)
	if u == nil {
		return UserState{}, false
	}
	return t.userStateLocked(u), true
}

// Users returns all users ordered by user principal name.
func (t *Tenant) Users() []UserState {
	t.mu.Lock()
	out := make([]UserState, 0, len(t.users))
	for _, u := range t.users {
		out = append(out, t.userStateLocked(u))
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UserPrincipalName < out[j].UserPrincipalName })
	return out
}

// lookupLocked finds a user by id or UPN; t.mu must be held.
func (t *Tenant) lookupLocked(idOrUPN string) *user {
	k := strings.ToLower(idOrUPN)
	if u := t.users[k]; u != nil {
		return u
	}
	return t.byUPN[k]
}

// Privileged directory role template ids. For built-in roles the role
// definition id equals the template id.
const (
	RoleGlobalAdministrator                   = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator           = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RolePrivilegedAuthenticationAdministrator = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
	RoleUserAdministrator                     = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	RoleSecurityAdministrator                 = "194ae4cb-b126-40b2-bd5b-6091b380977d"
	RoleHelpdeskAdministrator                 = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	RoleAuthenticationAdministrator           = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
	RoleExchangeAdministrator                 = "29232cdf-9323-42fd-ade2-1d097af3e4de"
	RoleSharePointAdministrator               = "f28a1f50-f6e7-4571-818b-6a12f2af6b6c"
	RoleApplicationAdministrator              = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RoleCloudApplicationAdministrator         = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleConditionalAccessAdministrator        = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
	RoleIntuneAdministrator                   = "3a2c62db-5318-420d-8d74-23affee5d9d5"
	RoleGlobalReader                          = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
)

// privilegedRoles are the roles whose holders only an app with a privileged
// role may disable or change sensitive properties of.
var privilegedRoles = map[string]bool{
	RoleGlobalAdministrator: true, RolePrivilegedRoleAdministrator: true,
	RolePrivilegedAuthenticationAdministrator: true, RoleUserAdministrator: true,
	RoleSecurityAdministrator: true, RoleHelpdeskAdministrator: true,
	RoleAuthenticationAdministrator: true, RoleExchangeAdministrator: true,
	RoleSharePointAdministrator: true, RoleApplicationAdministrator: true,
	RoleCloudApplicationAdministrator: true, RoleConditionalAccessAdministrator: true,
	RoleIntuneAdministrator: true, RoleGlobalReader: true,
}

// IsPrivilegedRole reports whether holders of the role template id are
// protected from sensitive changes by apps without a privileged role.
func IsPrivilegedRole(templateID string) bool { return privilegedRoles[strings.ToLower(templateID)] }
