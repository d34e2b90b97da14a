package remediation

import "errors"

// ErrManagedOnPremises marks a Graph write refused because the object is
// mastered in on-premises AD (onPremisesSyncEnabled): Graph answers 400
// Request_BadRequest, which is not fixable by retrying. Executors that know
// the object is synced wrap the *GraphError with it
// (fmt.Errorf("%w: %w", ErrManagedOnPremises, gerr)) so that the worker
// reports it without reading Graph's message.
var ErrManagedOnPremises = errors.New("managed on-premises")
