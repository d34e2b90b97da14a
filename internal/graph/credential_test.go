package graph_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/entraremediator/remediator/internal/graph"
	"github.com/entraremediator/remediator/internal/graphsim"
	"github.com/entraremediator/remediator/internal/remediation"
)

// certificate is a test certificate credential.
type certificate struct {
	certPEM, keyPEM []byte
	cert            *x509.Certificate
}

func newCertificate(t *testing.T, cn string) certificate {
	t.Helper()
	certPEM, keyPEM, cert, err := graphsim.NewTestCertificate(cn)
	if err != nil {
		t.Fatal(err)
	}
	return certificate{certPEM, keyPEM, cert}
}

// pemCredential is the certificate and its key in one PEM credential.
func (c certificate) pemCredential() remediation.Credential {
	return remediation.Credential{Type: remediation.CredentialCertificate,
		CertificatePEM: append(append([]byte{}, c.certPEM...), c.keyPEM...)}
}

// pkcs12Credential is the certificate and its key in a PKCS#12 bundle
// (3DES, the encryption azidentity's PKCS#12 reader knows).
func (c certificate) pkcs12Credential(t *testing.T, password string) remediation.Credential {
	t.Helper()
	block, _ := pem.Decode(c.keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.LegacyDES.Encode(key, c.cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return remediation.Credential{Type: remediation.CredentialCertificate, PKCS12: pfx, Password: password}
}

// tenantWith is the remediation.Tenant of st with a sealed Credential.
func tenantWith(t *testing.T, sim *graphsim.Server, st *graphsim.Tenant, cred remediation.Credential) *remediation.Tenant {
	t.Helper()
	plain, err := cred.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tn := tenantFor(t, sim, st, "")
	tn.SecretCiphertext, tn.SecretKeyID, err = xorBox{}.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// tokenForms returns the logged token request bodies (secrets redacted by
// the simulator).
func tokenForms(sim *graphsim.Server) []string {
	var out []string
	for _, r := range sim.Requests() {
		if r.Endpoint == graphsim.EndpointLogin && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			out = append(out, string(r.Body))
		}
	}
	return out
}

func TestCertificateCredential(t *testing.T) {
	b := setup(t, graph.Options{})
	c := newCertificate(t, "remediator")
	b.st.SetCertificate(c.cert)
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "cert@contoso.example", AccountEnabled: true})
	ctx := context.Background()

	for name, cred := range map[string]remediation.Credential{
		"PEM":                      c.pemCredential(),
		"PKCS#12":                  c.pkcs12Credential(t, "pfx-pass~word"),
		"PKCS#12 without password": c.pkcs12Credential(t, ""),
	} {
		before := len(tokenForms(b.sim))
		d, err := b.conn.For(ctx, tenantWith(t, b.sim, b.st, cred))
		if err != nil {
			t.Fatalf("%s: For: %v", name, err)
		}
		if got, err := d.GetUser(ctx, u.ID); err != nil || got.ID != u.ID {
			t.Fatalf("%s: GetUser: %+v, %v", name, got, err)
		}
		forms := tokenForms(b.sim)[before:]
		if len(forms) != 1 || !strings.Contains(forms[0], "client_assertion_type=urn") || strings.Contains(forms[0], "client_secret") {
			t.Fatalf("%s: token requests %q, want one with a client assertion", name, forms)
		}
	}

	// A JSON secret credential works as well as the bare secret.
	secret := remediation.Credential{Type: remediation.CredentialSecret, ClientSecret: b.st.ClientSecret()}
	d, err := b.conn.For(ctx, tenantWith(t, b.sim, b.st, secret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("JSON secret credential: %v", err)
	}
}

func TestWrongCertificate(t *testing.T) {
	b := setup(t, graph.Options{})
	b.st.SetCertificate(newCertificate(t, "registered").cert)
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "wrong@contoso.example", AccountEnabled: true})
	d, err := b.conn.For(context.Background(), tenantWith(t, b.sim, b.st, newCertificate(t, "other").pemCredential()))
	if err != nil {
		t.Fatal(err)
	}
	ge := asGraphError(t, func() error { _, err := d.GetUser(context.Background(), u.ID); return err }())
	if ge.Code != graph.CodeAuthentication || ge.Status != 401 || !strings.Contains(ge.Message, "AADSTS700027") ||
		ge.Retryable() {
		t.Fatalf("wrong certificate: %+v", ge)
	}
}

func TestUnusableCertificateCredentials(t *testing.T) {
	b := setup(t, graph.Options{})
	c := newCertificate(t, "remediator")
	const password = "the-right-password"
	wrongPassword := c.pkcs12Credential(t, password)
	wrongPassword.Password = "Not-" + password
	for name, cred := range map[string]remediation.Credential{
		"no data":        {Type: remediation.CredentialCertificate},
		"junk PEM":       {Type: remediation.CredentialCertificate, CertificatePEM: []byte("junk")},
		"key missing":    {Type: remediation.CredentialCertificate, CertificatePEM: c.certPEM},
		"wrong password": wrongPassword,
		"empty secret":   {Type: remediation.CredentialSecret},
	} {
		_, err := b.conn.For(context.Background(), tenantWith(t, b.sim, b.st, cred))
		if remediation.ErrorCode(err) != remediation.EINVALID {
			t.Errorf("%s: For: %v, want EINVALID", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "BEGIN")) {
			t.Errorf("%s: error leaks the credential: %v", name, err)
		}
	}
	tn := tenantFor(t, b.sim, b.st, `{"type":"kerberos"}`)
	if _, err := b.conn.For(context.Background(), tn); remediation.ErrorCode(err) != remediation.EINVALID {
		t.Errorf("unknown credential type: %v", err)
	}
}

func TestRotationSecretToCertificate(t *testing.T) {
	b := setup(t, graph.Options{})
	c := newCertificate(t, "remediator")
	b.st.SetCertificate(c.cert)
	u := b.st.AddUser(graphsim.UserSpec{UserPrincipalName: "rot@contoso.example", AccountEnabled: true})
	ctx := context.Background()

	dSecret := b.dir(t) // bare secret, the first storage format
	if _, err := dSecret.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	rotated := tenantWith(t, b.sim, b.st, c.pemCredential())
	rotated.UpdatedAt = b.tenant.UpdatedAt.Add(time.Second)
	dCert, err := b.conn.For(ctx, rotated)
	if err != nil {
		t.Fatal(err)
	}
	if dCert == dSecret {
		t.Fatal("the rotated tenant kept the secret credential")
	}
	if _, err := dCert.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	forms := tokenForms(b.sim)
	if len(forms) != 2 || !strings.Contains(forms[0], "client_secret=") || !strings.Contains(forms[1], "client_assertion=") {
		t.Fatalf("token requests %q, want a secret then an assertion", forms)
	}
	if d, _ := b.conn.For(ctx, rotated); d != dCert {
		t.Fatal("the certificate credential is not cached")
	}
	// A call that started with the old credential finishes with it.
	if _, err := dSecret.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("old directory after rotation: %v", err)
	}
	if n := len(tokenForms(b.sim)); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}
