package remediation

import (
	"context"
	"encoding/json"
	"strings"
)

// Credential types.
const (
	CredentialSecret      = "secret"
	CredentialCertificate = "certificate"
)

// Credential is a tenant's app credential as sealed in
// Tenant.SecretCiphertext (JSON, then AES-GCM). It never leaves the
// process: not in logs, errors, API answers, task payloads or history.
type Credential struct {
	Type         string `json:"type"`
	ClientSecret string `json:"client_secret,omitempty"`
	// CertificatePEM holds a certificate and its private key (PEM), or
	// PKCS12 a PKCS#12 bundle with Password.
	CertificatePEM []byte `json:"certificate_pem,omitempty"`
	PKCS12         []byte `json:"pkcs12,omitempty"`
	Password       string `json:"password,omitempty"`
}

// Marshal encodes c for sealing.
func (c Credential) Marshal() ([]byte, error) { return json.Marshal(c) }

// String hides the credential from %v and logs.
func (c Credential) String() string { return "Credential{" + c.Type + ", <redacted>}" }

// ParseCredential decodes an opened credential. A plaintext that is not a
// JSON object is a bare client secret (the first storage format).
func ParseCredential(plain []byte) (Credential, error) {
	if !strings.HasPrefix(strings.TrimSpace(string(plain)), "{") {
		return Credential{Type: CredentialSecret, ClientSecret: string(plain)}, nil
	}
	var c Credential
	if err := json.Unmarshal(plain, &c); err != nil {
		return Credential{}, Errorf(EINVALID, "stored credential is not readable")
	}
	switch c.Type {
	case CredentialSecret, CredentialCertificate:
		return c, nil
	}
	return Credential{}, Errorf(EINVALID, "stored credential has unknown type %q", c.Type)
}

// RequiredPermissions are the Microsoft Graph application permissions the
// six actions need, with what each is for.
var RequiredPermissions = []struct{ Name, Why string }{
	{"User.Read.All", "read users (all actions)"},
	{"User.EnableDisableAccount.All", "disable_user"},
	{"User.RevokeSessions.All", "revoke_sessions"},
	{"Policy.Read.All", "enforce_mfa, enforce_phishing_resistant_mfa"},
	{"Policy.ReadWrite.ConditionalAccess", "enforce_mfa, enforce_phishing_resistant_mfa"},
	{"RoleManagement.ReadWrite.Directory", "remove_role_assignments, admin-target checks"},
	{"GroupMember.ReadWrite.All", "remove_group_memberships, mfa_targeting=group"},
	{"Group.Create", "enforce_mfa / enforce_phishing_resistant_mfa with mfa_targeting=group (creates the managed group)"},
}

// Verification is the result of POST /v1/tenants/{id}/verify.
type Verification struct {
	TokenAcquired bool     `json:"token_acquired"`
	ReadOK        bool     `json:"read_ok"`
	Granted       []string `json:"granted_permissions"`
	Missing       []string `json:"missing_permissions"`
	// MissingFor maps a missing permission to the actions that need it.
	MissingFor map[string]string `json:"missing_for,omitempty"`
	Error      *ItemError        `json:"error,omitempty"`
}

// Verifier checks a tenant's credential: it acquires a token, performs a
// harmless read and compares the granted app roles (the token's roles
// claim) with RequiredPermissions. Implemented by internal/graph.
type Verifier interface {
	Verify(ctx context.Context, t *Tenant) (*Verification, error)
}
