package graphsim

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func credential(t *testing.T, b *bundle, tenant, client, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: b.srv.AuthorityURL()},
			Transport: &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: b.srv.CAPool()},
			}},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestAzidentityClientSecretCredential(t *testing.T) {
	b := setup(t)
	cred := credential(t, b, tenantA, clientA, secretA)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if until := time.Until(tok.ExpiresOn); until < 50*time.Minute || until > time.Hour {
		t.Errorf("ExpiresOn in %v, want about 3599s", until)
	}
	claims := decodeClaims(t, tok.Token)
	if claims["tid"] != tenantA || claims["appid"] != clientA || claims["aud"] != "https://graph.microsoft.com" {
		t.Errorf("claims = %v", claims)
	}

	r := b.do(t, http.MethodGet, userPath(userAlice), tok.Token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET user with azidentity token: %d %s", r.status, r.body)
	}

	// The credential caches the token: a second GetToken makes no request.
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, req := range b.srv.Requests() {
		if req.Endpoint == EndpointLogin {
			ops = append(ops, req.Operation)
			if strings.Contains(string(req.Body), secretA) {
				t.Errorf("request log holds the client secret: %s", req.Body)
			}
		}
	}
	want := []string{"GET /{tenant}/v2.0/.well-known/openid-configuration", "POST /{tenant}/oauth2/v2.0/token"}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("login requests = %q, want %q", ops, want)
	}
}

func TestAzidentityWrongSecret(t *testing.T) {
	b := setup(t)
	cred := credential(t, b, tenantA, clientA, "not-the-secret")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("err = %v (%T), want *AuthenticationFailedError", err, err)
	}
	if afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized {
		t.Fatalf("RawResponse = %+v, want 401", afe.RawResponse)
	}
	if msg := err.Error(); !strings.Contains(msg, "AADSTS7000215") || !strings.Contains(msg, "invalid_client") {
		t.Errorf("error %q lacks AADSTS7000215 / invalid_client", msg)
	}
}

func TestAzidentityUnknownTenant(t *testing.T) {
	b := setup(t)
	cred := credential(t, b, "33333333-3333-4333-8333-333333333333", clientA, secretA)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Fatalf("err = %v, want AADSTS90002", err)
	}
}

func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenEndpoint(t *testing.T) {
	b := setup(t)
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientA}, "client_secret": {secretA},
		"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tokenPath := "/" + tenantA + "/oauth2/v2.0/token"
	for _, tc := range []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"unknown tenant", "/33333333-3333-4333-8333-333333333333/oauth2/v2.0/token", good, 400, "invalid_tenant", 90002},
		{"missing grant_type", tokenPath, with("grant_type", ""), 400, "invalid_request", 900144},
		{"unsupported grant", tokenPath, with("grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"missing client_id", tokenPath, with("client_id", ""), 400, "invalid_request", 900144},
		{"unknown client", tokenPath, with("client_id", "99999999-9999-4999-8999-999999999999"), 400, "unauthorized_client", 700016},
		{"missing secret", tokenPath, with("client_secret", ""), 401, "invalid_client", 7000218},
		{"wrong secret", tokenPath, with("client_secret", "nope"), 401, "invalid_client", 7000215},
		{"scope without .default", tokenPath, with("scope", "User.Read.All"), 400, "invalid_scope", 1002012},
		{"unknown resource", tokenPath, with("scope", "https://management.azure.com/.default"), 400, "invalid_resource", 500011},
		{"by domain", "/contoso.onmicrosoft.com/oauth2/v2.0/token", good, 200, "", 0},
		{"graph app id scope", tokenPath, with("scope", "00000003-0000-0000-c000-000000000000/.default"), 200, "", 0},
		{"ok", tokenPath, good, 200, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.postForm(t, tc.path, tc.form)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			m := r.json(t)
			if tc.wantError != "" {
				codes, _ := m["error_codes"].([]any)
				desc, _ := m["error_description"].(string)
				if m["error"] != tc.wantError || len(codes) != 1 || codes[0] != tc.wantCode {
					t.Errorf("body %s, want error %s code %v", r.body, tc.wantError, tc.wantCode)
				}
				if !strings.HasPrefix(desc, "AADSTS") || !strings.Contains(desc, "Trace ID: ") {
					t.Errorf("error_description %q", desc)
				}
				if strings.Contains(string(r.body), secretA) {
					t.Errorf("error body holds the secret")
				}
				return
			}
			if m["token_type"] != "Bearer" || m["expires_in"] != 3599.0 || m["ext_expires_in"] != 3599.0 {
				t.Errorf("body %s", r.body)
			}
			tok, _ := m["access_token"].(string)
			c := decodeClaims(t, tok)
			exp, _ := c["exp"].(float64)
			if c["tid"] != tenantA || c["appid"] != clientA || c["aud"] != graphAudience ||
				time.Until(time.Unix(int64(exp), 0)) < 59*time.Minute {
				t.Errorf("claims %v", c)
			}
			if r := b.do(t, http.MethodGet, userPath(userAlice), tok, nil); r.status != 200 {
				t.Errorf("token rejected by Graph: %d %s", r.status, r.body)
			}
		})
	}
	for _, req := range b.srv.Requests() {
		if strings.Contains(string(req.Body), secretA) {
			t.Errorf("request log holds the client secret: %s", req.Body)
		}
	}
	if r := b.do(t, http.MethodGet, tokenPath, "", nil); r.status != 400 || !strings.Contains(string(r.body), "AADSTS900561") {
		t.Errorf("GET token endpoint: %d %s", r.status, r.body)
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	b := setup(t)
	r := b.do(t, http.MethodGet, "/"+tenantA+"/v2.0/.well-known/openid-configuration", "", nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	base := b.srv.URL()
	for k, want := range map[string]string{
		"issuer":                 base + "/" + tenantA + "/v2.0",
		"token_endpoint":         base + "/" + tenantA + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/" + tenantA + "/oauth2/v2.0/authorize",
		"jwks_uri":               base + "/" + tenantA + "/discovery/v2.0/keys",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	r = b.do(t, http.MethodGet, "/nosuchtenant.example/v2.0/.well-known/openid-configuration", "", nil)
	if r.status != 400 || r.json(t)["error"] != "invalid_tenant" {
		t.Errorf("unknown tenant: %d %s", r.status, r.body)
	}
	r = b.do(t, http.MethodGet, "/common/discovery/instance?api-version=1.1&authorization_endpoint="+
		url.QueryEscape(base+"/"+tenantA+"/oauth2/v2.0/authorize"), "", nil)
	if r.status != 200 || r.json(t)["tenant_discovery_endpoint"] != base+"/"+tenantA+"/v2.0/.well-known/openid-configuration" {
		t.Errorf("instance discovery: %d %s", r.status, r.body)
	}
	r = b.do(t, http.MethodGet, "/"+tenantA+"/discovery/v2.0/keys", "", nil)
	if _, ok := r.json(t)["keys"].([]any); r.status != 200 || !ok {
		t.Errorf("keys: %d %s", r.status, r.body)
	}
}
