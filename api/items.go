package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// itemResponse is one identity of a job as the API shows it.
type itemResponse struct {
	Identity       string                 `json:"identity"`
	ObjectID       string                 `json:"object_id"`
	Status         remediation.ItemStatus `json:"status"`
	Detail         string                 `json:"detail"`
	Error          *remediation.ItemError `json:"error"`
	Attempts       int                    `json:"attempts"`
	GraphRequestID string                 `json:"graph_request_id"`
	Results        json.RawMessage        `json:"results,omitempty"`
	UpdatedAt      time.Time              `json:"updated_at"`
}

func toItemResponse(it *remediation.Item) itemResponse {
	return itemResponse{
		Identity: it.Identity, ObjectID: it.ObjectID, Status: it.Status, Detail: it.Detail,
		Error: it.Error, Attempts: it.Attempts, GraphRequestID: it.GraphRequestID,
		Results: it.Results, UpdatedAt: it.UpdatedAt,
	}
}

// callResponse is one Graph call of an item's attempt log.
type callResponse struct {
	Time       time.Time `json:"time"`
	Attempt    int       `json:"attempt"`
	Operation  string    `json:"operation"`
	HTTPStatus int       `json:"http_status"`
	ErrorCode  string    `json:"error_code"`
	RequestID  string    `json:"request_id"`
	DurationMS float64   `json:"duration_ms"`
}

func toCallResponse(c remediation.Call) callResponse {
	ms := c.DurationMS
	if ms == 0 && c.Duration != 0 {
		ms = float64(c.Duration) / float64(time.Millisecond)
	}
	return callResponse{
		Time: c.Time, Attempt: c.Attempt, Operation: c.Operation, HTTPStatus: c.HTTPStatus,
		ErrorCode: c.ErrorCode, RequestID: c.RequestID, DurationMS: ms,
	}
}

// itemDetailResponse is the body of GET /v1/remediations/{id}/items/{identity}.
type itemDetailResponse struct {
	itemResponse
	AttemptLog []callResponse `json:"attempt_log"`
}

// itemListResponse is the body of GET /v1/remediations/{id}/items.
type itemListResponse struct {
	Items      []itemResponse `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// handleItemList lists a job's items in submission order.
func (s *Server) handleItemList(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := parseQuery(c, "status", "limit", "cursor")
	if err != nil {
		return err
	}
	var f remediation.ItemFilter
	if f.Status, err = q.itemStatus("status", false); err != nil {
		return err
	}
	if f.Limit, err = q.limit(); err != nil {
		return err
	}
	if f.Cursor, err = q.cursor(); err != nil {
		return err
	}
	j, err := s.getJob(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	resp := itemListResponse{Items: []itemResponse{}}
	if f.Status != "" {
		// A canceling job's items not started are canceled for
		// readers (remediation.Job.SeenStatuses).
		if f.Statuses = j.SeenStatuses(f.Status); f.Statuses == nil {
			return c.JSON(http.StatusOK, resp)
		}
		f.Status = ""
	}
	items, next, err := s.cfg.Store.ListItems(ctx, j.ID, f)
	if err != nil {
		return storeListError("list items of job "+j.ID, err)
	}
	resp.NextCursor = next
	for _, it := range items {
		resp.Items = append(resp.Items, toItemResponse(j.SeenItem(it)))
	}
	return c.JSON(http.StatusOK, resp)
}

// handleItemGet returns one item and its Graph attempt log. The identity
// is URL-decoded and normalized before the lookup.
func (s *Server) handleItemGet(c echo.Context) error {
	ctx := c.Request().Context()
	raw := c.Param("identity")
	if c.Request().URL.RawPath != "" { // echo matched the escaped path
		dec, err := url.PathUnescape(raw)
		if err != nil {
			return invalid(map[string]any{"identity": truncate(raw, 120)}, "The identity is not correctly URL-encoded.")
		}
		raw = dec
	}
	identity, err := remediation.NormalizeIdentity(raw)
	if err != nil {
		return invalid(map[string]any{"identity": truncate(raw, 120)}, "%s", remediation.ErrorMessage(err))
	}
	j, err := s.getJob(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	it, calls, err := s.cfg.Store.GetItem(ctx, j.ID, identity)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return remediation.Errorf(remediation.ENOTFOUND, "Remediation %s has no identity %s.", j.ID, identity)
		}
		return fmt.Errorf("get item %s of job %s: %w", identity, j.ID, err)
	}
	resp := itemDetailResponse{itemResponse: toItemResponse(j.SeenItem(it)), AttemptLog: make([]callResponse, 0, len(calls))}
	for _, call := range calls {
		resp.AttemptLog = append(resp.AttemptLog, toCallResponse(call))
	}
	return c.JSON(http.StatusOK, resp)
}
