package graphsim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec: x5t is a SHA-1 thumbprint by definition (RFC 7515)
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// clientAssertionType is the only client_assertion_type Entra accepts for
// certificate credentials.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSkew is the clock skew tolerated on a client assertion's nbf
// and exp.
const assertionSkew = 5 * time.Minute

const certCredentialsDoc = " Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."

// SetCertificate registers cert as the app's certificate credential (nil
// removes it); it replaces the one registered before.
func (t *Tenant) SetCertificate(cert *x509.Certificate) {
	t.mu.Lock()
	t.cert = cert
	t.mu.Unlock()
}

func (t *Tenant) certificate() *x509.Certificate {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cert
}

// assertionHeader is the JOSE header of a client assertion.
type assertionHeader struct {
	Alg     string `json:"alg"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

// assertionClaims are the claims Entra checks in a client assertion.
type assertionClaims struct {
	Aud json.RawMessage `json:"aud"` // a string or an array of strings
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Exp *json.Number    `json:"exp"`
	Nbf *json.Number    `json:"nbf"`
}

// checkClientAssertion authenticates the app with a JWT client assertion
// (private_key_jwt) as azidentity's ClientCertificateCredential sends it:
// signed RS256 or PS256 with the key of the registered certificate, which
// the x5t (SHA-1) or x5t#S256 header names; iss and sub the client id; aud
// the token endpoint; within nbf and exp.
func (c *loginCall) checkClientAssertion(form url.Values, t *Tenant, clientID string) *aadError {
	switch typ := form.Get("client_assertion_type"); typ {
	case clientAssertionType:
	case "":
		return missingParam("'client_assertion_type'")
	default:
		return &aadError{http.StatusBadRequest, "invalid_request", 0,
			"client_assertion_type '" + typ + "' is not supported; use '" + clientAssertionType + "'."}
	}
	malformed := &aadError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
	parts := strings.Split(form.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return malformed
	}
	var hdr assertionHeader
	var claims assertionClaims
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &claims) != nil {
		return malformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return malformed
	}

	cert := t.certificate()
	thumb, match := assertionThumbprint(hdr, cert)
	invalidSig := func(reason string) *aadError {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion contains an invalid signature. " +
			"[Reason - " + reason + ", Thumbprint of key used by client: '" + thumb + "', Please visit the Azure Portal, " +
			"Graph Explorer or directly use MS Graph to see configured keys for app Id '" + t.clientID + "'. Review the " +
			"documentation at https://docs.microsoft.com/en-us/graph/deployments if you need help finding the keys.]"}
	}
	if !match {
		return invalidSig("The key was not found.")
	}
	now := time.Now()
	if now.After(cert.NotAfter) {
		return invalidSig("The key used is expired.")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return invalidSig("The key type is not supported.")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return invalidSig("The signing algorithm '" + hdr.Alg + "' is not supported.")
	}
	if err != nil {
		return invalidSig("The provided signature value did not match the expected signature value.")
	}

	if !strings.EqualFold(claims.Iss, clientID) || !strings.EqualFold(claims.Sub, clientID) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter." + certCredentialsDoc}
	}
	if !c.assertionAudienceOK(claims.Aud, t) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700023,
			"Client assertion audience claim does not match Realm issuer." + certCredentialsDoc}
	}
	exp, expErr := numericDate(claims.Exp)
	nbf, nbfErr := numericDate(claims.Nbf)
	if expErr != nil || nbfErr != nil || exp.IsZero() || now.After(exp.Add(assertionSkew)) ||
		(!nbf.IsZero() && now.Add(assertionSkew).Before(nbf)) {
		return &aadError{http.StatusUnauthorized, "invalid_client", 700024, "Client assertion is not within its valid " +
			"time range. Current time: " + now.UTC().Format("2006-01-02T15:04:05.0000000Z") + ", assertion valid from " +
			nbf.UTC().Format("2006-01-02T15:04:05.0000000Z") + ", expiry time of assertion " +
			exp.UTC().Format("2006-01-02T15:04:05.0000000Z") + "." + certCredentialsDoc}
	}
	return nil
}

// assertionThumbprint reports the thumbprint the header names (upper-case
// hex, as Entra prints it) and whether it is the registered certificate's.
func assertionThumbprint(hdr assertionHeader, cert *x509.Certificate) (string, bool) {
	raw, sum := hdr.X5tS256, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	if raw == "" {
		raw, sum = hdr.X5t, func(b []byte) []byte { s := sha1.Sum(b); return s[:] } // #nosec
	}
	tp := decodeThumbprint(raw)
	if tp == nil {
		return "", false
	}
	out := strings.ToUpper(hex.EncodeToString(tp))
	return out, cert != nil && bytes.Equal(tp, sum(cert.Raw))
}

// decodeThumbprint reads a base64 (standard, as MSAL sends it) or
// base64url thumbprint.
func decodeThumbprint(s string) []byte {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// assertionAudienceOK accepts the tenant's token endpoint on the host the
// request addressed, with the tenant id, its domain or the name in the
// request path.
func (c *loginCall) assertionAudienceOK(raw json.RawMessage, t *Tenant) bool {
	var auds []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(raw, &auds) != nil {
		return false
	}
	for _, aud := range auds {
		aud = strings.TrimRight(aud, "/")
		for _, name := range []string{t.id, t.domain, c.params["tenant"]} {
			if strings.EqualFold(aud, c.base+"/"+name+"/oauth2/v2.0/token") {
				return true
			}
		}
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// numericDate reads a JWT NumericDate (seconds, possibly fractional); nil
// gives the zero time.
func numericDate(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, int64(f*float64(time.Second))), nil
}

// NewTestCertificate creates a self-signed certificate with an RSA 2048 key
// for an app's certificate credential in tests: the certificate and the
// key (PKCS#8) in PEM, and the parsed certificate to register with
// TenantSpec.Certificate. It is valid from an hour ago for a year.
func NewTestCertificate(cn string) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("graphsim: certificate key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("graphsim: certificate: %w", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, fmt.Errorf("graphsim: parse certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("graphsim: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	return certPEM, keyPEM, cert, nil
}
