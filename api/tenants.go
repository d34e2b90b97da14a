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
	TenantID     string `json:"tenant_id"`
	DisplayName  string `json:"display_name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Certificate is the alternative to ClientSecret.
	Certificate   *certificateRequest `json:"certificate"`
	Cloud         string              `json:"cloud"`
	GraphEndpoint string              `json:"graph_endpoint"`
	AuthorityHost string              `json:"authority_host"`
}

// tenantListResponse is the body of GET /v1/tenants.
type tenantListResponse struct {
	Tenants []tenantResponse `json:"tenants"`
}

// handleTenantCreate registers a tenant. Its credential (client secret or
// certificate) is sealed with the SecretBox before it is stored and is
// never returned.
func (s *Server) handleTenantCreate(c echo.Context) error {
	var req tenantCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, cred, info, err := s.validateTenant(&req)
	if err != nil {
		return err
	}
	if t.SecretCiphertext, t.SecretKeyID, err = s.sealCredential(cred); err != nil {
		return fmt.Errorf("seal credential of tenant %s: %w", t.ID, err)
	}
	now := s.cfg.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	if err := s.cfg.Store.CreateTenant(c.Request().Context(), t); err != nil {
		if remediation.ErrorCode(err) == remediation.ECONFLICT {
			return remediation.Errorf(remediation.ECONFLICT, "Tenant %s is already registered.", t.ID)
		}
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	details := map[string]any{"display_name": t.DisplayName, "client_id": t.ClientID, "cloud": t.Cloud}
	info.addTo(details)
	if t.Cloud == remediation.CloudCustom {
		details["graph_endpoint"], details["authority_host"] = t.GraphEndpoint, t.AuthorityHost
	}
	s.audit(c, auditTenantCreate, t.ID, t.ID, details)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tenants/"+t.ID)
	return c.JSON(http.StatusCreated, s.tenantJSON(t))
}

// validateTenant checks req and returns the tenant to store (without its
// sealed credential) and the credential. Custom endpoints are refused with
// EFORBIDDEN unless allowed.
func (s *Server) validateTenant(req *tenantCreateRequest) (*remediation.Tenant, remediation.Credential, credentialInfo, error) {
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
	cred, info := s.checkCredential(&fe, req.ClientSecret, req.Certificate)
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
		return nil, remediation.Credential{}, info, err
	}
	if cloud == remediation.CloudCustom && !s.cfg.AllowCustomEndpoints {
		return nil, remediation.Credential{}, info, remediation.Errorf(remediation.EFORBIDDEN, "Custom cloud endpoints are disabled on this server.")
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
	return t, cred, info, nil
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

// handleTenantList lists the registered tenants the caller may see.
func (s *Server) handleTenantList(c echo.Context) error {
	ts, err := s.cfg.Store.ListTenants(c.Request().Context())
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	resp := tenantListResponse{Tenants: make([]tenantResponse, 0, len(ts))}
	p := principalOf(c)
	for _, t := range ts {
		if p.CanSee(t.ID) {
			resp.Tenants = append(resp.Tenants, s.tenantJSON(t))
		}
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
	return c.JSON(http.StatusOK, s.tenantJSON(t))
}

// getTenant loads a tenant, with a caller-facing ENOTFOUND.
func (s *Server) getTenant(c echo.Context, id string) (*remediation.Tenant, error) {
	t, err := s.cfg.Store.GetTenant(c.Request().Context(), id)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return nil, tenantNotFound(id)
		}
		return nil, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// tenantIDParam returns the lower-cased :tenant_id path parameter. A
// tenant the caller may not see is ENOTFOUND, as an unregistered one.
func tenantIDParam(c echo.Context) (string, error) {
	id := c.Param("tenant_id")
	if !remediation.IsGUID(id) {
		return "", invalid(map[string]any{"tenant_id": truncate(id, 80)}, "The tenant id must be a GUID.")
	}
	id = strings.ToLower(id)
	if !canSee(c, id) {
		return "", tenantNotFound(id)
	}
	return id, nil
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
