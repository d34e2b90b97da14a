package remediation

import (
	"strings"
	"time"
)

// Clouds a tenant can live in.
const (
	CloudPublic = "public"
	CloudUSGov  = "usgov"
	CloudChina  = "china"
	CloudCustom = "custom"
)

// Endpoints are the Graph base URL (including the version, e.g.
// "https://graph.microsoft.com/v1.0") and the Entra authority host
// (e.g. "https://login.microsoftonline.com/") of a tenant.
type Endpoints struct {
	GraphEndpoint string
	AuthorityHost string
}

// CloudEndpoints returns the well-known endpoints of a national cloud.
func CloudEndpoints(cloud string) (Endpoints, bool) {
	switch cloud {
	case CloudPublic, "":
		return Endpoints{"https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com/"}, true
	case CloudUSGov:
		return Endpoints{"https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us/"}, true
	case CloudChina:
		return Endpoints{"https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn/"}, true
	}
	return Endpoints{}, false
}

// Tenant is a registered Entra ID tenant.
//
// SecretCiphertext holds the client secret sealed by a SecretBox; it is
// never serialized to API responses, logs or task payloads.
type Tenant struct {
	ID            string    `json:"tenant_id"`
	DisplayName   string    `json:"display_name"`
	ClientID      string    `json:"client_id"`
	Cloud         string    `json:"cloud"`
	GraphEndpoint string    `json:"graph_endpoint,omitempty"`
	AuthorityHost string    `json:"authority_host,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	Settings TenantSettings `json:"settings"`
	// Policies are the managed Conditional Access policies (by kind), set
	// by the worker, never by the API.
	Policies map[PolicyKind]PolicyRef `json:"-"`

	SecretCiphertext []byte `json:"-"`
	SecretKeyID      string `json:"-"`
}

// Endpoints returns the tenant's Graph and authority endpoints.
func (t *Tenant) Endpoints() Endpoints {
	if t.Cloud == CloudCustom {
		return Endpoints{strings.TrimRight(t.GraphEndpoint, "/"), ensureSlash(t.AuthorityHost)}
	}
	e, _ := CloudEndpoints(t.Cloud)
	return e
}

func ensureSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// SecretBox seals and opens tenant secrets (AES-GCM in internal/secrets).
type SecretBox interface {
	Seal(plaintext []byte) (ciphertext []byte, keyID string, err error)
	Open(ciphertext []byte, keyID string) ([]byte, error)
}
