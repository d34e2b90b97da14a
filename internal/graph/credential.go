package graph

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/entraremediator/remediator/internal/remediation"
)

// CodeInvalidCredential is the Verification error code of a stored
// credential that cannot be used (empty secret, unreadable certificate).
const CodeInvalidCredential = "invalid_credential"

// openCredential opens and decodes the sealed credential of t. A box
// failure is an infrastructure error; an unusable credential is EINVALID.
func (c *Connector) openCredential(t *remediation.Tenant) (remediation.Credential, error) {
	plain, err := c.box.Open(t.SecretCiphertext, t.SecretKeyID)
	if err != nil {
		return remediation.Credential{}, fmt.Errorf("graph: open the credential of tenant %s: %w", t.ID, err)
	}
	if len(plain) == 0 {
		return remediation.Credential{}, remediation.Errorf(remediation.EINVALID, "tenant %s has no credential", t.ID)
	}
	cred, err := remediation.ParseCredential(plain)
	if err != nil {
		return remediation.Credential{}, err
	}
	switch {
	case cred.Type == remediation.CredentialSecret && cred.ClientSecret == "":
		return remediation.Credential{}, remediation.Errorf(remediation.EINVALID, "tenant %s has no client secret", t.ID)
	case cred.Type == remediation.CredentialCertificate && len(cred.CertificatePEM) == 0 && len(cred.PKCS12) == 0:
		return remediation.Credential{}, remediation.Errorf(remediation.EINVALID, "tenant %s has no certificate", t.ID)
	}
	return cred, nil
}

// tokenCredential builds the azidentity credential of t for the authority
// host: a client secret or a client certificate credential, both without
// azcore retries (the queue owns retries) and, for custom clouds, without
// instance discovery. redact removes the credential's secrets from texts.
func (c *Connector) tokenCredential(t *remediation.Tenant, cred remediation.Credential, authority string,
	redact func(string) string) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
		Transport: c.authHTTP,
		// The queue owns retries: one try, no sleeping.
		Retry: policy.RetryOptions{MaxRetries: -1},
	}
	noDiscovery := t.Cloud == remediation.CloudCustom
	if cred.Type == remediation.CredentialSecret {
		tc, err := azidentity.NewClientSecretCredential(t.ID, t.ClientID, cred.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, remediation.Errorf(remediation.EINVALID, "tenant %s: credential: %s", t.ID, redact(err.Error()))
		}
		return tc, nil
	}
	data, password := cred.CertificatePEM, []byte(nil)
	if len(data) == 0 {
		data, password = cred.PKCS12, []byte(cred.Password)
	}
	certs, key, err := azidentity.ParseCertificates(data, password)
	if err != nil {
		return nil, remediation.Errorf(remediation.EINVALID, "tenant %s: certificate: %s", t.ID, redact(err.Error()))
	}
	tc, err := azidentity.NewClientCertificateCredential(t.ID, t.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery,
			// x5t#S256 only; the chain (x5c) is for subject name/issuer
			// authentication, which the app registration does not use.
			SendCertificateChain: false})
	if err != nil {
		return nil, remediation.Errorf(remediation.EINVALID, "tenant %s: credential: %s", t.ID, redact(err.Error()))
	}
	return tc, nil
}

// credentialRedactor returns a function removing the credential's secret
// values (client secret, PKCS#12 password) from a text.
func credentialRedactor(cred remediation.Credential) func(string) string {
	var secrets []string
	for _, s := range []string{cred.ClientSecret, cred.Password} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	return redactor(secrets...)
}

// redactor returns a function replacing each of secrets in a text.
func redactor(secrets ...string) func(string) string {
	return func(s string) string {
		for _, secret := range secrets {
			if secret != "" {
				s = strings.ReplaceAll(s, secret, "[redacted]")
			}
		}
		return s
	}
}
