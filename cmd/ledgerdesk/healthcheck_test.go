package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ledgerdesk/version"
)

func TestHealthcheck_ServeUpExits0AndNamesItsVersion(t *testing.T) {
	s := startServe(t, env(), "--data", t.TempDir(), "--no-demo-data")
	r := ledgerdesk(t, env("LISTEN", s.Addr), "healthcheck")
	if r.code != 0 {
		t.Fatalf("healthcheck exited %d: %s", r.code, r.stderr)
	}
	want := "healthy: http://" + s.Addr + "/healthz (ledgerdesk " + version.Get().Version + ")\n"
	if r.stdout != want {
		t.Fatalf("stdout %q, want %q", r.stdout, want)
	}

	// Stopped, it is unhealthy.
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	r = ledgerdesk(t, env(), "healthcheck", "--listen", s.Addr)
	if r.code != 1 || !strings.Contains(r.stderr, "unhealthy: http://"+s.Addr+"/healthz") {
		t.Fatalf("healthcheck of a stopped serve: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestHealthcheck_AnythingButItsHealthExits1(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		handler    http.HandlerFunc
	}{
		{"an error", "answered 503", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}},
		{"a redirect", "answered 302", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		}},
		{"not JSON", "not its health", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("ok"))
		}},
		{"another status", `status "starting"`, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"starting"}`))
		}},
		{"an endless body", "not its health", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"ok","version":{"version":"`))
			w.Write([]byte(strings.Repeat("v", 1<<20)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			r := ledgerdesk(t, env(), "healthcheck", "--listen", srv.Listener.Addr().String())
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestHealthcheck_NoTerminalControlFromTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","version":{"version":"v1\u001b]0;owned\u0007"}}`))
	}))
	defer srv.Close()
	r := ledgerdesk(t, env(), "healthcheck", "--listen", srv.Listener.Addr().String())
	if r.code != 0 || strings.ContainsAny(r.stdout, "\x1b\x07") || !strings.Contains(r.stdout, "(ledgerdesk v1]0;owned)") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// tlsServer serves h over TLS with a self-signed certificate of its own
// (httptest's servers would all share one).
func tlsServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "ledgerdesk.example.com"},
		DNSNames:     []string{"ledgerdesk.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writeCertPEM writes the certificate a TLS test server presents.
func writeCertPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cert.pem")
	der := srv.TLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestHealthcheck_OverTLSAcceptsOnlyServesCertificate(t *testing.T) {
	healthy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","version":{"version":"v9.9.9"}}`))
	})
	srv := tlsServer(t, healthy)
	other := tlsServer(t, healthy)
	addr := srv.Listener.Addr().String()

	r := ledgerdesk(t, env("LEDGERDESK_TLS_CERT", writeCertPEM(t, srv)), "healthcheck", "--listen", addr)
	if r.code != 0 || r.stdout != "healthy: https://"+addr+"/healthz (ledgerdesk v9.9.9)\n" {
		t.Fatalf("with serve's certificate: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = ledgerdesk(t, env("LEDGERDESK_TLS_CERT", writeCertPEM(t, other)), "healthcheck", "--listen", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "not the one in --tls-cert") {
		t.Fatalf("with another certificate: exit %d, stderr %q", r.code, r.stderr)
	}
	// Plain HTTP to a TLS port is unhealthy, not a hang.
	r = ledgerdesk(t, env(), "healthcheck", "--listen", addr, "--timeout", "2s")
	if r.code != 1 {
		t.Fatalf("plain HTTP to TLS: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestHealthcheck_WrongSettingsExit2(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(notPEM, []byte("not a certificate\x00"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "8080"}, "--listen (LISTEN)"},
		{[]string{"--listen", "127.0.0.1:0"}, "port 0"},
		{[]string{"--tls-cert", notPEM}, "no PEM certificate"},
		{[]string{"--tls-cert", filepath.Join(t.TempDir(), "missing.pem")}, "--tls-cert (LEDGERDESK_TLS_CERT)"},
		{[]string{"--timeout", "1ms"}, "--timeout"},
	} {
		r := ledgerdesk(t, env(), append([]string{"healthcheck"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("healthcheck %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestHealthURL_AsksAWildcardListenerOnLoopback(t *testing.T) {
	for listen, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/healthz",
		"[::]:8080":      "http://[::1]:8080/healthz",
		"127.0.0.1:9000": "http://127.0.0.1:9000/healthz",
		"[::1]:9000":     "http://[::1]:9000/healthz",
		"localhost:8080": "http://localhost:8080/healthz",
	} {
		got, err := healthURL(listen, false)
		if err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	if got, _ := healthURL(":8443", true); got != "https://127.0.0.1:8443/healthz" {
		t.Errorf("over TLS: %q", got)
	}
}
