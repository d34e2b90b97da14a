package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// maxProtectedIdentities caps a tenant's protected identities.
const maxProtectedIdentities = 100

// tenantResponse is a tenant as the API shows it: its registration, its
// settings (top level, and also under "settings" as before), and the
// Conditional Access policies and groups the product manages for it (null
// until the first enforcement creates them). Never the client secret.
type tenantResponse struct {
	TenantID      string    `json:"tenant_id"`
	DisplayName   string    `json:"display_name"`
	ClientID      string    `json:"client_id"`
	Cloud         string    `json:"cloud"`
	GraphEndpoint string    `json:"graph_endpoint,omitempty"`
	AuthorityHost string    `json:"authority_host,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	ProtectedIdentities []string `json:"protected_identities"`
	MFAPolicyState      string   `json:"mfa_policy_state"`
	MFATargeting        string   `json:"mfa_targeting"`
	// GraphLimits are the tenant's quota overrides (null: Microsoft's
	// published limits).
	GraphLimits *remediation.GraphLimits `json:"graph_limits"`

	MFAPolicyID                  *string `json:"mfa_policy_id"`
	PhishingResistantMFAPolicyID *string `json:"phishing_resistant_mfa_policy_id"`
	MFAGroupID                   string  `json:"mfa_group_id,omitempty"`
	PhishingResistantMFAGroupID  string  `json:"phishing_resistant_mfa_group_id,omitempty"`

	Settings remediation.TenantSettings `json:"settings"`
	// CredentialType is "secret" or "certificate" (never the material).
	CredentialType string `json:"credential_type"`
}

func toTenantResponse(t *remediation.Tenant) tenantResponse {
	st := t.Settings.WithDefaults()
	mfa, phr := t.Policies[remediation.PolicyMFA], t.Policies[remediation.PolicyPhishingResistantMFA]
	return tenantResponse{
		TenantID: t.ID, DisplayName: t.DisplayName, ClientID: t.ClientID, Cloud: t.Cloud,
		GraphEndpoint: t.GraphEndpoint, AuthorityHost: t.AuthorityHost,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		ProtectedIdentities: st.ProtectedIdentities, MFAPolicyState: st.MFAPolicyState, MFATargeting: st.MFATargeting,
		GraphLimits: st.GraphLimits,
		MFAPolicyID: nullIfBlank(mfa.PolicyID), PhishingResistantMFAPolicyID: nullIfBlank(phr.PolicyID),
		MFAGroupID: mfa.GroupID, PhishingResistantMFAGroupID: phr.GroupID,
		Settings: st,
	}
}

// tenantSettingsRequest is the body of PATCH /v1/tenants/{tenant_id}.
// Fields left out keep their value; null is refused.
type tenantSettingsRequest struct {
	ProtectedIdentities json.RawMessage `json:"protected_identities"`
	MFAPolicyState      json.RawMessage `json:"mfa_policy_state"`
	MFATargeting        json.RawMessage `json:"mfa_targeting"`
	// GraphLimits overrides the tenant's Graph quotas; null restores
	// Microsoft's published defaults.
	GraphLimits json.RawMessage `json:"graph_limits"`
}

// handleTenantUpdate changes a tenant's settings: the fields given replace
// the current ones, the others are kept. It answers the updated tenant.
func (s *Server) handleTenantUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	var req tenantSettingsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	patch, err := validateSettings(&req)
	if err != nil {
		return err
	}
	t, err := s.getTenant(c, id)
	if err != nil {
		return err
	}
	// Read-modify-write: concurrent PATCHes of different fields of one
	// tenant may lose one of them (the last write wins).
	before := t.Settings.WithDefaults()
	t, err = s.cfg.Store.UpdateTenantSettings(ctx, id, patch(before))
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return tenantNotFound(id)
		}
		return fmt.Errorf("update settings of tenant %s: %w", id, err)
	}
	s.audit(c, auditTenantSettings, id, id, settingsChange(&req, before, t.Settings.WithDefaults()))
	return c.JSON(http.StatusOK, s.tenantJSON(t))
}

// validateSettings checks req and returns the change it asks for.
func validateSettings(req *tenantSettingsRequest) (func(remediation.TenantSettings) remediation.TenantSettings, error) {
	if req.ProtectedIdentities == nil && req.MFAPolicyState == nil && req.MFATargeting == nil && req.GraphLimits == nil {
		return nil, invalid(map[string]any{"fields": []string{"protected_identities", "mfa_policy_state", "mfa_targeting", "graph_limits"}},
			"Nothing to change: give protected_identities, mfa_policy_state, mfa_targeting or graph_limits.")
	}
	var fe fieldErrors
	var protected []string
	if req.ProtectedIdentities != nil {
		var msg string
		if protected, msg = checkProtected(req.ProtectedIdentities); msg != "" {
			fe.add("protected_identities", msg)
		}
	}
	state := checkEnum(&fe, "mfa_policy_state", req.MFAPolicyState, remediation.MFAPolicyEnabled, remediation.MFAPolicyReportOnly)
	targeting := checkEnum(&fe, "mfa_targeting", req.MFATargeting, remediation.MFATargetUsers, remediation.MFATargetGroup)
	var limits *remediation.GraphLimits
	if req.GraphLimits != nil && !isJSONNull(req.GraphLimits) {
		limits = new(remediation.GraphLimits)
		dec := json.NewDecoder(bytes.NewReader(req.GraphLimits))
		dec.DisallowUnknownFields()
		if err := dec.Decode(limits); err != nil {
			fe.add("graph_limits", "must be an object with resource_units, resource_units_window_s, writes, writes_window_s, tenant_writes, tenant_writes_window_s, ca_requests_per_s (numbers)")
		} else if err := limits.Validate(); err != nil {
			fe.add("graph_limits", remediation.ErrorMessage(err))
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return func(st remediation.TenantSettings) remediation.TenantSettings {
		if protected != nil {
			st.ProtectedIdentities = protected
		}
		if state != "" {
			st.MFAPolicyState = state
		}
		if targeting != "" {
			st.MFATargeting = targeting
		}
		if req.GraphLimits != nil {
			st.GraphLimits = limits
		}
		return st
	}, nil
}

// checkProtected decodes the protected identities: an array (possibly
// empty) of object ids, returned lower-cased with duplicates merged; or
// why it is refused.
func checkProtected(raw json.RawMessage) ([]string, string) {
	var list []*string
	if isJSONNull(raw) || json.Unmarshal(raw, &list) != nil {
		return nil, "must be an array of object ids (GUIDs)"
	}
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, p := range list {
		if p == nil || !remediation.IsGUID(strings.TrimSpace(*p)) {
			v := "null"
			if p != nil {
				v = fmt.Sprintf("%q", truncate(*p, 80))
			}
			return nil, fmt.Sprintf("entry %d (%s) is not an object id (GUID); user principal names are not accepted", i, v)
		}
		id := strings.ToLower(strings.TrimSpace(*p))
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > maxProtectedIdentities {
		return nil, fmt.Sprintf("must have at most %d identities; got %d", maxProtectedIdentities, len(out))
	}
	return out, ""
}

// checkEnum decodes the string field name, absent (returned as "") or one
// of valid; a refusal is added to fe.
func checkEnum(fe *fieldErrors, name string, raw json.RawMessage, valid ...string) string {
	if raw == nil {
		return ""
	}
	var v string
	if !isJSONNull(raw) && json.Unmarshal(raw, &v) == nil {
		for _, ok := range valid {
			if v == ok {
				return v
			}
		}
	}
	fe.add(name, fmt.Sprintf("must be %q or %q", valid[0], valid[1]))
	return ""
}
