package graph

import (
	"net/http"
	"strings"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/entraremediator/remediator/internal/remediation"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"999999999", maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The queue owns retries: the pipeline must hold no retry handler, and
// must keep gzip compression and the recorder.
func TestMiddlewaresHaveNoRetryHandler(t *testing.T) {
	var compression, rec bool
	for _, m := range middlewares() {
		switch m.(type) {
		case *khttp.RetryHandler, khttp.RetryHandler:
			t.Fatalf("middleware list holds a retry handler: %T", m)
		case *khttp.CompressionHandler:
			compression = true
		case recorder:
			rec = true
		}
	}
	if !compression || !rec {
		t.Fatalf("compression handler present: %v, recorder present: %v", compression, rec)
	}
}

func TestCleanRedactsAndTruncates(t *testing.T) {
	d := &directory{redact: redactor("s3cr3t-value")}
	if got := d.clean("bad secret s3cr3t-value here"); strings.Contains(got, "s3cr3t") {
		t.Fatalf("secret not redacted: %q", got)
	}
	long := strings.Repeat("é", maxMessage)
	got := d.clean(long)
	if len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") {
		t.Fatalf("not truncated: len %d", len(got))
	}
	if !strings.HasPrefix(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("truncation split a rune")
	}
}

func TestFingerprintChangesWithTenant(t *testing.T) {
	base := remediation.Tenant{ID: "t", ClientID: "c", Cloud: remediation.CloudPublic,
		UpdatedAt: time.Unix(100, 0), SecretCiphertext: []byte{1, 2}, SecretKeyID: "k1"}
	fp := fingerprint(&base)
	same := base
	same.DisplayName = "renamed"
	if fingerprint(&same) != fp {
		t.Fatal("display name changed the fingerprint")
	}
	for name, mut := range map[string]func(*remediation.Tenant){
		"updated_at": func(t *remediation.Tenant) { t.UpdatedAt = t.UpdatedAt.Add(time.Nanosecond) },
		"secret":     func(t *remediation.Tenant) { t.SecretCiphertext = []byte{1, 3} },
		"key":        func(t *remediation.Tenant) { t.SecretKeyID = "k2" },
		"client":     func(t *remediation.Tenant) { t.ClientID = "d" },
		"cloud":      func(t *remediation.Tenant) { t.Cloud = remediation.CloudUSGov },
	} {
		c := base
		mut(&c)
		if fingerprint(&c) == fp {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
}
