package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Limits of tenant fields.
const (
	maxDisplayName  = 256
	maxClientSecret = 1024
	maxURL          = 2048
)

// tenantCreateRequest is the body of POST /v1/tenants.
type tenantCreateRequest struct {
	TenantID      string `json:"tenant_id"`
	DisplayName   string `json:"display_name"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	Cloud         string `json:"cloud"`
	GraphEndpoint string `json:"graph_endpoint"`
	AuthorityHost string `json:"authority_host"`
}

// tenantListResponse is the body of GET /v1/tenants.
type tenantListResponse struct {
	Tenants []tenantResponse `json:"tenants"`
}

// handleTenantCreate registers a tenant. The client secret is sealed with
// the SecretBox before it is stored and is never returned.
func (s *Server) handleTenantCreate(c echo.Context) error {
	var req tenantCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.validateTenant(&req)
	if err != nil {
		return err
	}
	ciphertext, keyID, err := s.cfg.Box.Seal([]byte(req.ClientSecret))
	if err != nil {
		return fmt.Errorf("seal client secret of tenant %s: %w", t.ID, err)
	}
	t.SecretCiphertext, t.SecretKeyID = ciphertext, keyID
	now := s.cfg.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	if err := s.cfg.Store.CreateTenant(c.Request().Context(), t); err != nil {
		if remediation.ErrorCode(err) == remediation.ECONFLICT {
			return remediation.Errorf(remediation.ECONFLICT, "Tenant %s is already registered.", t.ID)
		}
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tenants/"+t.ID)
	return c.JSON(http.StatusCreated, toTenantResponse(t))
}

// validateTenant checks req and returns the tenant to store (without its
// secret). Custom endpoints are refused with EFORBIDDEN unless allowed.
func (s *Server) validateTenant(req *tenantCreateRequest) (*remediation.Tenant, error) {
	var fe fieldErrors
	if !remediation.IsGUID(req.TenantID) {
		fe.add("tenant_id", "must be a GUID")
	}
	name := strings.TrimSpace(req.DisplayName)
	switch {
	case name == "":
		fe.add("display_name", "is required")
	case utf8.RuneCountInString(name) > maxDisplayName || hasControl(name):
		fe.add("display_name", fmt.Sprintf("must be at most %d printable characters", maxDisplayName))
	}
	if !remediation.IsGUID(req.ClientID) {
		fe.add("client_id", "must be a GUID")
	}
	switch {
	case req.ClientSecret == "":
		fe.add("client_secret", "is required")
	case len(req.ClientSecret) > maxClientSecret:
		fe.add("client_secret", fmt.Sprintf("must be at most %d bytes", maxClientSecret))
	}
	cloud := req.Cloud
	if cloud == "" {
		cloud = remediation.CloudPublic
	}
	switch cloud {
	case remediation.CloudPublic, remediation.CloudUSGov, remediation.CloudChina:
		if req.GraphEndpoint != "" || req.AuthorityHost != "" {
			fe.add("cloud", `graph_endpoint and authority_host are only allowed with cloud "custom"`)
		}
	case remediation.CloudCustom:
		if s.cfg.AllowCustomEndpoints {
			if msg := checkHTTPSURL(req.GraphEndpoint); msg != "" {
				fe.add("graph_endpoint", msg)
			}
			if msg := checkHTTPSURL(req.AuthorityHost); msg != "" {
				fe.add("authority_host", msg)
			}
		}
	default:
		fe.add("cloud", `must be one of "public", "usgov", "china", "custom"`)
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	if cloud == remediation.CloudCustom && !s.cfg.AllowCustomEndpoints {
		return nil, remediation.Errorf(remediation.EFORBIDDEN, "Custom cloud endpoints are disabled on this server.")
	}
	t := &remediation.Tenant{
		ID:          strings.ToLower(req.TenantID),
		DisplayName: name,
		ClientID:    strings.ToLower(req.ClientID),
		Cloud:       cloud,
	}
	if cloud == remediation.CloudCustom {
		t.GraphEndpoint, t.AuthorityHost = req.GraphEndpoint, req.AuthorityHost
	}
	return t, nil
}

// checkHTTPSURL returns why raw is not an absolute https URL with a host
// (and no credentials, query or fragment), or "".
func checkHTTPSURL(raw string) string {
	if raw == "" {
		return `is required with cloud "custom"`
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxURL:
		return fmt.Sprintf("must be at most %d characters", maxURL)
	case err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "":
		return "must be an absolute https URL"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "must not contain credentials, a query or a fragment"
	}
	return ""
}

// hasControl reports whether s contains control characters.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// handleTenantList lists the registered tenants.
func (s *Server) handleTenantList(c echo.Context) error {
	ts, err := s.cfg.Store.ListTenants(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	resp := tenantListResponse{Tenants: make([]tenantResponse, 0, len(ts))}
	for _, t := range ts {
		resp.Tenants = append(resp.Tenants, toTenantResponse(t))
	}
	return c.JSON(http.StatusOK, resp)
}

// handleTenantGet returns one tenant.
func (s *Server) handleTenantGet(c echo.Context) error {
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	t, err := s.getTenant(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTenantResponse(t))
}

// getTenant loads a tenant, with a caller-facing ENOTFOUND.
func (s *Server) getTenant(c echo.Context, id string) (*remediation.Tenant, error) {
	t, err := s.cfg.Store.GetTenant(c.Request().Context(), id)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return nil, remediation.Errorf(remediation.ENOTFOUND, "Tenant %s is not registered.", id)
		}
		return nil, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// tenantIDParam returns the lower-cased :tenant_id path parameter.
func tenantIDParam(c echo.Context) (string, error) {
	id := c.Param("tenant_id")
	if !remediation.IsGUID(id) {
		return "", invalid(map[string]any{"tenant_id": truncate(id, 80)}, "The tenant id must be a GUID.")
	}
	return strings.ToLower(id), nil
}

// truncate shortens s to at most n bytes (on a rune boundary) for echoing
// caller input back in error details.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
