package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/entraremediator/remediator/internal/budget"
	"github.com/entraremediator/remediator/internal/remediation"
)

// Item error messages shown to the caller for well-known Graph refusals.
const (
	msgNotFound     = "identity not found"
	msgForbidden    = "insufficient privileges (the app's service principal needs a privileged role for admin targets)"
	msgOnPremises   = "managed on-premises: change it in on-premises AD"
	msgTenantAbsent = "tenant not registered"
)

// kind is what the worker does with an error of an item.
type kind int

const (
	// kindInfra: store or queue trouble; return the error and let asynq
	// run the task again. The item is not changed.
	kindInfra kind = iota
	// kindPermanent: the item fails now, without retries.
	kindPermanent
	// kindRetryable: Graph may answer differently later (throttling, 5xx,
	// time-outs, network); the item retries until its budget is spent.
	kindRetryable
	// kindBudget: the tenant's Graph budget refused the call before it
	// reached Graph (*budget.WaitError): the task runs again after the
	// wait (retryAfter), not counted as a retry; nothing failed.
	kindBudget
)

// verdict is the classification of one error.
type verdict struct {
	kind       kind
	itemErr    *remediation.ItemError
	requestID  string
	retryAfter time.Duration
}

// classify is the one place that maps errors to item outcomes.
//
//	*budget.WaitError               → budget (not a failure), its Delay
//	*GraphError, not retryable      → permanent, {Graph code, our text}
//	*GraphError, retryable          → retryable (429, 500, 502, 503, 504, no answer)
//	*remediation.Error, not internal → permanent, {code, message}
//	executor panic                  → permanent, {internal, …}
//	anything else                   → infrastructure
func classify(err error) verdict {
	var pe *panicError
	if errors.As(err, &pe) {
		return verdict{kind: kindPermanent, itemErr: &remediation.ItemError{Code: remediation.EINTERNAL,
			Message: fmt.Sprintf("internal error while running %s", pe.action)}}
	}
	var we *budget.WaitError
	if errors.As(err, &we) {
		return verdict{kind: kindBudget, retryAfter: we.Delay}
	}
	var ge *remediation.GraphError
	if errors.As(err, &ge) {
		v := verdict{kind: kindPermanent, requestID: ge.RequestID,
			itemErr: &remediation.ItemError{Code: graphCode(ge), Message: graphMessage(err, ge)}}
		if ge.Retryable() {
			v.kind = kindRetryable
			v.retryAfter = ge.RetryAfter
		}
		return v
	}
	var re *remediation.Error
	if errors.As(err, &re) && re.Code != remediation.EINTERNAL {
		return verdict{kind: kindPermanent, itemErr: &remediation.ItemError{Code: re.Code, Message: re.Message}}
	}
	return verdict{kind: kindInfra}
}

// graphCode is the item error code of a Graph error: Graph's own code, or
// one derived from the status when Graph gave none.
func graphCode(ge *remediation.GraphError) string {
	switch {
	case ge.Code != "":
		return ge.Code
	case ge.Status == 0:
		return "network_error"
	}
	return fmt.Sprintf("http_%d", ge.Status)
}

// graphMessage is the caller-facing text of a Graph error.
func graphMessage(err error, ge *remediation.GraphError) string {
	switch {
	case errors.Is(err, remediation.ErrManagedOnPremises),
		ge.Status == http.StatusBadRequest && mentionsOnPremises(ge.Message):
		return msgOnPremises
	case ge.Status == http.StatusNotFound, ge.Code == "Request_ResourceNotFound":
		return msgNotFound
	case ge.Status == http.StatusForbidden, ge.Code == "Authorization_RequestDenied":
		return msgForbidden
	case ge.Message != "":
		return ge.Message
	}
	return ge.Error()
}

// mentionsOnPremises recognises Graph's on-premises refusal when the
// executor did not tag it with remediation.ErrManagedOnPremises.
func mentionsOnPremises(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "on-premises mastered") || strings.Contains(m, "directory sync")
}

// panicError is an executor's panic, recovered.
type panicError struct {
	action remediation.Action
	value  any
}

func (e *panicError) Error() string {
	return fmt.Sprintf("executor %s panicked: %v", e.action, e.value)
}

// retryError is returned for an item that was set to retrying: asynq
// counts it as a failure (it consumes a retry) and waits Delay.
type retryError struct {
	err   error
	delay time.Duration
}

func (e *retryError) Error() string {
	return fmt.Sprintf("retry in %s: %v", e.delay, e.err)
}

func (e *retryError) Unwrap() error { return e.err }

// isFailure is the server's IsFailure: only Graph retries count against a
// task's MaxRetry. Infrastructure errors, lease expiry and time-outs do not,
// so a task can never exhaust its retries (and be archived) while its item
// is still non-terminal.
func isFailure(err error) bool {
	var re *retryError
	return errors.As(err, &re)
}

// backoff tunes retry delays.
type backoff struct {
	base, max time.Duration
}

// retryDelay returns the delay before retry n+1 (n retries done so far):
// exponential backoff with full jitter from base, capped at max, but never
// less than Graph's Retry-After. Retry-After is rounded up so the task's
// retry time, which asynq stores in whole seconds, is never earlier.
func (b backoff) retryDelay(now time.Time, n int, retryAfter time.Duration) time.Duration {
	d := b.base
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	d = time.Duration(rand.Int64N(int64(d) + 1))
	if retryAfter > 0 {
		at := now.Add(retryAfter)
		if frac := at.Sub(at.Truncate(time.Second)); frac > 0 {
			at = at.Add(time.Second - frac)
		}
		d = max(d, at.Sub(now))
	}
	return d
}

// infraDelay returns the delay after an infrastructure error: it is not
// counted as a retry, so the delay does not grow; equal jitter over
// 16 × base (capped at max) keeps a store outage from becoming a storm.
func (b backoff) infraDelay() time.Duration {
	d := min(b.base*16, b.max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// delayFor is the server's RetryDelayFunc: the delay carried by a
// retryError, a busyError or a bounceError, else the infrastructure delay.
func (b backoff) delayFor(err error) time.Duration {
	var (
		re *retryError
		be *busyError
		we *bounceError
	)
	switch {
	case errors.As(err, &re):
		return re.delay
	case errors.As(err, &be):
		return be.delay
	case errors.As(err, &we):
		return we.delay
	}
	return b.infraDelay()
}

// detached returns a context for recording an outcome in the store: it
// survives the task's own deadline, for a bounded time.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}
