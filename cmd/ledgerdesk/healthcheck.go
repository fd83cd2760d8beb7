package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"
)

// healthcheck asks the serve process on this host for /healthz and exits
// 0 when it answers that it is up, 1 otherwise: a container image without
// a shell or curl runs it as its HEALTHCHECK. It reads the same LISTEN and
// LEDGERDESK_TLS_CERT as serve, so one environment serves both.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("healthcheck", getenv, stderr)
	listen := s.String("listen", "LISTEN", "127.0.0.1:8080",
		"the `host:port` serve listens on; a wildcard host (:8080, 0.0.0.0, [::]) is asked on loopback", checkListen)
	tlsCert := s.String("tls-cert", "LEDGERDESK_TLS_CERT", "",
		"serve's TLS certificate `file` (PEM): ask over HTTPS and accept only this certificate", nil)
	timeout := s.Duration("timeout", "", 5*time.Second, 100*time.Millisecond, "give up after this long")
	var target string
	var pinned []*x509.Certificate
	s.check(func() string {
		var err error
		if target, err = healthURL(*listen, *tlsCert != ""); err != nil {
			return fmt.Sprintf("%s: %v", s.label("listen"), err)
		}
		if *tlsCert != "" {
			if pinned, err = readCertificates(*tlsCert); err != nil {
				return fmt.Sprintf("%s: %v", s.label("tls-cert"), err)
			}
		}
		return ""
	})
	if err := s.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	version, err := askHealth(ctx, target, pinned)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %s: %v\n", target, err)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "healthy: %s (ledgerdesk %s)\n", target, printable(version))
	return nil
}

// healthURL is /healthz at the address serve listens on, a wildcard host
// replaced by loopback.
func healthURL(listen string, useTLS bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port == "0" {
		return "", errors.New("port 0 lets serve pick any free port: give the port it listens on")
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// readCertificates reads every certificate of a PEM file.
func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}

// printable drops what a terminal would act on from text another process
// sent.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}

// maxHealthBody bounds what is read of an answer: /healthz's is tiny.
const maxHealthBody = 64 << 10

// askHealth GETs url and returns the version the portal names. Over TLS
// it accepts exactly the certificate serve was given: the certificate
// names the public host, not loopback, so the usual name check cannot
// apply, and pinning is stricter than it.
func askHealth(ctx context.Context, url string, pinned []*x509.Certificate) (string, error) {
	transport := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if len(pinned) > 0 {
		transport.TLSClientConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pin below
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					for _, c := range pinned {
						if bytes.Equal(c.Raw, cs.PeerCertificates[0].Raw) {
							return nil
						}
					}
				}
				return errors.New("the server's certificate is not the one in --tls-cert")
			},
		}
	}
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answered %s", resp.Status)
	}
	var h struct {
		Status  string `json:"status"`
		Version struct {
			Version string `json:"version"`
		} `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxHealthBody)).Decode(&h); err != nil {
		return "", fmt.Errorf("answered something that is not its health: %v", err)
	}
	if h.Status != "ok" {
		return "", fmt.Errorf("answered status %q", h.Status)
	}
	return h.Version.Version, nil
}
