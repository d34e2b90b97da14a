package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/entraremediator/remediator/internal/remediation"
)

type webhookJSON struct {
	ID        string   `json:"id"`
	TenantID  string   `json:"tenant_id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	CreatedBy string   `json:"created_by"`
	Secret    string   `json:"secret"`
}

func TestWebhookCRUD(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantA)
	e.addTenant(tenantB)
	base := "/v1/tenants/" + tenantA + "/webhooks"

	w := e.post(base, map[string]any{"url": "https://" + hookHost + "/remediator"}, nil)
	wantStatus(t, w, http.StatusCreated)
	h := decode[webhookJSON](t, w)
	if !strings.HasPrefix(h.Secret, "whsec_") || len(h.Secret) != 6+64 || h.TenantID != tenantA ||
		strings.Join(h.Events, ",") != "job.finished" || h.URL != "https://"+hookHost+"/remediator" || h.CreatedBy != "api-key:bootstrap" {
		t.Fatalf("created webhook = %+v", h)
	}
	if loc := w.Header().Get("Location"); loc != base+"/"+h.ID {
		t.Errorf("Location = %q", loc)
	}
	// Sealed at rest, shown once.
	stored, err := e.store.GetWebhook(context.Background(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.SecretCiphertext), h.Secret) {
		t.Error("webhook secret stored in clear")
	}
	if plain, _ := (xorBox{}).Open(stored.SecretCiphertext, stored.SecretKeyID); string(plain) != h.Secret {
		t.Error("sealed webhook secret does not open to the secret")
	}
	w2 := e.post(base, map[string]any{"url": "https://hooks2.example.com:8443/x?token=t", "events": []string{"item.failed", "job.finished", "item.failed"}}, nil)
	wantStatus(t, w2, http.StatusCreated)
	h2 := decode[webhookJSON](t, w2)
	if strings.Join(h2.Events, ",") != "item.failed,job.finished" || h2.Secret == h.Secret {
		t.Errorf("second webhook = %+v", h2)
	}

	w = e.get(base)
	wantStatus(t, w, 200)
	if strings.Contains(w.Body.String(), h.Secret) || strings.Contains(w.Body.String(), `"secret"`) {
		t.Fatalf("list shows the secret: %s", w.Body.String())
	}
	if list := decode[struct{ Webhooks []webhookJSON }](t, w); len(list.Webhooks) != 2 || list.Webhooks[0].ID != h.ID {
		t.Errorf("webhooks = %+v", list)
	}
	if list := decode[struct{ Webhooks []webhookJSON }](t, e.get("/v1/tenants/"+tenantB+"/webhooks")); len(list.Webhooks) != 0 {
		t.Errorf("tenant B webhooks = %+v", list)
	}

	// Deliveries, newest first; a webhook seen through another tenant does not exist.
	for _, id := range []string{"d1", "d2"} {
		if err := e.store.EnqueueDelivery(context.Background(), &remediation.WebhookDelivery{ID: id, WebhookID: h.ID,
			Event: remediation.EventJobFinished, Payload: []byte(`{"event":"job.finished","job":{"id":"j","tenant_id":"` + tenantA +
				`","action":"disable_user","status":"completed","total":1,"counts":{"succeeded":1},"reason":"r","actor":"",` +
				`"requested_by":"k","created_at":"2025-01-31T12:00:00Z","finished_at":null,"dry_run":false}}`)}); err != nil {
			t.Fatal(err)
		}
	}
	w = e.get(base + "/" + h.ID + "/deliveries?limit=1")
	wantStatus(t, w, 200)
	if ds := decode[struct{ Deliveries []map[string]any }](t, w).Deliveries; len(ds) != 1 || ds[0]["webhook_id"] != h.ID {
		t.Errorf("deliveries = %v", ds)
	}
	if ds := decode[struct{ Deliveries []map[string]any }](t, e.get(base+"/"+h2.ID+"/deliveries")).Deliveries; ds == nil || len(ds) != 0 {
		t.Errorf("deliveries of a new webhook = %v", ds)
	}
	other := "/v1/tenants/" + tenantB + "/webhooks/" + h.ID
	wantError(t, e.get(other+"/deliveries"), 404, remediation.ENOTFOUND)
	wantError(t, e.do(req{Method: http.MethodDelete, Path: other}), 404, remediation.ENOTFOUND)
	wantError(t, e.get(base+"/nope/deliveries"), 404, remediation.ENOTFOUND)
	wantError(t, e.get(base+"/"+h.ID+"/deliveries?limit=0"), 400, remediation.EINVALID)

	wantStatus(t, e.do(req{Method: http.MethodDelete, Path: base + "/" + h.ID}), http.StatusNoContent)
	wantError(t, e.do(req{Method: http.MethodDelete, Path: base + "/" + h.ID}), 404, remediation.ENOTFOUND)
	if list := decode[struct{ Webhooks []webhookJSON }](t, e.get(base)); len(list.Webhooks) != 1 {
		t.Errorf("webhooks after delete = %+v", list)
	}
	wantError(t, e.post("/v1/tenants/"+tenantC+"/webhooks", map[string]any{"url": "https://" + hookHost + "/"}, nil), 404, remediation.ENOTFOUND)
	for _, b := range append(e.bodies[3:], e.logs.String()) {
		if b != e.bodies[3] && b != e.bodies[4] && (strings.Contains(b, h.Secret) || strings.Contains(b, h2.Secret)) {
			t.Errorf("webhook secret shown again: %s", truncate(b, 200))
		}
	}
	e.assertNoSecret()
}

func TestWebhookLimit(t *testing.T) {
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantA)
	for range maxWebhooksPerTenant {
		wantStatus(t, e.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": "https://" + hookHost + "/"}, nil), 201)
	}
	wantError(t, e.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": "https://" + hookHost + "/"}, nil), 422, remediation.EUNPROCESSABLE)
}

func TestWebhookURLRules(t *testing.T) {
	refused := map[string]string{
		"":                                     "url",
		"http://" + hookHost + "/":             "url", // https only
		"ftp://" + hookHost + "/":              "url",
		"https://user:pw@" + hookHost + "/":    "url",
		"https://" + hookHost + "/#frag":       "url",
		"/relative":                            "url",
		"https:///nohost":                      "url",
		"https://" + hookHost + ":99999/":      "url",
		"https://127.0.0.1/":                   "url",
		"https://10.0.0.8/":                    "url",
		"https://172.16.5.4/":                  "url",
		"https://192.168.1.1/":                 "url",
		"https://169.254.169.254/latest":       "url",
		"https://100.64.0.1/":                  "url",
		"https://0.0.0.0/":                     "url",
		"https://224.0.0.1/":                   "url",
		"https://[::1]/":                       "url",
		"https://[fd00::1]/":                   "url",
		"https://[fe80::1]/":                   "url",
		"https://[::ffff:127.0.0.1]/":          "url",
		"https://[64:ff9b::a00:1]/":            "url", // NAT64 of 10.0.0.1
		"https://2130706433/":                  "url", // 127.0.0.1 as a number
		"https://0x7f.1/":                      "url",
		"https://localhost/":                   "url",
		"https://internal.example.com/":        "url",
		"https://mixed.example.com/":           "url",
		"https://ula.example.com/":             "url",
		"https://metadata.example.com/":        "url",
		"https://cgnat.example.com/":           "url",
		"https://mapped.example.com/":          "url",
		"https://unspecified.example/":         "url",
		"https://multicast.example.com/":       "url",
		"https://unknown.example.com/":         "url", // does not resolve
		"https://" + strings.Repeat("a", 2100): "url",
		"https://bad_host!.example.com/":       "url",
		"https://" + hookHost + "/ with space": "url",
	}
	e := newEnv(t, accessOpts(&fakeVerifier{}))
	e.addTenant(tenantA)
	for u, field := range refused {
		w := e.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": u}, nil)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"field":"`+field+`"`) {
			t.Errorf("url %q: status %d %s", truncate(u, 60), w.Code, truncate(w.Body.String(), 200))
		}
	}
	for _, body := range []map[string]any{
		{"url": "https://" + hookHost + "/", "events": []string{}},
		{"url": "https://" + hookHost + "/", "events": []string{"job.started"}},
		{"url": "https://" + hookHost + "/", "secret": "mine"},
	} {
		wantError(t, e.post("/v1/tenants/"+tenantA+"/webhooks", body, nil), 400, remediation.EINVALID)
	}
	for _, u := range []string{"https://93.184.215.14/x", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", "https://HOOKS.example.com./a?b=c"} {
		wantStatus(t, e.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": u}, nil), 201)
	}
	// AllowPrivateWebhooks: http and internal targets (a lab).
	lab := newEnv(t, func(c *Config) { c.AllowPrivateWebhooks = true; c.LookupIP = fakeLookup })
	lab.addTenant(tenantA)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "https://internal.example.com/", "http://localhost/"} {
		wantStatus(t, lab.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": u}, nil), 201)
	}
	wantError(t, lab.post("/v1/tenants/"+tenantA+"/webhooks", map[string]any{"url": "http://u:p@127.0.0.1/"}, nil), 400, remediation.EINVALID)
}
