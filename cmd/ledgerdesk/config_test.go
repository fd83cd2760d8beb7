package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ledgerdesk/mail/mailtest"
)

// A setting that does not parse, is out of range or contradicts another
// stops the command with exit code 2 before it creates or opens anything,
// with a message that names the flag and its environment variable.
func TestCLI_InvalidSettingsStopTheCommandNamingTheSetting(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	const pgPassword = "pg-s3cret-pass"
	const smtpPassword = "smtp-s3cret-pass"
	const otelPassword = "otel-s3cret-pass"

	type tc struct {
		name string
		env  []string // name, value pairs
		args []string // after the command and --data
		want []string // in stderr, each
	}
	cases := map[string][]tc{
		"serve": {
			{"boolean yes! in the environment", []string{"LEDGERDESK_SECURE_COOKIES", "yes!"}, nil,
				[]string{"LEDGERDESK_SECURE_COOKIES", "--secure-cookies", `"yes!"`, "true or false"}},
			{"boolean flag maybe", nil, []string{"--secure-cookies=maybe"}, []string{"--secure-cookies", "LEDGERDESK_SECURE_COOKIES", "true or false"}},
			{"boolean flag given a separate word", nil, []string{"--secure-cookies", "yes"}, []string{`unexpected argument "yes"`}},
			{"boolean 2", []string{"LEDGERDESK_NO_DEMO_DATA", "2"}, nil, []string{"LEDGERDESK_NO_DEMO_DATA", "--no-demo-data"}},
			{"boolean enabled", []string{"LEDGERDESK_WEBHOOK_ALLOW_PRIVATE", "enabled"}, nil, []string{"LEDGERDESK_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private"}},
			{"migrate=sure", nil, []string{"--migrate=sure"}, []string{"--migrate", "true or false"}},
			{"negative idle timeout", nil, []string{"--idle-timeout", "-5m"}, []string{"--idle-timeout", "LEDGERDESK_IDLE_TIMEOUT", "at least 2m"}},
			{"idle timeout under a minute", []string{"LEDGERDESK_IDLE_TIMEOUT", "30s"}, nil, []string{"LEDGERDESK_IDLE_TIMEOUT", "--idle-timeout", "at least 2m"}},
			{"idle timeout of 90s", nil, []string{"--idle-timeout", "90s"}, []string{"--idle-timeout", "at least 2m"}},
			{"idle timeout of zero", nil, []string{"--idle-timeout", "0"}, []string{"--idle-timeout", "at least 2m"}},
			{"idle timeout without a unit", []string{"LEDGERDESK_IDLE_TIMEOUT", "30"}, nil, []string{"LEDGERDESK_IDLE_TIMEOUT", "--idle-timeout", "duration"}},
			{"idle longer than absolute", nil, []string{"--idle-timeout", "13h"}, []string{"--idle-timeout", "must not exceed", "--absolute-timeout", "LEDGERDESK_ABSOLUTE_TIMEOUT"}},
			{"absolute shorter than idle", []string{"LEDGERDESK_ABSOLUTE_TIMEOUT", "20m"}, nil, []string{"--idle-timeout", "must not exceed", "LEDGERDESK_ABSOLUTE_TIMEOUT"}},
			{"absolute timeout of zero", nil, []string{"--absolute-timeout", "0s"}, []string{"--absolute-timeout", "LEDGERDESK_ABSOLUTE_TIMEOUT", "at least 2m"}},
			{"a bad variable under a good flag", []string{"LEDGERDESK_IDLE_TIMEOUT", "half an hour"}, []string{"--idle-timeout", "30m"}, []string{"LEDGERDESK_IDLE_TIMEOUT", "--idle-timeout"}},
			{"negative checkpoint interval", []string{"LEDGERDESK_AUDIT_CHECKPOINT_EVERY", "-1h"}, nil, []string{"LEDGERDESK_AUDIT_CHECKPOINT_EVERY", "--audit-checkpoint-every", "0 or more"}},
			{"checkpoint interval soon", nil, []string{"--audit-checkpoint-every", "soon"}, []string{"--audit-checkpoint-every", "duration"}},
			{"public URL ftp", nil, []string{"--public-url", "ftp://ledgerdesk.example.com"}, []string{"--public-url", "LEDGERDESK_PUBLIC_URL", "https://"}},
			{"public URL without scheme", []string{"LEDGERDESK_PUBLIC_URL", "ledgerdesk.example.com"}, nil, []string{"LEDGERDESK_PUBLIC_URL", "--public-url"}},
			{"public URL without host", nil, []string{"--public-url", "https://"}, []string{"--public-url"}},
			{"public URL with a query", nil, []string{"--public-url", "https://ledgerdesk.example.com/?next=/"}, []string{"--public-url"}},
			{"public URL with credentials", nil, []string{"--public-url", "https://a:b@ledgerdesk.example.com"}, []string{"--public-url"}},
			{"SMTP URL over http", nil, []string{"--smtp-url", "http://mail.example.com", "--mail-from", "noreply@example.com"}, []string{"--smtp-url", "LEDGERDESK_SMTP_URL", "smtp://"}},
			{"SMTP URL without From", []string{"LEDGERDESK_SMTP_URL", "smtp://mailer:" + smtpPassword + "@127.0.0.1:2525"}, nil, []string{"LEDGERDESK_SMTP_URL", "--mail-from", "LEDGERDESK_MAIL_FROM"}},
			{"SMTP URL with an unknown tls option", nil, []string{"--smtp-url", "smtp://mail.example.com?tls=yes", "--mail-from", "noreply@example.com"}, []string{"--smtp-url", "tls=none"}},
			{"SMTP password in clear to another machine", nil, []string{"--smtp-url", "smtp://mailer:" + smtpPassword + "@mail.example.com?tls=none", "--mail-from", "noreply@example.com"}, []string{"--smtp-url", "in clear"}},
			{"mail From not an address", []string{"LEDGERDESK_MAIL_FROM", "Ledgerdesk"}, []string{"--smtp-url", "smtp://mail.example.com"}, []string{"--mail-from", "LEDGERDESK_MAIL_FROM"}},
			{"SMTP CA file without SMTP", nil, []string{"--smtp-ca-file", notPEM}, []string{"--smtp-ca-file", "LEDGERDESK_SMTP_CA_FILE", "--smtp-url"}},
			{"SMTP CA file missing", nil, []string{"--smtp-url", "smtp://mail.example.com", "--mail-from", "noreply@example.com", "--smtp-ca-file", missing}, []string{"--smtp-ca-file", "missing.pem"}},
			{"SMTP CA file without a certificate", nil, []string{"--smtp-url", "smtp://mail.example.com", "--mail-from", "noreply@example.com", "--smtp-ca-file", notPEM}, []string{"--smtp-ca-file", "no PEM certificate"}},
			{"database URL of another engine", []string{"DATABASE_URL", "mysql://ledgerdesk:" + pgPassword + "@db.example.com/ledgerdesk"}, nil, []string{"DATABASE_URL", "--database-url", "postgres://"}},
			{"database URL with a bad port", nil, []string{"--database-url", "postgres://ledgerdesk:" + pgPassword + "@db.example.com:99999/ledgerdesk"}, []string{"--database-url", "DATABASE_URL", "invalid port"}},
			{"database URL with a bad sslmode", nil, []string{"--database-url", "postgres://ledgerdesk:" + pgPassword + "@db.example.com/ledgerdesk?sslmode=sometimes"}, []string{"--database-url", "sslmode"}},
			{"replicas with the embedded database", []string{"DATABASE_REPLICA_URLS", "postgres://ledgerdesk:" + pgPassword + "@replica.example.com/ledgerdesk"}, nil,
				[]string{"DATABASE_REPLICA_URLS", "--database-replica-urls", "need PostgreSQL", "--database-url (DATABASE_URL)"}},
			{"replica URL with a bad port", nil, []string{"--database-url", "postgres://db.example.com/ledgerdesk", "--database-replica-urls", "postgres://db.example.com/ledgerdesk,postgres://ledgerdesk:" + pgPassword + "@replica.example.com:99999/ledgerdesk"},
				[]string{"--database-replica-urls", "DATABASE_REPLICA_URLS", "URL 2", "invalid port"}},
			{"replica URL of another engine", []string{"DATABASE_URL", "postgres://db.example.com/ledgerdesk", "DATABASE_REPLICA_URLS", "mysql://ledgerdesk:" + pgPassword + "@replica.example.com/ledgerdesk"}, nil,
				[]string{"DATABASE_REPLICA_URLS", "--database-replica-urls", "URL 1", "postgres://"}},
			{"replica lag bound too small", nil, []string{"--replica-max-lag", "10ms"}, []string{"--replica-max-lag", "LEDGERDESK_REPLICA_MAX_LAG", "at least 100ms"}},
			{"listen without a port", []string{"LISTEN", "8080"}, nil, []string{"LISTEN", "--listen", "host:port"}},
			{"listen on port 99999", nil, []string{"--listen", "127.0.0.1:99999"}, []string{"--listen", "host:port"}},
			{"metrics on the portal's address", nil, []string{"--listen", "127.0.0.1:8181", "--metrics-listen", "127.0.0.1:8181"},
				[]string{"--metrics-listen", "LEDGERDESK_METRICS_LISTEN", "--listen (LISTEN)", "never served on the portal's port"}},
			{"metrics on the portal's port on all addresses", []string{"LEDGERDESK_METRICS_LISTEN", ":8080"}, nil,
				[]string{"LEDGERDESK_METRICS_LISTEN", `"127.0.0.1:8080"`, "portal's port"}},
			{"metrics on the port LISTEN names", []string{"LISTEN", "0.0.0.0:9464"}, []string{"--metrics-listen", "127.0.0.1:9464"},
				[]string{"--metrics-listen", "LISTEN", "portal's port"}},
			{"metrics listen without a port", nil, []string{"--metrics-listen", "9464"}, []string{"--metrics-listen", "LEDGERDESK_METRICS_LISTEN", "host:port"}},
			{"unknown environment", []string{"LEDGERDESK_ENVIRONMENT", "staging"}, nil, []string{"LEDGERDESK_ENVIRONMENT", "--environment", "sandbox, development or production"}},
			{"admin email not an address", nil, []string{"--admin-email", "root"}, []string{"--admin-email", "LEDGERDESK_ADMIN_EMAIL", "name@example.com"}},
			{"TLS certificate without key", nil, []string{"--tls-cert", notPEM}, []string{"--tls-cert", "--tls-key", "LEDGERDESK_TLS_KEY", "go together"}},
			{"TLS files that are not PEM", nil, []string{"--tls-cert", notPEM, "--tls-key", notPEM}, []string{"--tls-cert", "--tls-key", "PEM"}},
			{"empty data directory", nil, []string{"--data="}, []string{"--data", "LEDGERDESK_DATA", "empty"}},
			{"an argument that is no flag", nil, []string{"now"}, []string{`unexpected argument "now"`}},
			{"session key not hex", []string{"LEDGERDESK_SESSION_KEY", "not-hex"}, nil, []string{"LEDGERDESK_SESSION_KEY", "hex"}},
			{"field key of 40 bytes", []string{"LEDGERDESK_FIELD_KEY", strings.Repeat("ab", 40)}, nil, []string{"LEDGERDESK_FIELD_KEY", "32 bytes"}},
			{"log level verbose", nil, []string{"--log-level", "verbose"}, []string{"--log-level", "LEDGERDESK_LOG_LEVEL", "debug, info, warn or error"}},
			{"log format xml", []string{"LEDGERDESK_LOG_FORMAT", "xml"}, nil, []string{"LEDGERDESK_LOG_FORMAT", "--log-format", "json or text"}},
			{"negative slow query", nil, []string{"--slow-query", "-1s"}, []string{"--slow-query", "LEDGERDESK_SLOW_QUERY", "0 or more"}},
			{"slow query without a unit", []string{"LEDGERDESK_SLOW_QUERY", "500"}, nil, []string{"LEDGERDESK_SLOW_QUERY", "--slow-query", "duration"}},
			{"traces to zipkin", []string{"OTEL_TRACES_EXPORTER", "zipkin"}, nil, []string{"OTEL_TRACES_EXPORTER", `"zipkin"`, "otlp", "none"}},
			{"traces over gRPC", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil,
				[]string{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}},
			{"OTLP endpoint without a scheme", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}, nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://"}},
			{"OTLP endpoint with a password", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://otel:" + otelPassword + "@collector.example.com/v1/traces"}, nil,
				[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS"}},
			{"unknown sampler", []string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", "sometimes"}, nil, []string{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}},
			{"sampler ratio above 1", []string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"}, nil,
				[]string{"OTEL_TRACES_SAMPLER_ARG", "0 to 1"}},
			{"SDK disabled maybe", []string{"OTEL_SDK_DISABLED", "maybe", "OTEL_TRACES_EXPORTER", "otlp"}, nil, []string{"OTEL_SDK_DISABLED", "true or false"}},
			{"old field key of 40 bytes", []string{"LEDGERDESK_FIELD_KEYS_OLD", strings.Repeat("cd", 32) + "," + strings.Repeat("ab", 40)}, nil, []string{"LEDGERDESK_FIELD_KEYS_OLD", "32 bytes"}},
		},
		"migrate": {
			{"database URL of another engine", []string{"DATABASE_URL", "sqlite://ledgerdesk.db"}, nil, []string{"DATABASE_URL", "--database-url"}},
			{"an argument that is no flag", nil, []string{"up"}, []string{`unexpected argument "up"`}},
		},
		"admin create": {
			{"unknown role", nil, []string{"--email", "a@example.com", "--role", "superuser"}, []string{"--role", `unknown role "superuser"`, "admin, compliance or auditor"}},
			{"no email", nil, []string{"--role", "auditor"}, []string{"--email is required"}},
			{"email not an address", nil, []string{"--email", "someone"}, []string{"--email", "name@example.com"}},
			{"database URL not PostgreSQL", []string{"DATABASE_URL", "http://db.example.com"}, []string{"--email", "a@example.com"}, []string{"DATABASE_URL"}},
		},
		"audit verify": {
			{"checkpoint without its key", nil, []string{"--checkpoint", notPEM}, []string{"--checkpoint and --public-key go together"}},
			{"checkpoint file missing", nil, []string{"--checkpoint", missing, "--public-key", "AAAA"}, []string{"--checkpoint", "missing.pem"}},
			{"checkpoint file not a checkpoint", nil, []string{"--checkpoint", notPEM, "--public-key", "AAAA"}, []string{"--checkpoint"}},
		},
		"audit checkpoint": {
			{"signing key not a seed", []string{"LEDGERDESK_AUDIT_SIGNING_KEY", "abc"}, nil, []string{"LEDGERDESK_AUDIT_SIGNING_KEY", "Ed25519"}},
		},
		"seed": {
			{"negative users", nil, []string{"--users", "-5"}, []string{"--users", "whole number from 1"}},
			{"users not a number", nil, []string{"--users", "many"}, []string{"--users", "whole number"}},
			{"zero users", nil, []string{"--users", "0"}, []string{"--users"}},
			{"no users", nil, nil, []string{"--users is required", "ledgerdesk seed --users N"}},
			{"negative seed", nil, []string{"--users", "5", "--seed", "-1"}, []string{"--seed", "whole number"}},
			{"unknown environment", nil, []string{"--users", "5", "--environment", "prod"}, []string{"--environment", "LEDGERDESK_ENVIRONMENT"}},
			{"field key too short", []string{"LEDGERDESK_FIELD_KEY", "abcd"}, []string{"--users", "5"}, []string{"LEDGERDESK_FIELD_KEY", "32 bytes"}},
		},
		"bench": {
			{"on the embedded database", nil, nil, []string{"run on PostgreSQL", "--database-url", "DATABASE_URL"}},
			{"no requests", []string{"DATABASE_URL", "postgres://127.0.0.1:1/none"}, []string{"--requests", "0"}, []string{"--requests", "whole number from 1"}},
			{"explain perhaps", []string{"DATABASE_URL", "postgres://127.0.0.1:1/none"}, []string{"--explain=perhaps"}, []string{"--explain", "true or false"}},
		},
		"bench api": {
			{"no clients", []string{"DATABASE_URL", "postgres://127.0.0.1:1/none"}, []string{"--clients", "0"}, []string{"--clients", "whole number from 1"}},
			{"on the embedded database", nil, nil, []string{"run on PostgreSQL"}},
		},
		"bench audit": {
			{"negative entries", []string{"DATABASE_URL", "postgres://127.0.0.1:1/none"}, []string{"--entries", "-5"}, []string{"--entries", "whole number from 1"}},
		},
	}
	for command, list := range cases {
		for _, c := range list {
			t.Run(command+"/"+c.name, func(t *testing.T) {
				data := filepath.Join(t.TempDir(), "data")
				args := append(strings.Fields(command), "--data", data)
				r := ledgerdesk(t, env(c.env...), append(args, c.args...)...)
				if r.code != 2 {
					t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
				for _, want := range c.want {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("the message does not say %q:\n%s", want, r.stderr)
					}
				}
				for _, secret := range []string{pgPassword, smtpPassword, otelPassword} {
					if strings.Contains(r.stdout+r.stderr, secret) {
						t.Errorf("a password from a URL was printed:\n%s", r.stderr)
					}
				}
				if _, err := os.Stat(data); err == nil {
					t.Errorf("the data directory was created before the settings were checked")
				}
				if r.stdout != "" {
					t.Errorf("stdout %q, want nothing", r.stdout)
				}
			})
		}
	}
}

func TestCLI_HelpListsEverySettingAndExits0(t *testing.T) {
	r := ledgerdesk(t, env(), "serve", "-h")
	if r.code != 0 {
		t.Fatalf("serve -h exited %d", r.code)
	}
	for _, want := range []string{"--idle-timeout duration", "env LEDGERDESK_IDLE_TIMEOUT", "default 30m0s", "--secure-cookies[=true|false]", "--smtp-url URL",
		"--log-level level", "--log-format format", "--slow-query duration", "default 500ms"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("serve -h does not show %q:\n%s", want, r.stderr)
		}
	}
}

func TestParseBool_WordsMeanWhatTheySay(t *testing.T) {
	for v, want := range map[string]bool{
		"1": true, "t": true, "T": true, "true": true, "TRUE": true, "True": true, "yes": true, "Yes": true, "on": true, "ON": true,
		"0": false, "f": false, "F": false, "false": false, "FALSE": false, "no": false, "NO": false, "off": false, "Off": false,
	} {
		if got, err := parseBool(v); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "yes!", "2", "enabled", "y", "n", " true", "true "} {
		if _, err := parseBool(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// Booleans in the environment mean what they say, and an empty variable is
// unset; mail in clear is announced at start.
func TestServe_BooleanWordsAndTheWarningForMailInClear(t *testing.T) {
	get := func(t *testing.T, url string) *http.Response {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	on := startServe(t, env("LEDGERDESK_SECURE_COOKIES", "yes", "LEDGERDESK_NO_DEMO_DATA", "on"), "--data", t.TempDir())
	if get(t, on.URL).Header.Get("Strict-Transport-Security") == "" {
		t.Error("LEDGERDESK_SECURE_COOKIES=yes did not turn secure cookies (and HSTS) on")
	}
	if strings.Contains(on.stdout.String(), "demo end users") {
		t.Error("LEDGERDESK_NO_DEMO_DATA=on still added demo data")
	}
	if strings.Contains(on.stderr.String(), "without TLS") {
		t.Error("a warning about mail in clear without an SMTP server")
	}
	on.stop(t)

	srv := mailtest.Start(t)
	off := startServe(t, env("LEDGERDESK_SECURE_COOKIES", "off", "LEDGERDESK_NO_DEMO_DATA", "yes", "LEDGERDESK_WEBHOOK_ALLOW_PRIVATE", "",
		"LEDGERDESK_SMTP_URL", "smtp://mailer:s3cret-pass@"+srv.Addr+"?tls=none", "LEDGERDESK_MAIL_FROM", "noreply@example.com"),
		"--data", t.TempDir())
	if get(t, off.URL).Header.Get("Strict-Transport-Security") != "" {
		t.Error("LEDGERDESK_SECURE_COOKIES=off turned HSTS on")
	}
	logged := off.stderr.String()
	if !strings.Contains(logged, "without TLS") || !strings.Contains(logged, srv.Addr) {
		t.Errorf("no warning that invitation mail goes in clear:\n%s", logged)
	}
	if strings.Contains(logged, "s3cret-pass") {
		t.Error("the SMTP password was logged")
	}
}
