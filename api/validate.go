package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/entraremediator/remediator/internal/remediation"
)

// maxListedIdentities caps the offending identities listed in details.
const maxListedIdentities = 20

// validRemediation is a remediation request that passed validation, in the
// form it is stored.
type validRemediation struct {
	action     remediation.Action
	identities []string // normalized, duplicates merged, first occurrence order
	duplicates int
	reason     string
	context    json.RawMessage // canonical JSON object, or nil
	params     json.RawMessage // canonical JSON object, or nil
	hash       string
}

// badIdentity is one entry of the details of an invalid-identities error.
type badIdentity struct {
	Index   int    `json:"index"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// validateRemediation checks req in this order: action, identities,
// reason, context, parameters (all EINVALID, or ETOOLARGE/ENOTIMPLEMENTED),
// then the one-identity rule of non-bulk actions (EUNPROCESSABLE); the
// first failure is returned.
func (s *Server) validateRemediation(req *remediationCreateRequest) (*validRemediation, error) {
	spec, err := s.checkAction(req.Action)
	if err != nil {
		return nil, err
	}
	v := &validRemediation{action: spec.Name}
	if v.identities, v.duplicates, err = s.checkIdentities(req.Identities); err != nil {
		return nil, err
	}
	v.reason = strings.TrimSpace(req.Reason)
	switch {
	case v.reason == "":
		return nil, invalid(map[string]any{"field": "reason"}, "A reason is required.")
	case utf8.RuneCountInString(v.reason) > maxReason:
		return nil, invalid(map[string]any{"field": "reason", "max_length": maxReason},
			"The reason must be at most %d characters.", maxReason)
	}
	if v.context, err = objectField("context", req.Context, maxContextBytes); err != nil {
		return nil, err
	}
	if v.params, err = objectField("parameters", req.Parameters, maxParamsBytes); err != nil {
		return nil, err
	}
	if v.params, err = checkParams(spec.Name, v.params); err != nil {
		return nil, err
	}
	// Well-formed from here on: what is left is refused with 422.
	if !spec.Bulk && len(v.identities) > 1 {
		return nil, &remediation.Error{
			Code: remediation.EUNPROCESSABLE,
			Message: fmt.Sprintf("Action %s acts on one identity at a time; got %d identities. "+
				"Submit one remediation per identity.", spec.Name, len(v.identities)),
			Details: map[string]any{"field": "identities", "count": len(v.identities), "max_identities": 1},
		}
	}
	v.hash, err = hashRequest(requestFingerprint{
		Action: v.action, Identities: v.identities, Reason: v.reason, Context: v.context, Parameters: v.params,
		DryRun: req.DryRun, ConfirmAdminTargets: req.ConfirmAdminTargets,
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// checkAction returns the catalog entry of name: EINVALID when it is not
// in the catalog, ENOTIMPLEMENTED when this build does not execute it.
func (s *Server) checkAction(name string) (remediation.ActionSpec, error) {
	spec, ok := remediation.LookupAction(name)
	if !ok {
		var valid []remediation.Action
		for _, a := range remediation.Catalog() {
			valid = append(valid, a.Name)
		}
		msg := fmt.Sprintf("Unknown action %q.", truncate(name, 80))
		if name == "" {
			msg = "An action is required."
		}
		return spec, invalid(map[string]any{"field": "action", "valid_actions": valid}, "%s", msg)
	}
	if !s.available[spec.Name] {
		return spec, &remediation.Error{
			Code:    remediation.ENOTIMPLEMENTED,
			Message: fmt.Sprintf("Action %s is not available in this build.", spec.Name),
			Details: map[string]any{"action": spec.Name, "available_actions": s.availableList()},
		}
	}
	return spec, nil
}

// availableList returns the available actions in catalog order.
func (s *Server) availableList() []remediation.Action {
	out := []remediation.Action{}
	for _, a := range remediation.Catalog() {
		if s.available[a.Name] {
			out = append(out, a.Name)
		}
	}
	return out
}

// checkIdentities normalizes ids and merges duplicates. Too many
// identities is ETOOLARGE (413); malformed ones are EINVALID listing at most
// maxListedIdentities offenders.
func (s *Server) checkIdentities(ids []string) ([]string, int, error) {
	if len(ids) == 0 {
		return nil, 0, invalid(map[string]any{"field": "identities"}, "At least one identity is required.")
	}
	if len(ids) > s.cfg.MaxIdentities {
		return nil, 0, &remediation.Error{
			Code:    remediation.ETOOLARGE,
			Message: fmt.Sprintf("A remediation may name at most %d identities; got %d.", s.cfg.MaxIdentities, len(ids)),
			Details: map[string]any{"field": "identities", "max_identities": s.cfg.MaxIdentities, "count": len(ids)},
		}
	}
	out := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	var bad []badIdentity
	badCount := 0
	for i, id := range ids {
		n, err := remediation.NormalizeIdentity(id)
		if err != nil {
			badCount++
			if len(bad) < maxListedIdentities {
				bad = append(bad, badIdentity{Index: i, Value: truncate(id, 120), Message: remediation.ErrorMessage(err)})
			}
			continue
		}
		if _, dup := seen[n]; dup {
			continue
		}
		seen[n] = struct{}{}
		out = append(out, n)
	}
	if badCount > 0 {
		return nil, 0, invalid(map[string]any{"field": "identities", "invalid_identities": bad, "invalid_count": badCount},
			"%d identit%s neither an object id (GUID) nor a user principal name.", badCount, plural(badCount, "y is", "ies are"))
	}
	return out, len(ids) - len(out), nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// objectField checks that raw is absent, null or a JSON object of at most
// max bytes in canonical form, and returns the canonical form (nil for
// absent, null or an empty object).
func objectField(field string, raw json.RawMessage, max int) (json.RawMessage, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	if !isJSONObject(raw) {
		return nil, invalid(map[string]any{"field": field}, "%s must be a JSON object.", field)
	}
	canon, err := canonicalJSON(raw)
	if err != nil {
		return nil, invalid(map[string]any{"field": field}, "%s is not valid JSON.", field)
	}
	if len(canon) > max {
		return nil, invalid(map[string]any{"field": field, "max_bytes": max, "bytes": len(canon)},
			"%s must be at most %d bytes of JSON.", field, max)
	}
	if bytes.Equal(canon, []byte("{}")) {
		return nil, nil
	}
	return canon, nil
}
