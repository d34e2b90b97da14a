package graph

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenRefreshMargin is how long before its expiry a cached token is
// fetched again.
const tokenRefreshMargin = 5 * time.Minute

// cachedCredential keeps the last token of a credential and hands it out
// until tokenRefreshMargin before it expires (or its RefreshOn). azidentity
// caches tokens too, but its lookup costs more than a Graph call's own
// work in the worker; every Graph call asks for a token. Requests with
// claims (a Continuous Access Evaluation challenge) always go to the
// credential.
type cachedCredential struct {
	inner azcore.TokenCredential

	mu     sync.Mutex
	tok    azcore.AccessToken
	scopes []string
	tenant string
	cae    bool
}

func (c *cachedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	now := time.Now()
	c.mu.Lock()
	tok, fresh := c.tok, opts.Claims == "" && c.tok.Token != "" && slices.Equal(c.scopes, opts.Scopes) && c.tenant == opts.TenantID && c.cae == opts.EnableCAE &&
		now.Add(tokenRefreshMargin).Before(c.tok.ExpiresOn) && (c.tok.RefreshOn.IsZero() || now.Before(c.tok.RefreshOn))
	c.mu.Unlock()
	if fresh {
		return tok, nil
	}
	tok, err := c.inner.GetToken(ctx, opts)
	if err != nil {
		return tok, err
	}
	c.mu.Lock()
	c.tok, c.scopes, c.tenant, c.cae = tok, slices.Clone(opts.Scopes), opts.TenantID, opts.EnableCAE
	c.mu.Unlock()
	return tok, nil
}
