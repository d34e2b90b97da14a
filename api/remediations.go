package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Limits and constants of remediation requests.
const (
	maxReason         = 1000     // characters
	maxContextBytes   = 16 << 10 // compact JSON bytes
	maxParamsBytes    = 64 << 10 // compact JSON bytes
	maxIdempotencyKey = 255      // bytes
	maxActor          = 320      // characters
	urgentMaxItems    = 10       // jobs this small are "urgent"
	dispatchTimeout   = 5 * time.Second
)

// Priorities handed to the Dispatcher.
const (
	priorityUrgent = "urgent"
	priorityBulk   = "bulk"
)

// Request headers of POST /v1/tenants/{tenant_id}/remediations.
const (
	headerIdempotencyKey     = "Idempotency-Key"
	headerIdempotentReplayed = "Idempotent-Replayed"
	headerActor              = "X-Actor"
)

// remediationCreateRequest is the body of POST /v1/tenants/{id}/remediations.
type remediationCreateRequest struct {
	Action     string          `json:"action"`
	Identities []string        `json:"identities"`
	Reason     string          `json:"reason"`
	Context    json.RawMessage `json:"context"`
	Parameters json.RawMessage `json:"parameters"`
	// DryRun previews: the job runs with reads only and its items say what
	// would happen.
	DryRun bool `json:"dry_run"`
	// ConfirmAdminTargets lets the action change users holding privileged
	// roles (stored on the job; the executors enforce it).
	ConfirmAdminTargets bool `json:"confirm_admin_targets"`
}

// jobResponse is a job as the API shows it.
type jobResponse struct {
	ID               string                         `json:"id"`
	TenantID         string                         `json:"tenant_id"`
	Action           remediation.Action             `json:"action"`
	Status           remediation.JobStatus          `json:"status"`
	Total            int                            `json:"total"`
	DuplicatesMerged int                            `json:"duplicates_merged"`
	Counts           map[remediation.ItemStatus]int `json:"counts"`
	Reason           string                         `json:"reason"`
	Actor            string                         `json:"actor"`
	RequestedBy      string                         `json:"requested_by"`
	Context          json.RawMessage                `json:"context"`
	Parameters       json.RawMessage                `json:"parameters"`
	DryRun           bool                           `json:"dry_run"`
	ConfirmAdmin     bool                           `json:"confirm_admin_targets"`
	UndoOf           *string                        `json:"undo_of"`
	RetryOf          *string                        `json:"retry_of"`
	Priority         string                         `json:"priority"`
	// CancelRequested: a cancel was accepted; no item starts any more,
	// pending ones are being canceled, running ones finish.
	CancelRequested bool       `json:"cancel_requested"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at"`
}

func toJobResponse(j *remediation.Job) jobResponse {
	// A canceling job's items not started count as canceled
	// (remediation.Job.SeenCounts).
	counts := j.SeenCounts()
	return jobResponse{
		ID: j.ID, TenantID: j.TenantID, Action: j.Action, Status: j.Status,
		Total: j.Total, DuplicatesMerged: j.Duplicates, Counts: counts,
		Reason: j.Reason, Actor: j.Actor, RequestedBy: j.RequestedBy,
		Context: nullIfEmpty(j.Context), Parameters: nullIfEmpty(j.Params),
		DryRun: j.DryRun, ConfirmAdmin: j.ConfirmAdminTargets,
		UndoOf: nullIfBlank(j.UndoOf), RetryOf: nullIfBlank(j.RetryOf), Priority: j.Priority,
		CancelRequested: j.CancelRequested,
		CreatedAt:       j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
	}
}

func nullIfEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// nullIfBlank returns nil for "" (shown as null) and &s otherwise.
func nullIfBlank(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// jobListResponse is the body of GET /v1/remediations.
type jobListResponse struct {
	Remediations []jobResponse `json:"remediations"`
	NextCursor   string        `json:"next_cursor"`
}

// handleRemediationCreate validates a remediation request, stores the job
// and its items, then starts the fan-out. It writes nothing unless the
// whole request is valid, and never waits for per-identity work.
func (s *Server) handleRemediationCreate(c echo.Context) error {
	ctx := c.Request().Context()
	tenantID, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	key, actor, err := remediationHeaders(c.Request().Header)
	if err != nil {
		return err
	}
	var req remediationCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v, err := s.validateRemediation(&req)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.GetTenant(ctx, tenantID); err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return remediation.Errorf(remediation.ENOTFOUND, "Tenant %s is not registered.", tenantID)
		}
		return fmt.Errorf("get tenant %s: %w", tenantID, err)
	}

	priority := priorityBulk
	if len(v.identities) <= urgentMaxItems {
		priority = priorityUrgent
	}
	job := &remediation.Job{
		ID:                  s.cfg.NewID(),
		TenantID:            tenantID,
		Action:              v.action,
		Status:              remediation.JobQueued,
		Total:               len(v.identities),
		Duplicates:          v.duplicates,
		Reason:              v.reason,
		RequestedBy:         requestedByOf(principalOf(c)),
		Actor:               actor,
		Context:             v.context,
		Params:              v.params,
		DryRun:              req.DryRun,
		ConfirmAdminTargets: req.ConfirmAdminTargets,
		Priority:            priority,
		IdempotencyKey:      key,
		RequestHash:         v.hash,
		CreatedAt:           s.cfg.Now().UTC(),
	}
	stored, created, err := s.cfg.Store.CreateJob(ctx, job, v.identities)
	switch remediation.ErrorCode(err) {
	case "":
	case remediation.ECONFLICT:
		return keyConflict(key)
	case remediation.ENOTFOUND:
		return remediation.Errorf(remediation.ENOTFOUND, "Tenant %s is not registered.", tenantID)
	default:
		return fmt.Errorf("create job for tenant %s: %w", tenantID, err)
	}
	return s.respondJobCreated(c, stored, created)
}

// keyConflict is the answer to an Idempotency-Key reused for another request.
func keyConflict(key string) error {
	return &remediation.Error{
		Code:    remediation.ECONFLICT,
		Message: "This Idempotency-Key was already used with a different request.",
		Details: map[string]any{"idempotency_key": key},
	}
}

// respondJobCreated answers a job creation: a replay (created false) with
// 200 and Idempotent-Replayed; a new job with 202 once its fan-out is
// started, or, for a small dry run that completes within DryRunWait, with
// 200 and its items (see dryrun.go). A replayed dry run that is finished
// also carries its items.
func (s *Server) respondJobCreated(c echo.Context, stored *remediation.Job, created bool) error {
	c.Response().Header().Set(echo.HeaderLocation, "/v1/remediations/"+stored.ID)
	if !created {
		c.Response().Header().Set(headerIdempotentReplayed, "true")
		if resp, ok := s.withItems(c.Request().Context(), stored); ok {
			return c.JSON(http.StatusOK, resp)
		}
		return c.JSON(http.StatusOK, toJobResponse(stored))
	}
	if !s.startFanout(c.Request().Context(), stored.ID, stored.Priority) {
		return c.JSON(http.StatusAccepted, toJobResponse(stored))
	}
	latest, done := s.awaitDryRun(c.Request().Context(), stored)
	if done {
		if resp, ok := s.withItems(c.Request().Context(), latest); ok {
			return c.JSON(http.StatusOK, resp)
		}
	}
	return c.JSON(http.StatusAccepted, toJobResponse(latest))
}

// startFanout hands the job to the queue and reports whether it did. A
// failure is only logged: the job is stored, and the reconciler enqueues
// jobs whose fan-out never started.
func (s *Server) startFanout(ctx context.Context, jobID, priority string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dispatchTimeout)
	defer cancel()
	if err := s.cfg.Dispatcher.StartFanout(ctx, jobID, priority); err != nil {
		s.log.WarnContext(ctx, "api: fan-out not started; the reconciler will enqueue the job",
			slog.String("job_id", jobID), slog.Any("err", err))
		return false
	}
	return true
}

// remediationHeaders validates Idempotency-Key and X-Actor.
func remediationHeaders(h http.Header) (key, actor string, err error) {
	key = h.Get(headerIdempotencyKey)
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		return "", "", invalid(map[string]any{"header": headerIdempotencyKey},
			"Idempotency-Key must be at most %d printable ASCII characters.", maxIdempotencyKey)
	}
	if actor, err = actorHeader(h.Get(headerActor)); err != nil {
		return "", "", err
	}
	return key, actor, nil
}

// actorHeader validates the X-Actor header (the person behind the API
// key) and returns it trimmed.
func actorHeader(v string) (string, error) {
	actor := strings.TrimSpace(v)
	if utf8.RuneCountInString(actor) > maxActor || hasControl(actor) || !utf8.ValidString(actor) {
		return "", invalid(map[string]any{"header": headerActor},
			"X-Actor must be at most %d printable characters.", maxActor)
	}
	return actor, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// handleRemediationGet returns one job with its counts.
func (s *Server) handleRemediationGet(c echo.Context) error {
	j, err := s.getJob(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toJobResponse(j))
}

// getJob loads a job, with a caller-facing ENOTFOUND, also for a job of a
// tenant the caller (the principal of ctx) may not see.
func (s *Server) getJob(ctx context.Context, id string) (*remediation.Job, error) {
	notFound := remediation.Errorf(remediation.ENOTFOUND, "Remediation %s does not exist.", truncate(id, 80))
	if id == "" || len(id) > 128 {
		return nil, notFound
	}
	j, err := s.cfg.Store.GetJob(ctx, id)
	if err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return nil, notFound
		}
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	if p, ok := PrincipalFrom(ctx); !ok || !p.CanSee(j.TenantID) {
		return nil, notFound
	}
	return j, nil
}

// handleRemediationList lists jobs, newest first.
func (s *Server) handleRemediationList(c echo.Context) error {
	q, err := parseQuery(c, "tenant_id", "action", "status", "limit", "cursor")
	if err != nil {
		return err
	}
	f := remediation.JobFilter{TenantIDs: scopeTenants(principalOf(c))}
	if f.TenantID, err = q.tenantID("tenant_id"); err != nil {
		return err
	}
	if f.Action, err = q.action("action"); err != nil {
		return err
	}
	if st := q.get("status"); st != "" {
		switch f.Status = remediation.JobStatus(st); f.Status {
		case remediation.JobQueued, remediation.JobRunning, remediation.JobCompleted, remediation.JobCanceled:
		default:
			return invalid(map[string]any{"parameter": "status", "valid": []remediation.JobStatus{
				remediation.JobQueued, remediation.JobRunning, remediation.JobCompleted, remediation.JobCanceled}},
				"Unknown remediation status %q.", truncate(st, 40))
		}
	}
	if f.Limit, err = q.limit(); err != nil {
		return err
	}
	if f.Cursor, err = q.cursor(); err != nil {
		return err
	}
	jobs, next, err := s.cfg.Store.ListJobs(c.Request().Context(), f)
	if err != nil {
		return storeListError("list jobs", err)
	}
	resp := jobListResponse{Remediations: make([]jobResponse, 0, len(jobs)), NextCursor: next}
	for _, j := range jobs {
		resp.Remediations = append(resp.Remediations, toJobResponse(j))
	}
	return c.JSON(http.StatusOK, resp)
}

// requestFingerprint is what defines a job for idempotency: two requests
// with the same Idempotency-Key must agree on all of it. Op is empty for
// POST /v1/tenants/{id}/remediations (keeping the hashes of jobs stored
// before undo and retry existed), "undo" or "retry" otherwise, with Of the
// source job. Fields added later are omitted when zero for the same reason.
type requestFingerprint struct {
	Op                  string             `json:"op,omitempty"`
	Of                  string             `json:"of,omitempty"`
	Action              remediation.Action `json:"action"`
	Identities          []string           `json:"identities"`
	Reason              string             `json:"reason"`
	Context             json.RawMessage    `json:"context"`
	Parameters          json.RawMessage    `json:"parameters"`
	DryRun              bool               `json:"dry_run"`
	ConfirmAdminTargets bool               `json:"confirm_admin_targets,omitempty"`
}

// hashRequest is the RequestHash of a validated request: sha256 over the
// canonical JSON of its fingerprint.
func hashRequest(f requestFingerprint) (string, error) {
	f.Context, f.Parameters = nullIfEmpty(f.Context), nullIfEmpty(f.Parameters)
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
