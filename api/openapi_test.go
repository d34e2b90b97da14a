package api

import (
	"context"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/entraremediator/remediator/internal/remediation"
)

// TestOpenAPITour runs every route of the API, with its success and main
// error answers, through a server that validates each request and answer
// against openapi.yaml; then checks that every documented operation was
// answered successfully at least once.
func TestOpenAPITour(t *testing.T) {
	tr := newTour(t)
	tr.probes()
	tr.tenants()
	tr.webhooks()
	tr.keysAndAudit()
	tr.remediations()
	tr.unavailable()
	if t.Failed() {
		return
	}

	seen := tr.cf.statuses()
	for _, op := range documentedOperations(tr.cf.doc) {
		ok := false
		for _, st := range seen[op] {
			ok = ok || st < 300
		}
		if !ok {
			t.Errorf("%s: no successful answer in the tour (seen %v)", op, seen[op])
		}
		t.Logf("%-60s %v", op, seen[op])
	}
}

// documentedOperations returns "METHOD /path" of every operation of doc.
func documentedOperations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// TestOpenAPIDescribesEveryRoute checks that the document describes every
// route the server serves (routes() and the unauthenticated ones), and
// nothing else.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	s, _, _, _ := newServer(t, func(c *Config) { c.MetricsHandler = http.NotFoundHandler() })
	documented := map[string]bool{}
	for _, op := range documentedOperations(doc) {
		documented[op] = true
	}
	served := map[string]bool{}
	for _, r := range s.echo.Routes() {
		served[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for _, r := range s.routes() {
		op := r.method + " /v1" + echoParam.ReplaceAllString(r.path, "{$1}")
		if !served[op] {
			t.Errorf("%s of routes() is not served", op)
		}
	}
	for _, p := range []string{pathHealthz, pathReadyz, pathMetrics, pathOpenAPI} {
		if !served["GET "+p] {
			t.Errorf("GET %s is not served", p)
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not described in openapi.yaml", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is described in openapi.yaml but not served", op)
		}
	}
}

// TestOpenAPIValidatorRejects shows that the tour's harness fails on an
// answer with an undocumented field or status, a missing field or a null
// that the document does not allow.
func TestOpenAPIValidatorRejects(t *testing.T) {
	cf := newConformance(t)
	r, _ := http.NewRequest(http.MethodGet, "http://api.test/v1/remediations/j-1", nil)
	route, params, err := cf.router.FindRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	job := `{"id":"j-1","tenant_id":"t","action":"disable_user","status":"queued","total":1,"duplicates_merged":0,
		"counts":{"pending":1,"running":0,"retrying":0,"succeeded":0,"skipped":0,"failed":0,"canceled":0},"reason":"r",
		"actor":"","requested_by":"api-key:bootstrap","context":null,"parameters":null,"dry_run":false,
		"confirm_admin_targets":false,"undo_of":null,"retry_of":null,"priority":"urgent","cancel_requested":false,
		"created_at":"2025-01-31T12:00:00Z","started_at":null,"finished_at":null}`
	validate := func(status int, body string) error {
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: cf.opts}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status,
			Header: http.Header{"Content-Type": {"application/json"}}, Options: cf.opts}
		out.SetBodyBytes([]byte(body))
		return openapi3filter.ValidateResponse(context.Background(), out)
	}
	if err := validate(http.StatusOK, job); err != nil {
		t.Fatalf("a conforming job is refused: %v", err)
	}
	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"extra field":         {200, strings.Replace(job, `"id":"j-1",`, `"id":"j-1","secret":"x",`, 1)},
		"missing field":       {200, strings.Replace(job, `"priority":"urgent",`, "", 1)},
		"null not allowed":    {200, strings.Replace(job, `"reason":"r"`, `"reason":null`, 1)},
		"unknown status word": {200, strings.Replace(job, `"status":"queued"`, `"status":"paused"`, 1)},
		"undocumented status": {http.StatusTeapot, job},
		"error without code":  {404, `{"error":{"message":"m","details":null}}`},
	} {
		if err := validate(tc.status, tc.body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// schemaOf maps the answer and request structs of the handlers to their
// schemas in openapi.yaml.
var schemaOf = []struct {
	v      any
	schema string
	answer bool // fields without omitempty must be required
}{
	{jobResponse{}, "Job", true}, {jobWithItemsResponse{}, "JobWithItems", true}, {jobListResponse{}, "JobList", true},
	{itemResponse{}, "Item", true}, {itemDetailResponse{}, "ItemDetail", true}, {callResponse{}, "Call", true},
	{itemListResponse{}, "ItemList", true}, {remediation.ItemError{}, "ItemError", true},
	{remediation.ItemError{}, "NullableItemError", true},
	{tenantResponse{}, "Tenant", true}, {tenantListResponse{}, "TenantList", true},
	{remediation.TenantSettings{}, "TenantSettings", true}, {remediation.GraphLimits{}, "GraphLimits", true},
	{verificationResponse{}, "Verification", true},
	{keyResponse{}, "Key", true}, {keyCreatedResponse{}, "KeyCreated", true}, {keyListResponse{}, "KeyList", true},
	{webhookResponse{}, "Webhook", true}, {webhookCreatedResponse{}, "WebhookCreated", true},
	{webhookListResponse{}, "WebhookList", true}, {remediation.WebhookDelivery{}, "Delivery", true},
	{deliveryListResponse{}, "DeliveryList", true}, {remediation.WebhookJob{}, "WebhookJob", true},
	{remediation.WebhookItem{}, "WebhookItem", true}, {remediation.JobFinishedPayload{}, "JobFinishedPayload", true},
	{remediation.ItemFailedPayload{}, "ItemFailedPayload", true},
	{remediation.AuditEntry{}, "AuditEntry", true}, {auditListResponse{}, "AuditList", true},
	{remediation.Outcome{}, "Outcome", true}, {historyResponse{}, "HistoryList", true},
	{remediation.ActionSpec{}, "ActionSpec", true}, {remediation.ParamSpec{}, "ParamSpec", true},
	{actionListResponse{}, "ActionList", true}, {errorBody{}, "Error", true}, {readyResponse{}, "Ready", true},
	{tenantCreateRequest{}, "TenantCreateRequest", false}, {certificateRequest{}, "CertificateRequest", false},
	{tenantSettingsRequest{}, "TenantSettingsRequest", false}, {credentialRequest{}, "CredentialRequest", false},
	{webhookCreateRequest{}, "WebhookCreateRequest", false}, {remediationCreateRequest{}, "RemediationCreateRequest", false},
	{undoRequest{}, "UndoRequest", false}, {retryRequest{}, "RetryRequest", false},
	{keyCreateRequest{}, "KeyCreateRequest", false}, {cancelRequest{}, "EmptyRequest", false},
}

// TestOpenAPISchemasMatchStructs checks that each schema has exactly the
// JSON fields of its struct, answers' fields without omitempty required,
// so that a field added to a handler's struct cannot go undocumented.
func TestOpenAPISchemasMatchStructs(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, tc := range schemaOf {
		ref := doc.Components.Schemas[tc.schema]
		if ref == nil {
			t.Errorf("no schema %s", tc.schema)
			continue
		}
		fields := map[string]bool{} // name → omitempty
		structFields(reflect.TypeOf(tc.v), fields)
		checkSchemaFields(t, tc.schema, ref.Value, fields, tc.answer)
		if tc.schema == "Error" {
			inner := map[string]bool{}
			structFields(reflect.TypeOf(errorPayload{}), inner)
			checkSchemaFields(t, "Error.error", ref.Value.Properties["error"].Value, inner, true)
		}
	}
}

func checkSchemaFields(t *testing.T, name string, s *openapi3.Schema, fields map[string]bool, answer bool) {
	t.Helper()
	if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
		t.Errorf("%s: additionalProperties must be false", name)
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for f, omitempty := range fields {
		if s.Properties[f] == nil {
			t.Errorf("%s: field %s is not described", name, f)
		}
		if answer && !omitempty && !required[f] {
			t.Errorf("%s: field %s is always sent but not required", name, f)
		}
		if answer && omitempty && required[f] {
			t.Errorf("%s: field %s may be left out but is required", name, f)
		}
	}
	for p := range s.Properties {
		if _, ok := fields[p]; !ok {
			t.Errorf("%s: property %s is not a field of the struct", name, p)
		}
	}
}

// structFields adds the JSON names of t's fields (embedded structs
// flattened) to out, with whether they are omitempty.
func structFields(t reflect.Type, out map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			structFields(f.Type, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = strings.Contains(opts, "omitempty")
	}
}
