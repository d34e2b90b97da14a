package graphsim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "graphsim-ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, Options{}, caFile, pw)
		pw.Close()
		done <- err
	}()

	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Sample users") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	out := banner.String()
	if strings.Contains(out, DemoClientSecret) {
		t.Fatalf("banner prints the client secret:\n%s", out)
	}
	for _, want := range []string{DemoTenantID(), DemoClientID, caFile, "DemoClientSecret"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	base := regexp.MustCompile(`URL:\s+(https://\S+)`).FindStringSubmatch(out)
	if base == nil {
		t.Fatalf("no URL in banner:\n%s", out)
	}

	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := hc.PostForm(base[1]+"/"+DemoTenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret},
		"scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("demo token request: %d", res.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := hc.Get(base[1] + "/v1.0/users/x"); err == nil {
		t.Errorf("server still answers after Run returned")
	}
}
