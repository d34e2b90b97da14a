package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entraremediator/remediator/internal/remediation"
)

// certificateRequest is a certificate credential: PEM text holding the
// certificate (chain) and its private key, or a base64 PKCS#12 bundle with
// its password.
type certificateRequest struct {
	PEM      string `json:"pem"`
	PKCS12   string `json:"pkcs12"`
	Password string `json:"password"`
}

// credentialRequest is the body of PUT /v1/tenants/{id}/credentials: a new
// client secret or certificate, and optionally another app (client id).
type credentialRequest struct {
	ClientSecret string              `json:"client_secret"`
	Certificate  *certificateRequest `json:"certificate"`
	ClientID     string              `json:"client_id"`
}

// credentialInfo describes a validated credential for the audit log.
type credentialInfo struct {
	Type string
	Cert *parsedCertificate
}

// addTo adds the credential's description to audit details.
func (i credentialInfo) addTo(d map[string]any) {
	d["credential_type"] = i.Type
	if i.Cert != nil {
		d["certificate_thumbprint"] = i.Cert.Thumbprint
		d["certificate_subject"] = i.Cert.Subject
		d["certificate_not_after"] = i.Cert.NotAfter
	}
}

// checkCredential validates exactly one of a client secret and a
// certificate, adding refusals to fe (field "client_secret" or
// "certificate"; messages never quote the material).
func (s *Server) checkCredential(fe *fieldErrors, secret string, cert *certificateRequest) (remediation.Credential, credentialInfo) {
	switch {
	case secret != "" && cert != nil:
		fe.add("client_secret", "give either client_secret or certificate, not both")
	case cert != nil:
		return s.checkCertificate(fe, cert)
	case secret == "":
		fe.add("client_secret", "is required (or give certificate)")
	case len(secret) > maxClientSecret:
		fe.add("client_secret", fmt.Sprintf("must be at most %d bytes", maxClientSecret))
	default:
		return remediation.Credential{Type: remediation.CredentialSecret, ClientSecret: secret},
			credentialInfo{Type: remediation.CredentialSecret}
	}
	return remediation.Credential{}, credentialInfo{}
}

// checkCertificate validates a certificate credential.
func (s *Server) checkCertificate(fe *fieldErrors, req *certificateRequest) (remediation.Credential, credentialInfo) {
	now := s.cfg.Now()
	info := credentialInfo{Type: remediation.CredentialCertificate}
	cred := remediation.Credential{Type: remediation.CredentialCertificate}
	var err error
	switch {
	case (req.PEM == "") == (req.PKCS12 == ""):
		fe.add("certificate", "give exactly one of pem and pkcs12")
		return cred, info
	case req.PEM != "" && req.Password != "":
		fe.add("certificate.password", "is only used with pkcs12 (encrypted PEM keys are not supported)")
		return cred, info
	case len(req.Password) > maxCertPassword:
		fe.add("certificate.password", fmt.Sprintf("must be at most %d bytes", maxCertPassword))
		return cred, info
	case req.PEM != "":
		if len(req.PEM) > maxCertificateBytes {
			fe.add("certificate.pem", fmt.Sprintf("must be at most %d bytes", maxCertificateBytes))
			return cred, info
		}
		if info.Cert, err = parsePEMCredential([]byte(req.PEM), now); err != nil {
			fe.add("certificate.pem", err.Error())
			return cred, info
		}
		cred.CertificatePEM = []byte(req.PEM)
	default:
		if base64.StdEncoding.DecodedLen(len(req.PKCS12)) > maxCertificateBytes+3 {
			fe.add("certificate.pkcs12", fmt.Sprintf("must be at most %d bytes (before base64)", maxCertificateBytes))
			return cred, info
		}
		der, derr := base64.StdEncoding.DecodeString(req.PKCS12)
		if derr != nil {
			fe.add("certificate.pkcs12", "must be standard base64")
			return cred, info
		}
		if info.Cert, err = parsePKCS12Credential(der, req.Password, now); err != nil {
			fe.add("certificate.pkcs12", err.Error())
			return cred, info
		}
		cred.PKCS12, cred.Password = der, req.Password
	}
	return cred, info
}

// sealCredential encodes and seals c with the SecretBox.
func (s *Server) sealCredential(c remediation.Credential) ([]byte, string, error) {
	plain, err := c.Marshal()
	if err != nil {
		return nil, "", fmt.Errorf("encode credential: %w", err)
	}
	defer clear(plain)
	return s.cfg.Box.Seal(plain)
}

// credentialType opens a tenant's sealed credential to tell its type
// ("secret" or "certificate"); "unknown" when it cannot be opened (logged).
func (s *Server) credentialType(t *remediation.Tenant) string {
	if len(t.SecretCiphertext) == 0 {
		return "none"
	}
	plain, err := s.cfg.Box.Open(t.SecretCiphertext, t.SecretKeyID)
	if err != nil {
		s.log.Warn("api: cannot open the credential of a tenant", slog.String("tenant_id", t.ID),
			slog.String("key_id", t.SecretKeyID))
		return "unknown"
	}
	defer clear(plain)
	cred, err := remediation.ParseCredential(plain)
	if err != nil {
		return "unknown"
	}
	return cred.Type
}

// tenantJSON is the tenant as answered, with its credential type.
func (s *Server) tenantJSON(t *remediation.Tenant) tenantResponse {
	r := toTenantResponse(t)
	r.CredentialType = s.credentialType(t)
	return r
}

// handleTenantCredentials rotates a tenant's credential: the new one is
// sealed and stored, and UpdatedAt changes, so that workers build a new
// credential for new tasks while running ones finish with the old.
func (s *Server) handleTenantCredentials(c echo.Context) error {
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	var req credentialRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var fe fieldErrors
	cred, info := s.checkCredential(&fe, req.ClientSecret, req.Certificate)
	if req.ClientID != "" && !remediation.IsGUID(req.ClientID) {
		fe.add("client_id", "must be a GUID")
	}
	if err := fe.err(); err != nil {
		return err
	}
	t, err := s.getTenant(c, id)
	if err != nil {
		return err
	}
	details := map[string]any{}
	if req.ClientID != "" && !strings.EqualFold(req.ClientID, t.ClientID) {
		details["client_id"], details["previous_client_id"] = strings.ToLower(req.ClientID), t.ClientID
		t.ClientID = strings.ToLower(req.ClientID)
	}
	if t.SecretCiphertext, t.SecretKeyID, err = s.sealCredential(cred); err != nil {
		return fmt.Errorf("seal credential of tenant %s: %w", id, err)
	}
	if err := s.cfg.Store.UpdateTenant(c.Request().Context(), t); err != nil {
		if remediation.ErrorCode(err) == remediation.ENOTFOUND {
			return tenantNotFound(id)
		}
		return fmt.Errorf("rotate credential of tenant %s: %w", id, err)
	}
	info.addTo(details)
	s.audit(c, auditTenantCredentials, id, id, details)
	return c.JSON(http.StatusOK, s.tenantJSON(t))
}

// verifyTimeout bounds a credential check (token, read, permissions).
const verifyTimeout = 30 * time.Second

// verificationResponse is the body of POST /v1/tenants/{id}/verify.
type verificationResponse struct {
	TenantID string `json:"tenant_id"`
	// OK: a token was acquired, the read worked and no permission is missing.
	OK bool `json:"ok"`
	remediation.Verification
}

// handleTenantVerify checks a tenant's credential through the Verifier: it
// answers 200 with what was found, also when permissions are missing (the
// body names them and the actions that need them).
func (s *Server) handleTenantVerify(c echo.Context) error {
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	if err := decodeOptionalJSON(c, &struct{}{}); err != nil {
		return err
	}
	if s.cfg.Verifier == nil {
		return remediation.Errorf(remediation.ENOTIMPLEMENTED, "Credential verification is not available on this server.")
	}
	t, err := s.getTenant(c, id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), verifyTimeout)
	defer cancel()
	v, err := s.cfg.Verifier.Verify(ctx, t)
	if err != nil {
		if code := remediation.ErrorCode(err); code != remediation.EINTERNAL {
			return err
		}
		return fmt.Errorf("verify tenant %s: %w", id, err)
	}
	resp := verificationResponse{TenantID: id, Verification: *v}
	if resp.Granted == nil {
		resp.Granted = []string{}
	}
	if resp.Missing == nil {
		resp.Missing = []string{}
	}
	resp.OK = v.TokenAcquired && v.ReadOK && len(v.Missing) == 0 && v.Error == nil
	s.audit(c, auditTenantVerify, id, id, map[string]any{
		"ok": resp.OK, "token_acquired": v.TokenAcquired, "read_ok": v.ReadOK, "missing_permissions": resp.Missing,
	})
	return c.JSON(http.StatusOK, resp)
}

// handleTenantDelete deletes a tenant's credentials, settings and
// webhooks; its jobs and history stay readable. 409 while it has queued or
// running jobs.
func (s *Server) handleTenantDelete(c echo.Context) error {
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	if s.access == nil {
		return accessUnavailable()
	}
	err = s.access.DeleteTenant(c.Request().Context(), id)
	switch remediation.ErrorCode(err) {
	case "":
	case remediation.ENOTFOUND:
		return tenantNotFound(id)
	case remediation.ECONFLICT:
		return &remediation.Error{
			Code:    remediation.ECONFLICT,
			Message: fmt.Sprintf("Tenant %s has queued or running remediations: cancel them or wait for them to finish.", id),
			Details: map[string]any{"tenant_id": id},
		}
	default:
		return fmt.Errorf("delete tenant %s: %w", id, err)
	}
	s.audit(c, auditTenantDelete, id, id, nil)
	return c.NoContent(http.StatusNoContent)
}

// accessUnavailable answers routes that need the access store when the
// server has none.
func accessUnavailable() error {
	return remediation.Errorf(remediation.ENOTIMPLEMENTED, "This server keeps no API keys, audit log or webhooks.")
}
