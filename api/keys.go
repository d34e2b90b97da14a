package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Limits of API keys.
const (
	maxKeyName    = 100
	maxKeyTenants = 1000
)

// keyCreateRequest is the body of POST /v1/keys. Tenants absent or null:
// all tenants.
type keyCreateRequest struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Tenants *[]string `json:"tenants"`
}

// keyResponse is a key as the API shows it: never its secret or hash.
type keyResponse struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Prefix     string           `json:"prefix"`
	Role       remediation.Role `json:"role"`
	Tenants    []string         `json:"tenants"` // null: all tenants
	AllTenants bool             `json:"all_tenants"`
	CreatedAt  time.Time        `json:"created_at"`
	CreatedBy  string           `json:"created_by"`
	LastUsedAt *time.Time       `json:"last_used_at"`
	RevokedAt  *time.Time       `json:"revoked_at"`
}

func toKeyResponse(k *remediation.APIKey) keyResponse {
	r := keyResponse{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, Tenants: k.Tenants, AllTenants: len(k.Tenants) == 0,
		CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
	if r.AllTenants {
		r.Tenants = nil
	}
	return r
}

// keyCreatedResponse is the answer to POST /v1/keys: the only time the
// secret is shown.
type keyCreatedResponse struct {
	keyResponse
	Secret string `json:"secret"`
}

// keyListResponse is the body of GET /v1/keys.
type keyListResponse struct {
	Keys []keyResponse `json:"keys"`
}

// CreateKey makes an API key: it validates name (1–100 printable
// characters), role and tenants (tenant GUIDs; nil for all tenants, an
// empty list is refused), draws a secret ("rk_" and 64 hex digits of 32
// random bytes) and stores the key with the SHA-256 of the secret. It
// returns the stored key and the secret, which is never shown again.
// Invalid input is EINVALID.
func CreateKey(ctx context.Context, store remediation.AccessStore, name string, role remediation.Role,
	tenants []string, createdBy string) (*remediation.APIKey, string, error) {
	var fe fieldErrors
	k := &remediation.APIKey{ID: newUUIDv7(), Name: strings.TrimSpace(name), Role: role, CreatedBy: createdBy}
	switch n := utf8.RuneCountInString(k.Name); {
	case n == 0:
		fe.add("name", "is required")
	case n > maxKeyName || hasControl(k.Name) || !utf8.ValidString(k.Name):
		fe.add("name", fmt.Sprintf("must be at most %d printable characters", maxKeyName))
	}
	if !role.Valid() {
		fe.add("role", `must be "viewer", "operator" or "admin"`)
	}
	if tenants != nil {
		var msg string
		if k.Tenants, msg = keyTenants(tenants); msg != "" {
			fe.add("tenants", msg)
		}
	}
	if err := fe.err(); err != nil {
		return nil, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", fmt.Errorf("create api key: draw secret: %w", err)
	}
	secret := keySecretPrefix + hex.EncodeToString(raw[:])
	k.Prefix, k.Hash = secret[:keyPrefixLen], hashSecret(secret)
	if err := store.CreateAPIKey(ctx, k); err != nil {
		return nil, "", fmt.Errorf("create api key %s: %w", k.ID, err)
	}
	return k, secret, nil
}

// keyTenants validates a key's tenant list: 1..maxKeyTenants GUIDs,
// returned lower-cased with duplicates merged; or why it is refused.
func keyTenants(list []string) ([]string, string) {
	switch {
	case len(list) == 0:
		return nil, "must name at least one tenant; leave it out (or null) for all tenants"
	case len(list) > maxKeyTenants:
		return nil, fmt.Sprintf("must name at most %d tenants", maxKeyTenants)
	}
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for i, t := range list {
		if !remediation.IsGUID(t) {
			return nil, fmt.Sprintf("entry %d (%q) is not a tenant id (GUID)", i, truncate(t, 80))
		}
		t = strings.ToLower(t)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, ""
}

// handleKeyCreate creates an API key and answers it with its secret.
func (s *Server) handleKeyCreate(c echo.Context) error {
	if s.access == nil {
		return accessUnavailable()
	}
	var req keyCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var tenants []string // null or absent: all tenants
	if req.Tenants != nil {
		tenants = append([]string{}, *req.Tenants...) // [] stays an (invalid) empty list
	}
	k, secret, err := CreateKey(c.Request().Context(), s.access, req.Name, remediation.Role(req.Role), tenants,
		requestedByOf(principalOf(c)))
	if err != nil {
		return err
	}
	s.audit(c, auditKeyCreate, "", k.ID, map[string]any{
		"name": k.Name, "role": k.Role, "tenants": k.Tenants, "prefix": k.Prefix,
	})
	c.Response().Header().Set(echo.HeaderLocation, "/v1/keys/"+k.ID)
	return c.JSON(http.StatusCreated, keyCreatedResponse{keyResponse: toKeyResponse(k), Secret: secret})
}

// handleKeyList lists every key, revoked ones included.
func (s *Server) handleKeyList(c echo.Context) error {
	if s.access == nil {
		return accessUnavailable()
	}
	keys, err := s.access.ListAPIKeys(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	resp := keyListResponse{Keys: make([]keyResponse, 0, len(keys))}
	for _, k := range keys {
		resp.Keys = append(resp.Keys, toKeyResponse(k))
	}
	return c.JSON(http.StatusOK, resp)
}

// handleKeyRevoke revokes a key: from then on it is refused with 401.
func (s *Server) handleKeyRevoke(c echo.Context) error {
	if s.access == nil {
		return accessUnavailable()
	}
	id := c.Param("key_id")
	notFound := remediation.Errorf(remediation.ENOTFOUND, "API key %s does not exist.", truncate(id, 80))
	if id == "" || len(id) > 128 || !printableASCII(id) {
		return notFound
	}
	if err := s.access.RevokeAPIKey(c.Request().Context(), id); err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return notFound
		}
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	s.audit(c, auditKeyRevoke, "", id, nil)
	return c.NoContent(http.StatusNoContent)
}
