// Package mailtest is an SMTP server on the loopback address that keeps
// what it receives, and every byte that crossed the wire, for tests of the
// mail the portal sends.
package mailtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Received is one message as the server got it.
type Received struct {
	From, To string
	Data     string // headers and body, dot-unstuffed
	// TLS says the message came over TLS (STARTTLS or smtps).
	TLS bool
	// User is the name the client signed in with, if it did.
	User string
}

// Server speaks just enough SMTP for net/smtp to deliver: EHLO, STARTTLS
// when it has a certificate, AUTH PLAIN (any password), MAIL, RCPT, DATA.
type Server struct {
	Addr     string
	ln       net.Listener
	tls      *tls.Config // nil: no TLS
	implicit bool        // TLS from the first byte
	roots    *x509.CertPool
	certPEM  []byte
	mu       sync.Mutex
	msgs     []Received
	wire     bytes.Buffer // what clients sent, as it crossed the network
	wg       sync.WaitGroup
}

// Start runs a server without TLS: it does not offer STARTTLS.
func Start(t testing.TB) *Server { return start(t, false, false) }

// StartTLS runs a server that offers STARTTLS with a self-signed
// certificate for 127.0.0.1; RootCAs trusts it.
func StartTLS(t testing.TB) *Server { return start(t, true, false) }

// StartSMTPS runs a server that speaks TLS from the first byte (smtps),
// with a self-signed certificate for 127.0.0.1.
func StartSMTPS(t testing.TB) *Server { return start(t, true, true) }

func start(t testing.TB, withTLS, implicit bool) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, implicit: implicit}
	if withTLS {
		cert, roots, err := selfSigned()
		if err != nil {
			t.Fatal(err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.roots = roots
		s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// URL is the portal's setting for this server: without TLS, it has to say
// tls=none.
func (s *Server) URL() string {
	switch {
	case s.implicit:
		return "smtps://" + s.Addr
	case s.tls != nil:
		return "smtp://" + s.Addr
	}
	return "smtp://" + s.Addr + "?tls=none"
}

// RootCAs trusts the server's certificate (nil without TLS).
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// CertPEM is the server's certificate, PEM encoded, as a CA file holds it.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Messages returns what was delivered so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wire returns every byte clients sent so far, as an eavesdropper on the
// network saw them: in clear before TLS, encrypted after.
func (s *Server) Wire() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wire.String()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(time.Minute))
			s.serve(&tappedConn{Conn: conn, s: s})
		}()
	}
}

// tappedConn records what the client sends.
type tappedConn struct {
	net.Conn
	s *Server
}

func (c *tappedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.mu.Lock()
	c.s.wire.Write(p[:n])
	c.s.mu.Unlock()
	return n, err
}

func (s *Server) serve(conn net.Conn) {
	secure := false
	if s.implicit {
		tc := tls.Server(conn, s.tls)
		if tc.Handshake() != nil {
			return
		}
		conn, secure = tc, true
	}
	c := textproto.NewConn(conn)
	reply := func(line string) bool { return c.PrintfLine("%s", line) == nil }
	if !reply("220 mailtest ESMTP") {
		return
	}
	var cur Received
	user := ""
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			if s.tls != nil && !secure {
				reply("250-mailtest")
				reply("250-AUTH PLAIN")
				reply("250 STARTTLS")
			} else {
				reply("250-mailtest")
				reply("250 AUTH PLAIN")
			}
		case "STARTTLS":
			if s.tls == nil || secure {
				reply("502 not offered")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			c = textproto.NewConn(conn)
			cur, user = Received{}, ""
		case "AUTH":
			user = plainUser(line)
			reply("235 signed in")
		case "MAIL":
			cur = Received{From: addr(line), TLS: secure, User: user}
			reply("250 OK")
		case "RCPT":
			cur.To = addr(line)
			reply("250 OK")
		case "DATA":
			reply("354 end with .")
			b, rerr := readDot(c.Reader.R)
			if rerr != nil {
				return
			}
			cur.Data = b
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("250 OK")
		}
	}
}

// plainUser reads the name from "AUTH PLAIN base64(authzid NUL user NUL password)".
func plainUser(line string) string {
	f := strings.Fields(line)
	if len(f) != 3 {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		return ""
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

func readDot(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.String(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

func addr(line string) string {
	i, j := strings.Index(line, "<"), strings.Index(line, ">")
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
