package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/microsoftgraph/msgraph-sdk-go/organization"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Operation names of Verify, as recorded in call logs.
const (
	OpAcquireToken    = "POST /oauth2/v2.0/token"
	OpGetOrganization = "GET /organization"
)

// impliedBy lists, for a required permission, the broader application
// permissions that also grant it.
var impliedBy = map[string][]string{
	"User.Read.All":                 {"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"User.EnableDisableAccount.All": {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"User.RevokeSessions.All":       {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"GroupMember.ReadWrite.All":     {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
	"Group.Create":                  {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
}

// Verify implements remediation.Verifier. With a fresh credential (the
// cached one of For is neither used nor replaced) it acquires a token for
// Graph, reads the granted application permissions from the token's roles
// claim (decoded, not verified: the token comes straight from the
// authority), compares them with remediation.RequiredPermissions and
// performs one harmless read (GET /organization?$select=id).
//
// A credential the authority refuses, an unusable stored credential or a
// failed read is reported in the Verification (Error, never a secret) with
// a nil error. The error is non-nil for a tenant whose settings cannot be
// used (EINVALID), an infrastructure failure (secret box) or a canceled
// ctx.
func (c *Connector) Verify(ctx context.Context, t *remediation.Tenant) (*remediation.Verification, error) {
	if c.initErr != nil {
		return nil, c.initErr
	}
	if t == nil || t.ID == "" {
		return nil, remediation.Errorf(remediation.EINVALID, "tenant is missing")
	}
	tg, err := targetOf(t)
	if err != nil {
		return nil, err
	}
	v := &remediation.Verification{Granted: []string{}, Missing: []string{}}
	cred, err := c.openCredential(t)
	if err != nil {
		return credentialFailure(v, err)
	}
	redact := credentialRedactor(cred)
	tc, err := c.tokenCredential(t, cred, tg.AuthorityHost, redact)
	if err != nil {
		return credentialFailure(v, err)
	}
	d, err := c.newDirectory(t, [32]byte{}, tc, tg, redact)
	if err != nil {
		return nil, err
	}

	var tok azcore.AccessToken
	err = d.run(ctx, OpAcquireToken, t.ID, func(ctx context.Context) error {
		var err error
		// EnableCAE as the Graph client's authentication provider asks:
		// azidentity caches CAE and non-CAE tokens apart, so the read
		// below reuses this token.
		tok, err = tc.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tg.scope}, EnableCAE: true})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v.Error = itemError(err)
		return v, nil
	}
	v.TokenAcquired = true
	roles, err := tokenRoles(tok.Token)
	if err != nil {
		v.Error = &remediation.ItemError{Code: CodeInvalidResponse, Message: "the access token is not a readable JWT: " + err.Error()}
	}
	v.Granted = roles
	v.Missing, v.MissingFor = missingPermissions(roles)

	err = d.run(ctx, OpGetOrganization, t.ID, func(ctx context.Context) error {
		_, err := d.client.Organization().Get(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{
			QueryParameters: &organization.OrganizationRequestBuilderGetQueryParameters{Select: []string{"id"}},
		})
		return err
	})
	switch {
	case err == nil:
		v.ReadOK = true
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case v.Error == nil:
		v.Error = itemError(err)
	}
	return v, nil
}

// credentialFailure reports an unusable stored credential (EINVALID) in v;
// other errors are returned.
func credentialFailure(v *remediation.Verification, err error) (*remediation.Verification, error) {
	if remediation.ErrorCode(err) != remediation.EINVALID {
		return nil, err
	}
	v.Error = &remediation.ItemError{Code: CodeInvalidCredential, Message: remediation.ErrorMessage(err)}
	return v, nil
}

// itemError is the Verification error of a failed call (a
// *remediation.GraphError from directory.run, already cleaned of secrets).
func itemError(err error) *remediation.ItemError {
	var ge *remediation.GraphError
	if errors.As(err, &ge) {
		return &remediation.ItemError{Code: ge.Code, Message: ge.Message}
	}
	return &remediation.ItemError{Code: CodeNetwork, Message: "the call failed"}
}

// tokenRoles returns the roles claim of a JWT access token, sorted,
// without verifying the token.
func tokenRoles(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return []string{}, errors.New("not three segments")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return []string{}, errors.New("payload is not base64url")
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return []string{}, errors.New("payload is not a JSON object")
	}
	roles := slices.Clone(claims.Roles)
	if roles == nil {
		roles = []string{}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// missingPermissions returns the required permissions that granted does
// not hold (directly or through a broader permission), in the order of
// remediation.RequiredPermissions, and what each is for (nil when none is
// missing).
func missingPermissions(granted []string) ([]string, map[string]string) {
	holds := func(p string) bool {
		return slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, p) })
	}
	missing := []string{}
	var why map[string]string
	for _, req := range remediation.RequiredPermissions {
		if holds(req.Name) || slices.ContainsFunc(impliedBy[req.Name], holds) {
			continue
		}
		missing = append(missing, req.Name)
		if why == nil {
			why = make(map[string]string)
		}
		why[req.Name] = req.Why
	}
	return missing, why
}
