package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The identity provider's settings are checked together, strictly, before
// anything opens, and the client secret is never printed.
func TestServe_OIDCSettingsAreCheckedTogetherAndTheSecretNeverShown(t *testing.T) {
	const secret = "oidc-s3cret-value"
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	twoLines := filepath.Join(dir, "two-lines")
	if err := os.WriteFile(twoLines, []byte("a\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := []string{"--oidc-issuer", "https://login.example.com/realms/staff"}
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"issuer over http", nil, []string{"--oidc-issuer", "http://login.example.com"}, []string{"--oidc-issuer", "LEDGERDESK_OIDC_ISSUER", "https://"}},
		{"issuer not a URL", []string{"LEDGERDESK_OIDC_ISSUER", "login.example.com"}, nil, []string{"LEDGERDESK_OIDC_ISSUER", "issuer's URL"}},
		{"issuer without a client", nil, issuer, []string{"--oidc-client-id", "LEDGERDESK_OIDC_CLIENT_ID"}},
		{"issuer without a secret", nil, append(issuer, "--oidc-client-id", "ledgerdesk"), []string{"LEDGERDESK_OIDC_CLIENT_SECRET", "--oidc-client-secret-file"}},
		{"issuer without a public URL", []string{"LEDGERDESK_OIDC_CLIENT_SECRET", secret}, append(issuer, "--oidc-client-id", "ledgerdesk"),
			[]string{"--public-url", "sends people back"}},
		{"a secret twice", []string{"LEDGERDESK_OIDC_CLIENT_SECRET", secret},
			append(issuer, "--oidc-client-id", "ledgerdesk", "--oidc-client-secret-file", secretFile, "--public-url", "https://ledgerdesk.example.com"),
			[]string{"give the secret once"}},
		{"a secret file of two lines", nil,
			append(issuer, "--oidc-client-id", "ledgerdesk", "--oidc-client-secret-file", twoLines, "--public-url", "https://ledgerdesk.example.com"),
			[]string{"--oidc-client-secret-file", "one line"}},
		{"a secret with a control character", []string{"LEDGERDESK_OIDC_CLIENT_SECRET", secret + "\x00"}, nil,
			[]string{"LEDGERDESK_OIDC_CLIENT_SECRET", "one line"}},
		{"client settings without an issuer", []string{"LEDGERDESK_OIDC_CLIENT_SECRET", secret}, []string{"--oidc-client-id", "ledgerdesk"},
			[]string{"--oidc-issuer", "is not set"}},
		{"a groups claim with spaces", nil, []string{"--oidc-groups-claim", "my groups"}, []string{"--oidc-groups-claim", "letters, digits"}},
		{"an empty provider name", nil, []string{"--oidc-provider-name="}, []string{"--oidc-provider-name", "1 to 40"}},
		{"a scope with a quote", []string{"LEDGERDESK_OIDC_SCOPES", `email,"groups"`}, nil, []string{"LEDGERDESK_OIDC_SCOPES", "not a scope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			r := ledgerdesk(t, env(c.env...), append([]string{"serve", "--data", data}, c.args...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("the message does not say %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the client secret was printed:\n%s", r.stderr)
			}
		})
	}
}
