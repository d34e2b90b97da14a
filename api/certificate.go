package api

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // the certificate thumbprint Entra shows is SHA-1
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/pkcs12"
)

// Limits of certificate credentials.
const (
	maxCertificateBytes = 64 << 10 // PEM text, or the decoded PKCS#12 bundle
	maxCertPassword     = 1024
	minRSABits          = 2048
)

// parsedCertificate is what the API keeps of a validated certificate
// credential for the audit log (nothing secret).
type parsedCertificate struct {
	Thumbprint string    // SHA-1 of the DER, upper-case hex, as Entra shows it
	Subject    string    // the signing certificate's subject
	NotAfter   time.Time // its expiry
}

// parsePEMCredential validates a PEM credential the way the Graph client
// loads it (azidentity.ParseCertificates): CERTIFICATE blocks and one
// unencrypted "PRIVATE KEY" (PKCS#8 or PKCS#1) or "RSA PRIVATE KEY" block.
// The message of the error it returns is safe to show.
func parsePEMCredential(data []byte, now time.Time) (*parsedCertificate, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return nil, errors.New("contains no PEM block; expected the certificate and its private key in PEM")
	}
	for _, b := range blocks {
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
			return nil, errors.New("holds an encrypted private key; send the key unencrypted, or a PKCS#12 bundle with its password")
		case b.Type == "EC PRIVATE KEY":
			return nil, errors.New("holds an EC private key; Entra ID app certificates need an RSA key")
		}
	}
	return checkCertificateBlocks(blocks, now)
}

// parsePKCS12Credential validates a PKCS#12 bundle with its password as the
// Graph client loads it (golang.org/x/crypto/pkcs12, as azidentity does).
func parsePKCS12Credential(data []byte, password string, now time.Time) (_ *parsedCertificate, err error) {
	defer func() {
		// The decoder is not hardened against every malformed input.
		if r := recover(); r != nil {
			err = errors.New("is not a readable PKCS#12 bundle")
		}
	}()
	blocks, err := pkcs12.ToPEM(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, errors.New("cannot be opened with this password")
	case err != nil:
		return nil, errors.New("is not a readable PKCS#12 bundle (bundles encrypted with AES or protected by a " +
			"SHA-256 MAC are not supported: export with legacy algorithms, e.g. openssl pkcs12 -export -legacy, or send PEM)")
	}
	return checkCertificateBlocks(blocks, now)
}

// checkCertificateBlocks checks the decoded blocks: certificates that parse,
// exactly one RSA private key of at least minRSABits, matching one of the
// certificates, which must not have expired.
func checkCertificateBlocks(blocks []*pem.Block, now time.Time) (*parsedCertificate, error) {
	var (
		certs []*x509.Certificate
		key   any
	)
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, errors.New("holds a certificate that does not parse")
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			if key != nil {
				return nil, errors.New("holds more than one private key")
			}
			k, err := parsePrivateKey(b)
			if err != nil {
				return nil, err
			}
			key = k
		}
	}
	switch {
	case len(certs) == 0:
		return nil, errors.New("holds no certificate")
	case key == nil:
		return nil, errors.New("holds no private key; include the certificate's private key")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("holds a private key that is not RSA; Entra ID app certificates need an RSA key")
	}
	if rsaKey.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("holds an RSA key of %d bits; at least %d are required", rsaKey.N.BitLen(), minRSABits)
	}
	if err := rsaKey.Validate(); err != nil {
		return nil, errors.New("holds an RSA private key that is not valid")
	}
	for _, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || pub.E != rsaKey.E || pub.N.Cmp(rsaKey.N) != 0 {
			continue
		}
		if !now.Before(c.NotAfter) {
			return nil, fmt.Errorf("holds a certificate that expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
		}
		sum := sha1.Sum(c.Raw) //nolint:gosec // thumbprint, not a signature
		return &parsedCertificate{
			Thumbprint: strings.ToUpper(hex.EncodeToString(sum[:])),
			Subject:    truncate(c.Subject.String(), 200),
			NotAfter:   c.NotAfter.UTC(),
		}, nil
	}
	return nil, errors.New("holds a private key that matches none of its certificates")
}

// parsePrivateKey parses a "PRIVATE KEY" (PKCS#8, or PKCS#1 as PKCS#12
// decoding yields) or "RSA PRIVATE KEY" (PKCS#1) block.
func parsePrivateKey(b *pem.Block) (any, error) {
	if b.Type == "PRIVATE KEY" {
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			return k, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil // refused as not RSA
	}
	return nil, errors.New("holds a private key that does not parse")
}
