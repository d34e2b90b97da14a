package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// historyResponse is the body of GET /v1/history.
type historyResponse struct {
	History    []*remediation.Outcome `json:"history"`
	NextCursor string                 `json:"next_cursor"`
}

// handleHistory lists terminal per-identity outcomes, newest first, of the
// tenants the caller may see. status accepts only final item statuses: the
// history holds nothing else. With Accept: text/csv it streams every
// matching outcome as CSV (csv.go).
func (s *Server) handleHistory(c echo.Context) error {
	q, err := parseQuery(c, "tenant_id", "identity", "action", "status", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	f := remediation.HistoryFilter{TenantIDs: scopeTenants(principalOf(c))}
	if f.TenantID, err = q.tenantID("tenant_id"); err != nil {
		return err
	}
	if f.Identity, err = q.identity("identity"); err != nil {
		return err
	}
	if f.Action, err = q.action("action"); err != nil {
		return err
	}
	if f.Status, err = q.itemStatus("status", true); err != nil {
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
		return s.streamHistoryCSV(c, f)
	}
	outcomes, next, err := s.cfg.Store.History(c.Request().Context(), f)
	if err != nil {
		return storeListError("history", err)
	}
	if outcomes == nil {
		outcomes = []*remediation.Outcome{}
	}
	return c.JSON(http.StatusOK, historyResponse{History: outcomes, NextCursor: next})
}
