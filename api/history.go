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

// handleHistory lists terminal per-identity outcomes, newest first.
// status accepts only final item statuses: the history holds nothing else.
func (s *Server) handleHistory(c echo.Context) error {
	q, err := parseQuery(c, "tenant_id", "identity", "action", "status", "since", "until", "limit", "cursor")
	if err != nil {
		return err
	}
	var f remediation.HistoryFilter
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
	if f.Since, err = q.time("since"); err != nil {
		return err
	}
	if f.Until, err = q.time("until"); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return invalid(map[string]any{"parameter": "until"}, "until must not be before since.")
	}
	if f.Limit, err = q.limit(); err != nil {
		return err
	}
	if f.Cursor, err = q.cursor(); err != nil {
		return err
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
