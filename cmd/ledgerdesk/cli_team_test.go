package main

import (
	"strings"
	"testing"
)

func TestServe_RefusesIncompleteOrWrongMailSettings(t *testing.T) {
	r := ledgerdesk(t, env("LEDGERDESK_SMTP_URL", "smtp://mailer:s3cret-pass@127.0.0.1:2525"), "serve", "--data", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "LEDGERDESK_MAIL_FROM") {
		t.Fatalf("an SMTP URL without a From address: exit %d, stderr %q", r.code, r.stderr)
	}
	r = ledgerdesk(t, env(), "serve", "--data", t.TempDir(), "--smtp-url", "http://mail.example.com", "--mail-from", "noreply@example.com")
	if r.code != 2 || !strings.Contains(r.stderr, "smtp://") {
		t.Fatalf("an http URL as SMTP server: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, "s3cret-pass") {
			t.Fatal("the SMTP password was printed")
		}
	}
}
