package graphsim

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// user is the stored form of a directory user; guarded by its Tenant's mu.
type user struct {
	id, upn, displayName, userType                           string
	givenName, surname, jobTitle, department, mail           string
	mobilePhone, officeLocation, preferredLanguage, usageLoc string
	businessPhones, otherMails                               []string
	accountEnabled, onPremSync                               bool
	created, sessionsValidFrom                               time.Time
	revokedCount, patchCount                                 int
	lastRevokedAt                                            time.Time
}

func newUser(spec UserSpec, domain string) *user {
	u := &user{
		id:                strings.ToLower(spec.ID),
		upn:               spec.UserPrincipalName,
		displayName:       spec.DisplayName,
		userType:          spec.UserType,
		givenName:         spec.GivenName,
		surname:           spec.Surname,
		jobTitle:          spec.JobTitle,
		department:        spec.Department,
		mail:              spec.Mail,
		mobilePhone:       spec.MobilePhone,
		officeLocation:    spec.OfficeLocation,
		preferredLanguage: spec.PreferredLanguage,
		usageLoc:          spec.UsageLocation,
		businessPhones:    append([]string{}, spec.BusinessPhones...),
		otherMails:        []string{},
		accountEnabled:    spec.AccountEnabled,
		onPremSync:        spec.OnPremisesSyncEnabled,
		created:           time.Now().UTC().Truncate(time.Second),
	}
	u.sessionsValidFrom = u.created
	if u.id == "" {
		u.id = uuid.NewString()
	}
	if u.upn == "" {
		u.upn = u.id + "@" + domain
	}
	if u.displayName == "" {
		u.displayName, _, _ = strings.Cut(u.upn, "@")
	}
	if u.userType == "" {
		u.userType = "Member"
	}
	return u
}

func (u *user) state() UserState {
	s := UserState{
		ID:                    u.id,
		UserPrincipalName:     u.upn,
		DisplayName:           u.displayName,
		UserType:              u.userType,
		Mail:                  u.mail,
		AccountEnabled:        u.accountEnabled,
		OnPremisesSyncEnabled: u.onPremSync,
		CreatedAt:             u.created,
		RevokedCount:          u.revokedCount,
		LastRevokedAt:         u.lastRevokedAt,
		PatchCount:            u.patchCount,
	}
	return s
}

// userStateLocked returns u's state with its own roles; t.mu held.
func (t *Tenant) userStateLocked(u *user) UserState {
	s := u.state()
	s.Roles = t.directRolesLocked(u.id)
	return s
}
