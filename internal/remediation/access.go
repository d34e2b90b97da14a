package remediation

import (
	"context"
	"encoding/json"
	"time"
)

// Role is what an API key may do. Append-only contract.
type Role string

const (
	// RoleViewer reads jobs, items and history.
	RoleViewer Role = "viewer"
	// RoleOperator is viewer + submit, cancel, retry, undo, dry-run.
	RoleOperator Role = "operator"
	// RoleAdmin is operator + tenants, protected identities, keys, webhooks, audit.
	RoleAdmin Role = "admin"
)

// rank orders roles by power.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Includes reports whether r has at least the rights of other.
func (r Role) Includes(other Role) bool { return r.Valid() && r.rank() >= other.rank() }

// APIKey is a stored API key. Only a hash of the secret is kept.
type APIKey struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"` // the first characters of the secret, to recognise it
	Role   Role   `json:"role"`
	// Tenants limits the key to these tenant ids; nil or empty = all.
	Tenants    []string   `json:"tenants"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Hash is SHA-256 of the secret (the secret has 256 bits of entropy,
	// so a fast hash is the right tool).
	Hash []byte `json:"-"`
}

// Principal is the caller of an API request.
type Principal struct {
	KeyID   string
	Name    string
	Role    Role
	Tenants []string // nil = all tenants
}

// AllTenants reports whether the principal is not limited to tenants.
func (p Principal) AllTenants() bool { return len(p.Tenants) == 0 }

// CanSee reports whether the principal may see tenantID.
func (p Principal) CanSee(tenantID string) bool {
	if p.AllTenants() {
		return true
	}
	for _, t := range p.Tenants {
		if equalFold(t, tenantID) {
			return true
		}
	}
	return false
}

// Label is how the principal is recorded (requested_by, audit).
func (p Principal) Label() string { return "api-key:" + p.Name }

// AuditEntry is one administrative action in the append-only audit log.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	KeyID      string          `json:"key_id"`
	KeyName    string          `json:"key_name"`
	Actor      string          `json:"actor"`  // X-Actor
	Action     string          `json:"action"` // e.g. "tenant.create", "key.revoke", "job.cancel"
	TenantID   string          `json:"tenant_id,omitempty"`
	Target     string          `json:"target,omitempty"` // id of what was changed
	Details    json.RawMessage `json:"details,omitempty"`
	RemoteAddr string          `json:"remote_addr"`
	RequestID  string          `json:"request_id"`
}

// AuditFilter selects audit entries, newest first. TenantIDs (when not
// empty) limits to entries of those tenants (scoped keys).
type AuditFilter struct {
	TenantID  string
	TenantIDs []string
	Action    string
	KeyID     string
	Since     time.Time
	Until     time.Time
	Limit     int
	Cursor    string
}

// Webhook events.
const (
	EventJobFinished = "job.finished"
	EventItemFailed  = "item.failed"
)

// Webhook is a per-tenant endpoint called when jobs finish (and optionally
// on each failed item). The signing secret is sealed like tenant secrets.
type Webhook struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`

	SecretCiphertext []byte `json:"-"`
	SecretKeyID      string `json:"-"`
}

// WebhookDelivery is one event sent (or to be sent) to a webhook.
type WebhookDelivery struct {
	ID          string          `json:"id"`
	WebhookID   string          `json:"webhook_id"`
	TenantID    string          `json:"tenant_id"`
	Event       string          `json:"event"`
	Payload     json.RawMessage `json:"payload"`
	Status      string          `json:"status"` // pending | delivered | failed
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"last_http_status"`
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at"`
}

// AccessStore keeps API keys, the audit log and webhooks (implemented by
// internal/history next to Store).
type AccessStore interface {
	// CreateAPIKey stores k (ID, Hash, Prefix, Name, Role, Tenants set by
	// the caller). ECONFLICT on a duplicate hash or id.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns the non-revoked key with that hash. ENOTFOUND.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeAPIKey marks a key revoked. ENOTFOUND.
	RevokeAPIKey(ctx context.Context, id string) error
	// TouchAPIKey records a use (may be rate-limited by the caller).
	TouchAPIKey(ctx context.Context, id string, at time.Time) error

	// AppendAudit adds an entry (ID and At set by the store when zero).
	AppendAudit(ctx context.Context, e *AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, string, error)

	CreateWebhook(ctx context.Context, w *Webhook) error
	ListWebhooks(ctx context.Context, tenantID string) ([]*Webhook, error)
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	// EnqueueDelivery records a delivery to send (idempotent on ID).
	EnqueueDelivery(ctx context.Context, d *WebhookDelivery) error
	// UpdateDelivery records an attempt's result.
	UpdateDelivery(ctx context.Context, d *WebhookDelivery) error
	GetDelivery(ctx context.Context, id string) (*WebhookDelivery, error)
	ListDeliveries(ctx context.Context, webhookID string, limit int) ([]*WebhookDelivery, error)

	// DeleteTenant removes a tenant's credentials, settings and webhooks
	// and marks it deleted; its jobs and history stay. ECONFLICT while
	// the tenant has queued or running jobs. ENOTFOUND.
	DeleteTenant(ctx context.Context, id string) error
}
