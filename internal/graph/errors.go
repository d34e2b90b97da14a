package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/entraremediator/remediator/internal/remediation"
)

// Error codes of failures that are not Graph answers.
const (
	CodeTimeout         = "timeout"               // no answer before the deadline
	CodeCanceled        = "canceled"              // the caller canceled the call
	CodeNetwork         = "network_error"         // no answer: connection, TLS, DNS...
	CodeAuthentication  = "authentication_failed" // the token endpoint refused
	CodeInvalidResponse = "invalid_response"      // an answer that could not be read
)

// maxMessage bounds the length of error messages taken from responses.
const maxMessage = 600

var errEmptyResponse = errors.New("empty response body")

// mapError turns the error of a call into a *remediation.GraphError. ctx is
// the call's context, x what the recorder saw. It never calls Error() on an
// *odataerrors.ODataError: that panics when the body has no message.
func (d *directory) mapError(ctx context.Context, op string, err error, x *exchange) *remediation.GraphError {
	status, requestID, _ := x.get()
	g := &remediation.GraphError{Operation: op}

	var oe *odataerrors.ODataError
	var ae *abstractions.ApiError
	var af *azidentity.AuthenticationFailedError
	var ge *remediation.GraphError
	switch {
	case errors.As(err, &ge):
		// A successful answer the call judged a failure (e.g. a denied
		// schedule request): already mapped.
		g = &remediation.GraphError{Operation: op, Status: ge.Status, Code: ge.Code, Message: ge.Message,
			RequestID: ge.RequestID, RetryAfter: ge.RetryAfter}
		if g.Status == 0 {
			g.Status = status
		}
		if g.RequestID == "" {
			g.RequestID = requestID
		}
		g.Message = d.clean(g.Message)
		return g
	case errors.As(err, &oe):
		g.Status = oe.GetStatusCode()
		h := oe.GetResponseHeaders()
		g.RequestID = header(h, "request-id")
		g.RetryAfter = parseRetryAfter(header(h, "retry-after"), time.Now())
		if me := oe.GetErrorEscaped(); me != nil {
			g.Code = deref(me.GetCode())
			g.Message = deref(me.GetMessage())
			if ie := me.GetInnerError(); ie != nil {
				if rid := deref(ie.GetRequestId()); rid != "" {
					g.RequestID = rid
				}
			}
		}
	case errors.As(err, &ae):
		g.Status = ae.GetStatusCode()
		h := ae.GetResponseHeaders()
		g.RequestID = header(h, "request-id")
		g.RetryAfter = parseRetryAfter(header(h, "retry-after"), time.Now())
		g.Message = ae.Message
	case errors.As(err, &af) && af.RawResponse != nil:
		d.authError(g, af.RawResponse)
		return g
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		g.Code = CodeTimeout
		if errors.Is(ctx.Err(), context.Canceled) {
			g.Code = CodeCanceled
		}
		g.Message = d.clean(err.Error())
		return g
	case af != nil:
		// The token endpoint gave no answer (connection, TLS, discovery).
		g.Code = CodeNetwork
		g.Message = "token request failed: " + d.clean(af.Error())
		return g
	case status != 0:
		// An answer the SDK could not parse (not JSON, or an unexpected body).
		g.Status, g.RequestID, g.Code = status, requestID, CodeInvalidResponse
		g.Message = fmt.Sprintf("unreadable HTTP %d response: %s", status, d.clean(err.Error()))
		return g
	default:
		g.Code = CodeNetwork
		g.Message = d.clean(err.Error())
		return g
	}
	if g.Status == 0 {
		g.Status = status
	}
	if g.RequestID == "" {
		g.RequestID = requestID
	}
	if g.Message == "" {
		g.Message = http.StatusText(g.Status)
	}
	g.Message = d.clean(g.Message)
	return g
}

// authError fills g from the token endpoint's answer. The message holds the
// OAuth error and its description, never the request (which carries the
// secret).
func (d *directory) authError(g *remediation.GraphError, resp *http.Response) {
	g.Status = resp.StatusCode
	g.Code = CodeAuthentication
	g.RequestID = resp.Header.Get("x-ms-request-id")
	if g.RequestID == "" {
		g.RequestID = resp.Header.Get("request-id")
	}
	g.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		TraceID     string `json:"trace_id"`
	}
	if p, err := runtime.Payload(resp); err == nil {
		_ = json.Unmarshal(p, &body)
	}
	if g.RequestID == "" {
		g.RequestID = body.TraceID
	}
	msg := fmt.Sprintf("token request failed: HTTP %d", resp.StatusCode)
	if body.Error != "" {
		msg += " " + body.Error
	}
	if body.Description != "" {
		msg += ": " + body.Description
	}
	g.Message = d.clean(msg)
}

// clean removes the secret from a message and bounds its length.
func (d *directory) clean(s string) string {
	if d.redact != nil {
		s = d.redact(s)
	}
	s = strings.TrimSpace(s)
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func header(h *abstractions.ResponseHeaders, key string) string {
	if h == nil {
		return ""
	}
	if v := h.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxRetryAfter caps absurd Retry-After values.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
// It returns 0 when v is empty, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs != secs || secs <= 0 { // NaN or not positive
			return 0
		}
		if secs > maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
