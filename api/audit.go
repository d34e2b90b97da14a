package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Audit actions. Append-only: audit queries filter on them.
const (
	auditKeyCreate         = "key.create"
	auditKeyRevoke         = "key.revoke"
	auditTenantCreate      = "tenant.create"
	auditTenantSettings    = "tenant.settings.update"
	auditTenantCredentials = "tenant.credentials.rotate"
	auditTenantVerify      = "tenant.credentials.verify"
	auditTenantDelete      = "tenant.delete"
	auditWebhookCreate     = "webhook.create"
	auditWebhookDelete     = "webhook.delete"
	auditJobUndo           = "job.undo"
	auditJobRetry          = "job.retry"
	auditJobCancel         = "job.cancel"
)

// auditActions lists every audit action, for validating filters.
var auditActions = []string{
	auditKeyCreate, auditKeyRevoke, auditTenantCreate, auditTenantSettings, auditTenantCredentials,
	auditTenantVerify, auditTenantDelete, auditWebhookCreate, auditWebhookDelete,
	auditJobUndo, auditJobRetry, auditJobCancel,
}

// auditTimeout bounds writing one audit entry.
const auditTimeout = 5 * time.Second

// audit appends an entry for an administrative action that succeeded:
// who (key id and name, X-Actor), what, on which tenant and object, from
// where (the TCP peer; forwarding headers are not trusted) and in which
// request. details must never hold a secret. The action is done when this
// is called, so a failure to write the entry is logged (with the entry)
// and does not change the answer.
func (s *Server) audit(c echo.Context, action, tenantID, target string, details map[string]any) {
	p := principalOf(c)
	actor, _ := c.Get(ctxKeyActor).(string)
	e := &remediation.AuditEntry{
		At:         s.cfg.Now().UTC(),
		KeyID:      p.KeyID,
		KeyName:    p.Name,
		Actor:      actor,
		Action:     action,
		TenantID:   tenantID,
		Target:     target,
		RemoteAddr: remoteAddr(c.Request()),
		RequestID:  requestIDOf(c),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), auditTimeout)
	defer cancel()
	if len(details) > 0 {
		b, err := json.Marshal(details)
		if err != nil {
			s.log.ErrorContext(ctx, "api: encode audit details", slog.String("action", action), slog.Any("err", err))
		}
		e.Details = b
	}
	var err error
	if s.access == nil {
		err = errNoAccessStore
	} else {
		err = s.access.AppendAudit(ctx, e)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "api: audit entry not written",
			slog.String("action", action), slog.String("key_id", e.KeyID), slog.String("actor", actor),
			slog.String("tenant_id", tenantID), slog.String("target", target),
			slog.String("details", string(e.Details)), slog.String("request_id", e.RequestID), slog.Any("err", err))
	}
}

// errNoAccessStore is logged when an audit entry has nowhere to go.
var errNoAccessStore = remediation.Errorf(remediation.ENOTIMPLEMENTED, "no access store")

// remoteAddr returns the IP of the TCP peer of r.
func remoteAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// auditListResponse is the body of GET /v1/audit.
type auditListResponse struct {
	Entries    []*remediation.AuditEntry `json:"entries"`
	NextCursor string                    `json:"next_cursor"`
}

// handleAuditList lists audit entries, newest first, limited to the
// caller's tenants (a key limited to tenants sees no entry without a
// tenant, such as key management). With Accept: text/csv it streams every
// matching entry as CSV (csv.go).
func (s *Server) handleAuditList(c echo.Context) error {
	if s.access == nil {
		return accessUnavailable()
	}
	q, err := parseQuery(c, "tenant_id", "action", "key_id", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	f := remediation.AuditFilter{TenantIDs: scopeTenants(principalOf(c))}
	if f.TenantID, err = q.tenantID("tenant_id"); err != nil {
		return err
	}
	if f.Action, err = q.oneOf("action", auditActions); err != nil {
		return err
	}
	if f.KeyID, err = q.token("key_id", 128); err != nil {
		return err
	}
	if f.Since, f.Until, err = q.timeRange(); err != nil {
		return err
	}
	if f.Limit, err = q.limit(); err != nil {
		return err
	}
	if f.Cursor, err = q.cursor(); err != nil {
		return err
	}
	if wantsCSV(c.Request()) {
		if q.get("limit") == "" {
			f.Limit = 0
		}
		return s.streamAuditCSV(c, f)
	}
	entries, next, err := s.access.ListAudit(c.Request().Context(), f)
	if err != nil {
		return storeListError("list audit", err)
	}
	if entries == nil {
		entries = []*remediation.AuditEntry{}
	}
	return c.JSON(http.StatusOK, auditListResponse{Entries: entries, NextCursor: next})
}

// settingsChange describes a settings PATCH for the audit log: the
// fields given, with their values before and after.
func settingsChange(req *tenantSettingsRequest, before, after remediation.TenantSettings) map[string]any {
	d := map[string]any{}
	fields := []string{}
	if req.ProtectedIdentities != nil {
		fields = append(fields, "protected_identities")
		d["protected_identities"], d["previous_protected_identities"] = after.ProtectedIdentities, before.ProtectedIdentities
	}
	if req.MFAPolicyState != nil {
		fields = append(fields, "mfa_policy_state")
		d["mfa_policy_state"], d["previous_mfa_policy_state"] = after.MFAPolicyState, before.MFAPolicyState
	}
	if req.MFATargeting != nil {
		fields = append(fields, "mfa_targeting")
		d["mfa_targeting"], d["previous_mfa_targeting"] = after.MFATargeting, before.MFATargeting
	}
	d["fields"] = fields
	return d
}
