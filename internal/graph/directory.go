package graph

import (
	"context"
	"log/slog"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"go.opentelemetry.io/otel/trace"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Operation names, as recorded in call logs and errors.
const (
	OpGetUser              = "GET /users/{id}"
	OpSetAccountEnabled    = "PATCH /users/{id}"
	OpRevokeSignInSessions = "POST /users/{id}/revokeSignInSessions"
)

// userSelect are the user properties GetUser reads ($select).
var userSelect = []string{"id", "userPrincipalName", "userType", "accountEnabled", "onPremisesSyncEnabled"}

// errorMapping makes the adapter parse every error body as an OData error.
var errorMapping = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// directory is the remediation.Directory of one tenant, bound to one
// credential.
type directory struct {
	tenantID    string
	fingerprint [32]byte
	updatedAt   time.Time
	client      *msgraphsdk.GraphServiceClient
	timeout     time.Duration
	log         *slog.Logger
	tracer      trace.Tracer
	// redact removes the tenant's credential secrets from a text.
	redact func(string) string
}

var (
	_ remediation.Directory     = (*directory)(nil)
	_ remediation.FullDirectory = (*directory)(nil)
)

// GetUser implements remediation.Directory.
func (d *directory) GetUser(ctx context.Context, id string) (*remediation.User, error) {
	var u models.Userable
	err := d.do(ctx, OpGetUser, id, func(ctx context.Context) error {
		var err error
		u, err = d.client.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userSelect},
		})
		if err == nil && u == nil {
			err = errEmptyResponse
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &remediation.User{
		ID:                    deref(u.GetId()),
		UserPrincipalName:     deref(u.GetUserPrincipalName()),
		UserType:              deref(u.GetUserType()),
		AccountEnabled:        deref(u.GetAccountEnabled()),
		OnPremisesSyncEnabled: deref(u.GetOnPremisesSyncEnabled()),
	}, nil
}

// SetAccountEnabled implements remediation.Directory. Any 2xx is a success.
func (d *directory) SetAccountEnabled(ctx context.Context, id string, enabled bool) error {
	return d.do(ctx, OpSetAccountEnabled, id, func(ctx context.Context) error {
		body := models.NewUser()
		body.SetAccountEnabled(&enabled)
		info, err := d.client.Users().ByUserId(id).ToPatchRequestInformation(ctx, body, nil)
		if err != nil {
			return err
		}
		return d.client.GetAdapter().SendNoContent(ctx, info, errorMapping)
	})
}

// RevokeSignInSessions implements remediation.Directory. Any 2xx is a
// success, whatever its body.
func (d *directory) RevokeSignInSessions(ctx context.Context, id string) error {
	return d.do(ctx, OpRevokeSignInSessions, id, func(ctx context.Context) error {
		info, err := d.client.Users().ByUserId(id).RevokeSignInSessions().ToPostRequestInformation(ctx, nil)
		if err != nil {
			return err
		}
		return d.client.GetAdapter().SendNoContent(ctx, info, errorMapping)
	})
}

// do runs one Graph call about the object id (see run). An empty id is
// refused without a request: it would address the whole collection.
func (d *directory) do(ctx context.Context, op, id string, call func(context.Context) error) error {
	if err := needIDs(op, id); err != nil {
		return err
	}
	return d.run(ctx, op, id, call)
}

// needIDs refuses empty object ids (EINVALID).
func needIDs(op string, ids ...string) error {
	for _, id := range ids {
		if id == "" {
			return remediation.Errorf(remediation.EINVALID, "graph %s: empty id", op)
		}
	}
	return nil
}

// run runs one Graph call under the per-call timeout, maps its error,
// appends it to the context's call log, logs it and traces it (span.go).
// target names what the call is about in the log record (never in the
// span: it may be a UPN).
func (d *directory) run(ctx context.Context, op, target string, call func(context.Context) error) (err error) {
	ctx, span := d.startSpan(ctx, op)
	defer func() { endSpan(span, err) }()
	callCtx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	x := &exchange{}
	callCtx = withExchange(callCtx, x)
	start := time.Now()
	err = call(callCtx)
	elapsed := time.Since(start)
	status, requestID, httpDur := x.get()

	var gerr *remediation.GraphError
	if err != nil {
		gerr = d.mapError(callCtx, op, err, x)
		status, requestID = gerr.Status, gerr.RequestID
	}
	c := remediation.Call{
		Time:       start.UTC(),
		Operation:  op,
		HTTPStatus: status,
		RequestID:  requestID,
		Duration:   elapsed,
		DurationMS: float64(elapsed) / float64(time.Millisecond),
	}
	if gerr != nil {
		c.ErrorCode = gerr.Code
	}
	if l := remediation.CallLogFrom(ctx); l != nil {
		l.Add(c)
	}
	callSpanAttrs(span, status, requestID)
	attrs := []slog.Attr{
		slog.String("tenant_id", d.tenantID),
		slog.String("operation", op),
		slog.String("target", target),
		slog.Int("http_status", status),
		slog.String("request_id", requestID),
		slog.Float64("duration_ms", c.DurationMS),
		slog.Float64("http_ms", float64(httpDur)/float64(time.Millisecond)),
	}
	if gerr == nil {
		d.log.LogAttrs(ctx, slog.LevelDebug, "graph call", attrs...)
		return nil
	}
	attrs = append(attrs, slog.String("error_code", gerr.Code), slog.String("error", gerr.Message))
	if gerr.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", gerr.RetryAfter))
	}
	d.log.LogAttrs(ctx, slog.LevelWarn, "graph call failed", attrs...)
	return gerr
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
