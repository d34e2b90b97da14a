package graphsim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec: x5t is a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
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

// testCert is a certificate credential made by NewTestCertificate.
type testCert struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
	key             *rsa.PrivateKey
}

func newTestCert(t *testing.T, cn string) testCert {
	t.Helper()
	certPEM, keyPEM, cert, err := NewTestCertificate(cn)
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := azidentity.ParseCertificates(append(append([]byte{}, certPEM...), keyPEM...), nil)
	if err != nil {
		t.Fatalf("azidentity cannot read NewTestCertificate's PEM: %v", err)
	}
	if len(certs) != 1 || !certs[0].Equal(cert) {
		t.Fatalf("parsed certificates %v", certs)
	}
	return testCert{certPEM, keyPEM, cert, key.(*rsa.PrivateKey)}
}

func certCredential(t *testing.T, b *bundle, tenant, client string, c testCert) *azidentity.ClientCertificateCredential {
	t.Helper()
	cred, err := azidentity.NewClientCertificateCredential(tenant, client, []*x509.Certificate{c.cert}, c.key,
		&azidentity.ClientCertificateCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: b.srv.AuthorityURL()},
				Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.srv.CAPool()}}},
				Retry:     policy.RetryOptions{MaxRetries: -1},
			},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func getToken(cred azcore.TokenCredential) (azcore.AccessToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
}

func TestAzidentityClientCertificateCredential(t *testing.T) {
	b := setup(t)
	c := newTestCert(t, "remediator")
	b.ta.SetCertificate(c.cert)
	tok, err := getToken(certCredential(t, b, tenantA, clientA, c))
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	claims := decodeClaims(t, tok.Token)
	if claims["tid"] != tenantA || claims["appid"] != clientA {
		t.Errorf("claims = %v", claims)
	}
	if r := b.do(t, http.MethodGet, userPath(userAlice), tok.Token, nil); r.status != http.StatusOK {
		t.Fatalf("GET user with a certificate token: %d %s", r.status, r.body)
	}
	// The client secret keeps working next to the certificate.
	if _, err := getToken(credential(t, b, tenantA, clientA, secretA)); err != nil {
		t.Fatalf("secret next to a certificate: %v", err)
	}
	for _, req := range b.srv.Requests() {
		if req.Endpoint == EndpointLogin && strings.Contains(string(req.Body), "client_assertion=ey") {
			t.Errorf("request log holds the client assertion: %s", req.Body)
		}
	}
}

func TestAzidentityWrongCertificate(t *testing.T) {
	b := setup(t)
	registered, other := newTestCert(t, "registered"), newTestCert(t, "other")
	for name, setCert := range map[string]*x509.Certificate{"none registered": nil, "another registered": registered.cert} {
		b.ta.SetCertificate(setCert)
		_, err := getToken(certCredential(t, b, tenantA, clientA, other))
		var afe *azidentity.AuthenticationFailedError
		if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: err = %v, want a 401 AuthenticationFailedError", name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "AADSTS700027") || !strings.Contains(msg, "invalid_client") ||
			!strings.Contains(msg, "The key was not found.") {
			t.Errorf("%s: error %q lacks AADSTS700027 / invalid_client", name, msg)
		}
	}
	// Rotation on the app: the new certificate works, the old one not.
	b.ta.SetCertificate(other.cert)
	if _, err := getToken(certCredential(t, b, tenantA, clientA, other)); err != nil {
		t.Fatalf("after SetCertificate: %v", err)
	}
	if _, err := getToken(certCredential(t, b, tenantA, clientA, registered)); err == nil {
		t.Fatal("the replaced certificate still authenticates")
	}
}

// assertion signs a client assertion by hand.
func assertion(t *testing.T, c testCert, alg, thumbKey string, claims map[string]any) string {
	t.Helper()
	var thumb []byte
	if thumbKey == "x5t" {
		s := sha1.Sum(c.cert.Raw) // #nosec
		thumb = s[:]
	} else {
		s := sha256.Sum256(c.cert.Raw)
		thumb = s[:]
	}
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", thumbKey: base64.StdEncoding.EncodeToString(thumb)})
	body, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestClientAssertionChecks(t *testing.T) {
	b := setup(t)
	c := newTestCert(t, "remediator")
	b.ta.SetCertificate(c.cert)
	tokenPath := "/" + tenantA + "/oauth2/v2.0/token"
	aud := b.srv.URL() + tokenPath
	now := time.Now().Unix()
	good := func() map[string]any {
		return map[string]any{"aud": aud, "iss": clientA, "sub": clientA, "jti": "j1", "nbf": now, "exp": now + 600}
	}
	with := func(k string, v any) map[string]any {
		m := good()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	post := func(form url.Values) resp {
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", clientA)
		form.Set("scope", "https://graph.microsoft.com/.default")
		return b.postForm(t, tokenPath, form)
	}
	jwtForm := func(a string) url.Values {
		return url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {a}}
	}

	for _, tc := range []struct {
		name, alg, thumb string
		claims           map[string]any
	}{
		{"PS256 x5t#S256 (MSAL)", "PS256", "x5t#S256", good()},
		{"RS256 x5t (ADFS style)", "RS256", "x5t", good()},
		{"audience by domain", "RS256", "x5t#S256", with("aud", b.srv.URL()+"/contoso.onmicrosoft.com/oauth2/v2.0/token")},
	} {
		if r := post(jwtForm(assertion(t, c, tc.alg, tc.thumb, tc.claims))); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}

	tampered := assertion(t, c, "PS256", "x5t#S256", good())
	tampered = tampered[:len(tampered)-4] + "AAAA"
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		aadsts string
	}{
		{"tampered signature", jwtForm(tampered), 401, "AADSTS700027"},
		{"wrong audience", jwtForm(assertion(t, c, "PS256", "x5t#S256", with("aud", "https://login.microsoftonline.com/x/oauth2/v2.0/token"))), 401, "AADSTS700023"},
		{"wrong issuer", jwtForm(assertion(t, c, "PS256", "x5t#S256", with("iss", "someone-else"))), 401, "AADSTS700021"},
		{"expired", jwtForm(assertion(t, c, "PS256", "x5t#S256", with("exp", now-3600))), 401, "AADSTS700024"},
		{"no exp", jwtForm(assertion(t, c, "PS256", "x5t#S256", with("exp", nil))), 401, "AADSTS700024"},
		{"not yet valid", jwtForm(assertion(t, c, "PS256", "x5t#S256", with("nbf", now+3600))), 401, "AADSTS700024"},
		{"unsupported alg", jwtForm(assertion(t, c, "HS256", "x5t#S256", good())), 401, "AADSTS700027"},
		{"malformed", jwtForm("not.a-jwt"), 400, "AADSTS50027"},
		{"no assertion type", url.Values{"client_assertion": {assertion(t, c, "PS256", "x5t#S256", good())}}, 400, "AADSTS900144"},
		{"secret and assertion", url.Values{"client_secret": {secretA}, "client_assertion_type": {clientAssertionType},
			"client_assertion": {assertion(t, c, "PS256", "x5t#S256", good())}}, 400, ""},
	} {
		r := post(tc.form)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
			continue
		}
		if tc.status == 200 {
			continue
		}
		m := r.json(t)
		desc, _ := m["error_description"].(string)
		if tc.aadsts != "" && !strings.HasPrefix(desc, tc.aadsts+":") {
			t.Errorf("%s: %s", tc.name, r.body)
		}
		if tc.status == 401 && m["error"] != "invalid_client" {
			t.Errorf("%s: error %v", tc.name, m["error"])
		}
	}
}
