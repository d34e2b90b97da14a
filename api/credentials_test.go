package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entraremediator/remediator/internal/remediation"
)

// p12Password opens testdata/cert-legacy.p12 (made with openssl pkcs12
// -export -legacy) and testdata/cert-aes.p12 (openssl 3 defaults).
const p12Password = "p12-pass"

var (
	rsaKeysOnce sync.Once
	rsaKeys     [2]*rsa.PrivateKey
)

// testRSAKey returns one of two 2048-bit keys made once per test binary.
func testRSAKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeysOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

// certPEM returns a self-signed certificate of key's public key valid
// until notAfter, in PEM.
func certPEM(t *testing.T, key any, notAfter time.Time) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "remediator app"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func keyPEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func readP12(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestTenantCertificate(t *testing.T) {
	k0 := testRSAKey(t, 0)
	valid := certPEM(t, k0, time.Now().Add(365*24*time.Hour)) + keyPEM(t, k0)
	for _, tc := range []struct {
		name string
		cert map[string]any
	}{
		{"pem", map[string]any{"pem": valid}},
		{"pem with PKCS#1 key", map[string]any{"pem": certPEM(t, k0, time.Now().Add(time.Hour)) +
			string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k0)}))}},
		{"pkcs12", map[string]any{"pkcs12": readP12(t, "cert-legacy.p12"), "password": p12Password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tenantBody(func(m map[string]any) {
				delete(m, "client_secret")
				m["certificate"] = tc.cert
			})})
			wantStatus(t, w, http.StatusCreated)
			if got := decode[map[string]any](t, w); got["credential_type"] != "certificate" {
				t.Errorf("credential_type = %v", got["credential_type"])
			}
			cred := e.storedCredential(tenantA)
			if cred.Type != remediation.CredentialCertificate || (len(cred.CertificatePEM) == 0) == (len(cred.PKCS12) == 0) {
				t.Errorf("stored credential %s: pem %d bytes, pkcs12 %d bytes", cred.Type, len(cred.CertificatePEM), len(cred.PKCS12))
			}
			if len(cred.PKCS12) > 0 && cred.Password != p12Password {
				t.Error("PKCS#12 password not kept")
			}
			for _, b := range e.bodies {
				if strings.Contains(b, "PRIVATE KEY") || strings.Contains(b, p12Password) {
					t.Errorf("key material in an answer: %s", b)
				}
			}
		})
	}
}

// storedCredential opens the sealed credential of a tenant.
func (e *env) storedCredential(id string) remediation.Credential {
	e.t.Helper()
	st, err := e.store.GetTenant(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	plain, err := (xorBox{}).Open(st.SecretCiphertext, st.SecretKeyID)
	if err != nil {
		e.t.Fatal(err)
	}
	cred, err := remediation.ParseCredential(plain)
	if err != nil {
		e.t.Fatal(err)
	}
	return cred
}

func TestTenantCertificateInvalid(t *testing.T) {
	k0, k1 := testRSAKey(t, 0), testRSAKey(t, 1)
	later := time.Now().Add(24 * time.Hour)
	cert0, key0 := certPEM(t, k0, later), keyPEM(t, k0)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	for _, tc := range []struct {
		name, field string
		cert        any
		secret      bool
	}{
		{"both secret and certificate", "client_secret", map[string]any{"pem": cert0 + key0}, true},
		{"empty certificate", "certificate", map[string]any{}, false},
		{"pem and pkcs12", "certificate", map[string]any{"pem": cert0 + key0, "pkcs12": readP12(t, "cert-legacy.p12")}, false},
		{"pem with password", "certificate.password", map[string]any{"pem": cert0 + key0, "password": "x"}, false},
		{"not PEM", "certificate.pem", map[string]any{"pem": "hello"}, false},
		{"certificate only", "certificate.pem", map[string]any{"pem": cert0}, false},
		{"key only", "certificate.pem", map[string]any{"pem": key0}, false},
		{"key of another certificate", "certificate.pem", map[string]any{"pem": cert0 + keyPEM(t, k1)}, false},
		{"two keys", "certificate.pem", map[string]any{"pem": cert0 + key0 + key0}, false},
		{"small RSA key", "certificate.pem", map[string]any{"pem": certPEM(t, small, later) + keyPEM(t, small)}, false},
		{"EC key", "certificate.pem", map[string]any{"pem": certPEM(t, ec, later) + keyPEM(t, ec)}, false},
		{"EC key block", "certificate.pem", map[string]any{"pem": certPEM(t, ec, later) +
			string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))}, false},
		{"expired", "certificate.pem", map[string]any{"pem": certPEM(t, k0, time.Now().Add(-time.Hour)) + key0}, false},
		{"encrypted key", "certificate.pem", map[string]any{"pem": cert0 + encrypted}, false},
		{"bad certificate", "certificate.pem", map[string]any{"pem": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")})) + key0}, false},
		{"pem too large", "certificate.pem", map[string]any{"pem": cert0 + key0 + strings.Repeat("#", 65<<10)}, false},
		{"pkcs12 not base64", "certificate.pkcs12", map[string]any{"pkcs12": "%%%", "password": "x"}, false},
		{"pkcs12 garbage", "certificate.pkcs12", map[string]any{"pkcs12": base64.StdEncoding.EncodeToString([]byte("hello")), "password": "x"}, false},
		{"pkcs12 wrong password", "certificate.pkcs12", map[string]any{"pkcs12": readP12(t, "cert-legacy.p12"), "password": "wrong"}, false},
		{"pkcs12 AES", "certificate.pkcs12", map[string]any{"pkcs12": readP12(t, "cert-aes.p12"), "password": p12Password}, false},
		{"unknown field", "", map[string]any{"pem": cert0 + key0, "format": "pem"}, false},
		{"certificate not an object", "", "pem", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(req{Method: http.MethodPost, Path: "/v1/tenants", Body: tenantBody(func(m map[string]any) {
				if !tc.secret {
					delete(m, "client_secret")
				}
				m["certificate"] = tc.cert
			})})
			wantError(t, w, 400, remediation.EINVALID)
			if tc.field != "" && !strings.Contains(w.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("details do not name %s: %s", tc.field, w.Body.String())
			}
			if strings.Contains(w.Body.String(), "MII") || strings.Contains(w.Body.String(), p12Password) {
				t.Errorf("key material in the answer: %s", w.Body.String())
			}
			if ts, _ := e.store.ListTenants(context.Background()); len(ts) != 0 {
				t.Error("tenant stored after a refusal")
			}
		})
	}
}

func TestTenantCredentialRotation(t *testing.T) {
	e := newEnv(t)
	e.addTenant(tenantA)
	before := decode[tenantJSON](t, e.get("/v1/tenants/"+tenantA))
	k0 := testRSAKey(t, 0)
	// The store stamps UpdatedAt with microseconds: make sure one passed.
	for created := e.storedTenant(tenantA).UpdatedAt; !time.Now().Truncate(time.Microsecond).After(created); {
		time.Sleep(time.Microsecond)
	}
	w := e.do(req{Method: http.MethodPut, Path: "/v1/tenants/" + tenantA + "/credentials",
		Body: map[string]any{"certificate": map[string]any{"pem": certPEM(t, k0, time.Now().Add(time.Hour)) + keyPEM(t, k0)}}})
	wantStatus(t, w, 200)
	after := decode[map[string]any](t, w)
	if after["credential_type"] != "certificate" || after["updated_at"] == before.UpdatedAt || after["client_id"] != testClientID {
		t.Errorf("rotated tenant = %v (updated_at before %s)", after, before.UpdatedAt)
	}
	if !e.storedTenant(tenantA).UpdatedAt.After(mustTime(t, before.UpdatedAt)) {
		t.Error("stored UpdatedAt did not move")
	}
	if cred := e.storedCredential(tenantA); cred.Type != remediation.CredentialCertificate || cred.ClientSecret != "" {
		t.Errorf("stored credential %v", cred)
	}
	// Back to a secret, with another app registration.
	newSecret, newClient := "n3w-s3cr3t~rotated", "55555555-5555-5555-5555-555555555555"
	w = e.do(req{Method: http.MethodPut, Path: "/v1/tenants/" + tenantA + "/credentials",
		Body: map[string]any{"client_secret": newSecret, "client_id": strings.ToUpper(newClient)}})
	wantStatus(t, w, 200)
	if got := decode[map[string]any](t, w); got["credential_type"] != "secret" || got["client_id"] != newClient {
		t.Errorf("rotated tenant = %v", got)
	}
	if cred := e.storedCredential(tenantA); cred.ClientSecret != newSecret {
		t.Error("new secret not stored")
	}
	entries := e.auditEntries()
	if entries[0].Action != auditTenantCredentials || !strings.Contains(string(entries[0].Details), newClient) {
		t.Errorf("audit %+v", entries[0])
	}
	// Refusals.
	wantError(t, e.do(req{Method: http.MethodPut, Path: "/v1/tenants/" + tenantA + "/credentials", Body: map[string]any{}}), 400, remediation.EINVALID)
	wantError(t, e.do(req{Method: http.MethodPut, Path: "/v1/tenants/" + tenantA + "/credentials",
		Body: map[string]any{"client_secret": "x", "client_id": "nope"}}), 400, remediation.EINVALID)
	wantError(t, e.do(req{Method: http.MethodPut, Path: "/v1/tenants/" + tenantC + "/credentials",
		Body: map[string]any{"client_secret": "x"}}), 404, remediation.ENOTFOUND)
	for _, b := range append(e.bodies, e.logs.String()) {
		if strings.Contains(b, newSecret) || strings.Contains(b, "PRIVATE KEY") {
			t.Errorf("credential in an answer or the logs: %s", truncate(b, 300))
		}
		for _, en := range entries {
			if strings.Contains(string(en.Details), newSecret) {
				t.Errorf("credential in the audit log: %s", en.Details)
			}
		}
	}
	e.assertNoSecret()
}

func (e *env) storedTenant(id string) *remediation.Tenant {
	e.t.Helper()
	st, err := e.store.GetTenant(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTenantVerify(t *testing.T) {
	v := &fakeVerifier{result: &remediation.Verification{TokenAcquired: true, ReadOK: true,
		Granted: []string{"User.Read.All"}, Missing: []string{"User.RevokeSessions.All"},
		MissingFor: map[string]string{"User.RevokeSessions.All": "revoke_sessions"}}}
	e := newEnv(t, func(c *Config) { c.Verifier = v })
	e.addTenant(tenantA)
	w := e.post("/v1/tenants/"+tenantA+"/verify", nil, nil)
	wantStatus(t, w, 200)
	got := decode[map[string]any](t, w)
	if got["ok"] != false || got["tenant_id"] != tenantA || got["token_acquired"] != true ||
		!strings.Contains(w.Body.String(), `"missing_permissions":["User.RevokeSessions.All"]`) ||
		!strings.Contains(w.Body.String(), `"missing_for":{"User.RevokeSessions.All":"revoke_sessions"}`) {
		t.Errorf("verification = %s", w.Body.String())
	}
	if len(v.tenants) != 1 || v.tenants[0] != tenantA {
		t.Errorf("verifier called for %v", v.tenants)
	}
	v.result = &remediation.Verification{TokenAcquired: true, ReadOK: true, Granted: []string{"User.Read.All"}}
	if got := decode[map[string]any](t, e.post("/v1/tenants/"+tenantA+"/verify", nil, nil)); got["ok"] != true ||
		got["missing_permissions"] == nil {
		t.Errorf("verification = %v", got)
	}
	wantError(t, e.post("/v1/tenants/"+tenantC+"/verify", nil, nil), 404, remediation.ENOTFOUND)
	wantError(t, e.post("/v1/tenants/"+tenantA+"/verify", map[string]any{"x": 1}, nil), 400, remediation.EINVALID)
	v.err = errors.New("dial login.microsoftonline.com: secret=hunter2")
	w = e.post("/v1/tenants/"+tenantA+"/verify", nil, nil)
	wantError(t, w, 500, remediation.EINTERNAL)
	if strings.Contains(w.Body.String(), "hunter2") {
		t.Error("verifier error shown")
	}
	e2 := newEnv(t)
	e2.addTenant(tenantA)
	wantError(t, e2.post("/v1/tenants/"+tenantA+"/verify", nil, nil), 501, remediation.ENOTIMPLEMENTED)
}

func TestTenantDelete(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	done := e.finished("disable_user", remediation.ItemSucceeded)
	running := e.submit(tenantA, "disable_user", "x@contoso.com")
	hook := e.addWebhook(tenantA)
	path := "/v1/tenants/" + tenantA
	wantError(t, e.do(req{Method: http.MethodDelete, Path: path}), 409, remediation.ECONFLICT)
	wantStatus(t, e.get(path), 200)
	wantStatus(t, e.post("/v1/remediations/"+running.ID+"/cancel", nil, nil), 200)
	wantStatus(t, e.do(req{Method: http.MethodDelete, Path: path}), http.StatusNoContent)

	wantError(t, e.get(path), 404, remediation.ENOTFOUND)
	wantError(t, e.do(req{Method: http.MethodDelete, Path: path}), 404, remediation.ENOTFOUND)
	wantError(t, e.get(path+"/webhooks/"+hook+"/deliveries"), 404, remediation.ENOTFOUND)
	if list := decode[tenantListJSON](t, e.get("/v1/tenants")); len(list.Tenants) != 1 || list.Tenants[0].TenantID != tenantB {
		t.Errorf("tenants after delete = %+v", list)
	}
	// Its jobs and history stay readable; new work is refused.
	wantStatus(t, e.get("/v1/remediations/"+done.ID), 200)
	wantStatus(t, e.get("/v1/remediations/"+done.ID+"/items"), 200)
	if h := decode[map[string]any](t, e.get("/v1/history?tenant_id="+tenantA)); len(h["history"].([]any)) == 0 {
		t.Error("history of the deleted tenant is gone")
	}
	wantError(t, e.post(path+"/remediations", map[string]any{"action": "disable_user", "identities": []string{"a@b.com"}, "reason": "r"}, nil),
		404, remediation.ENOTFOUND)
	if a := e.auditEntries()[0]; a.Action != auditTenantDelete || a.TenantID != tenantA {
		t.Errorf("audit %+v", a)
	}
	wantError(t, e.do(req{Method: http.MethodDelete, Path: "/v1/tenants/nope"}), 400, remediation.EINVALID)
}

type tenantListJSON struct {
	Tenants []tenantJSON `json:"tenants"`
}
