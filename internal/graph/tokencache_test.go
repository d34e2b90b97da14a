package graph

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

type countingCredential struct {
	n   int
	ttl time.Duration
}

func (c *countingCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.n++
	return azcore.AccessToken{Token: "t" + string(rune('0'+c.n)), ExpiresOn: time.Now().Add(c.ttl)}, nil
}

func TestCachedCredential(t *testing.T) {
	ctx := context.Background()
	graph := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}, EnableCAE: true}
	inner := &countingCredential{ttl: time.Hour}
	c := &cachedCredential{inner: inner}
	a, _ := c.GetToken(ctx, graph)
	b, _ := c.GetToken(ctx, graph)
	if inner.n != 1 || a.Token != b.Token {
		t.Fatalf("two requests of a fresh token reached the credential %d times", inner.n)
	}
	other := graph
	other.Scopes = []string{"https://graph.microsoft.us/.default"}
	if tok, _ := c.GetToken(ctx, other); inner.n != 2 || tok.Token == a.Token {
		t.Fatalf("another scope got the cached token (credential asked %d times)", inner.n)
	}
	claims := other
	claims.Claims = `{"access_token":{"nbf":{"essential":true}}}`
	c.GetToken(ctx, claims)
	renewed, _ := c.GetToken(ctx, claims)
	if inner.n != 4 {
		t.Fatalf("requests with claims (a CAE challenge) asked the credential %d times in all, want 4", inner.n)
	}
	if tok, _ := c.GetToken(ctx, other); inner.n != 4 || tok.Token != renewed.Token {
		t.Fatalf("after a challenge, got %q (credential asked %d times), want the renewed token %q", tok.Token, inner.n, renewed.Token)
	}
	short := &countingCredential{ttl: time.Minute} // inside the refresh margin
	c = &cachedCredential{inner: short}
	c.GetToken(ctx, graph)
	c.GetToken(ctx, graph)
	if short.n != 2 {
		t.Fatalf("a token about to expire was reused (credential asked %d times)", short.n)
	}
}
