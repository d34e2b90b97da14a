package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Webhook limits and the form of signing secrets.
const (
	maxWebhooksPerTenant = 10
	maxWebhookEvents     = 10
	webhookSecretPrefix  = "whsec_" // followed by 64 hex digits (32 random bytes)
)

// webhookEvents are the events a webhook may subscribe to.
var webhookEvents = []string{remediation.EventJobFinished, remediation.EventItemFailed}

// webhookCreateRequest is the body of POST /v1/tenants/{id}/webhooks.
type webhookCreateRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// webhookResponse is a webhook as the API shows it: never its secret.
type webhookResponse struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

func toWebhookResponse(w *remediation.Webhook) webhookResponse {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	return webhookResponse{ID: w.ID, TenantID: w.TenantID, URL: w.URL, Events: events, CreatedAt: w.CreatedAt, CreatedBy: w.CreatedBy}
}

// webhookCreatedResponse is the answer to a webhook creation: the only
// time its signing secret is shown.
type webhookCreatedResponse struct {
	webhookResponse
	Secret string `json:"secret"`
}

type webhookListResponse struct {
	Webhooks []webhookResponse `json:"webhooks"`
}

type deliveryListResponse struct {
	Deliveries []*remediation.WebhookDelivery `json:"deliveries"`
}

// handleWebhookCreate registers a webhook for a tenant. Its signing secret
// (the HMAC key of the deliveries) is sealed at rest and answered once.
func (s *Server) handleWebhookCreate(c echo.Context) error {
	ctx := c.Request().Context()
	tenantID, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	if s.access == nil {
		return accessUnavailable()
	}
	var req webhookCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var fe fieldErrors
	target, msg := s.checkWebhookURL(ctx, req.URL)
	if msg != "" {
		fe.add("url", msg)
	}
	events, msg := checkEvents(req.Events)
	if msg != "" {
		fe.add("events", msg)
	}
	if err := fe.err(); err != nil {
		return err
	}
	if _, err := s.getTenant(c, tenantID); err != nil {
		return err
	}
	existing, err := s.access.ListWebhooks(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("list webhooks of tenant %s: %w", tenantID, err)
	}
	if len(existing) >= maxWebhooksPerTenant {
		return &remediation.Error{
			Code:    remediation.EUNPROCESSABLE,
			Message: fmt.Sprintf("Tenant %s already has %d webhooks, the most allowed.", tenantID, maxWebhooksPerTenant),
			Details: map[string]any{"max_webhooks": maxWebhooksPerTenant},
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("draw webhook secret: %w", err)
	}
	secret := webhookSecretPrefix + hex.EncodeToString(raw[:])
	w := &remediation.Webhook{
		ID: s.cfg.NewID(), TenantID: tenantID, URL: target, Events: events,
		CreatedAt: s.cfg.Now().UTC(), CreatedBy: requestedByOf(principalOf(c)),
	}
	plain := []byte(secret)
	w.SecretCiphertext, w.SecretKeyID, err = s.cfg.Box.Seal(plain)
	clear(plain)
	if err != nil {
		return fmt.Errorf("seal webhook secret: %w", err)
	}
	if err := s.access.CreateWebhook(ctx, w); err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return tenantNotFound(tenantID)
		}
		return fmt.Errorf("create webhook for tenant %s: %w", tenantID, err)
	}
	s.audit(c, auditWebhookCreate, tenantID, w.ID, map[string]any{"url": redactedURL(target), "events": events})
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tenants/"+tenantID+"/webhooks/"+w.ID)
	return c.JSON(http.StatusCreated, webhookCreatedResponse{webhookResponse: toWebhookResponse(w), Secret: secret})
}

// checkEvents returns the events (default job.finished), duplicates
// merged, or why they are refused.
func checkEvents(events []string) ([]string, string) {
	if events == nil {
		return []string{remediation.EventJobFinished}, ""
	}
	if len(events) == 0 || len(events) > maxWebhookEvents {
		return nil, fmt.Sprintf("must name 1 to %d events among %q", maxWebhookEvents, webhookEvents)
	}
	out := make([]string, 0, len(events))
	for i, e := range events {
		known := false
		for _, k := range webhookEvents {
			known = known || e == k
		}
		if !known {
			return nil, fmt.Sprintf("entry %d (%q) is not one of %q", i, truncate(e, 40), webhookEvents)
		}
		dup := false
		for _, o := range out {
			dup = dup || o == e
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out, ""
}

// redactedURL is a webhook URL for the audit log: without its query,
// which may carry a token.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// handleWebhookList lists a tenant's webhooks.
func (s *Server) handleWebhookList(c echo.Context) error {
	tenantID, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	if s.access == nil {
		return accessUnavailable()
	}
	if _, err := s.getTenant(c, tenantID); err != nil {
		return err
	}
	hooks, err := s.access.ListWebhooks(c.Request().Context(), tenantID)
	if err != nil {
		return fmt.Errorf("list webhooks of tenant %s: %w", tenantID, err)
	}
	resp := webhookListResponse{Webhooks: make([]webhookResponse, 0, len(hooks))}
	for _, w := range hooks {
		resp.Webhooks = append(resp.Webhooks, toWebhookResponse(w))
	}
	return c.JSON(http.StatusOK, resp)
}

// getWebhook loads the :webhook_id of the tenant of the path; a webhook
// of another tenant is ENOTFOUND, as one that does not exist.
func (s *Server) getWebhook(c echo.Context) (*remediation.Webhook, error) {
	tenantID, err := tenantIDParam(c)
	if err != nil {
		return nil, err
	}
	if s.access == nil {
		return nil, accessUnavailable()
	}
	id := c.Param("webhook_id")
	notFound := remediation.Errorf(remediation.ENOTFOUND, "Webhook %s does not exist.", truncate(id, 80))
	if id == "" || len(id) > 128 || !printableASCII(id) {
		return nil, notFound
	}
	w, err := s.access.GetWebhook(c.Request().Context(), id)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return nil, notFound
		}
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	if w.TenantID != tenantID {
		return nil, notFound
	}
	return w, nil
}

// handleWebhookDelete deletes a webhook and its deliveries.
func (s *Server) handleWebhookDelete(c echo.Context) error {
	w, err := s.getWebhook(c)
	if err != nil {
		return err
	}
	if err := s.access.DeleteWebhook(c.Request().Context(), w.ID); err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return remediation.Errorf(remediation.ENOTFOUND, "Webhook %s does not exist.", w.ID)
		}
		return fmt.Errorf("delete webhook %s: %w", w.ID, err)
	}
	s.audit(c, auditWebhookDelete, w.TenantID, w.ID, map[string]any{"url": redactedURL(w.URL)})
	return c.NoContent(http.StatusNoContent)
}

// handleDeliveryList lists a webhook's latest deliveries, newest first.
func (s *Server) handleDeliveryList(c echo.Context) error {
	q, err := parseQuery(c, "limit")
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	w, err := s.getWebhook(c)
	if err != nil {
		return err
	}
	ds, err := s.access.ListDeliveries(c.Request().Context(), w.ID, limit)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return remediation.Errorf(remediation.ENOTFOUND, "Webhook %s does not exist.", w.ID)
		}
		return fmt.Errorf("list deliveries of webhook %s: %w", w.ID, err)
	}
	if ds == nil {
		ds = []*remediation.WebhookDelivery{}
	}
	return c.JSON(http.StatusOK, deliveryListResponse{Deliveries: ds})
}
