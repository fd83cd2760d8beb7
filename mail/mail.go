// Package mail sends the portal's few emails (invitations) over SMTP with
// the standard library's net/smtp.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Message is a plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender delivers messages. The portal has one when SMTP is configured.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through one SMTP server. The URL says how the connection is
// protected:
//
//	smtp://user:pass@host:587           STARTTLS, required: a server that does not
//	                                    offer it gets nothing, not even the sender
//	smtps://user:pass@host:465          TLS from the first byte
//	smtp://host:25?tls=none             no TLS: every byte in clear, for a relay on
//	                                    this machine or a network the operator trusts
//
// The server's certificate is verified against the system's roots (or
// RootCAs) and the URL's host name. Credentials never go in clear to
// another machine.
type SMTP struct {
	addr     string
	host     string
	security security
	user     string
	password string
	from     string // the From header, perhaps with a name
	// envelopeFrom is the bare address the server is given.
	envelopeFrom string
	// RootCAs, when set, are the only authorities trusted to sign the
	// server's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Timeout bounds the whole exchange, so a dead server cannot hold an
	// admin's request.
	Timeout time.Duration
}

type security int

const (
	startTLS security = iota
	implicitTLS
	noTLS
)

const urlForms = "smtp://user:password@host:587 (STARTTLS), smtps://user:password@host:465 (TLS) or smtp://host:25?tls=none (no TLS)"

// Parse reads an SMTP URL and the From address. Its errors never quote the
// URL, which may hold a password.
func Parse(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") ||
		(u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, errors.New("the SMTP URL must look like " + urlForms)
	}
	sender, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	s := &SMTP{host: u.Hostname(), from: from, envelopeFrom: sender.Address, Timeout: 15 * time.Second}
	if u.Scheme == "smtps" {
		s.security = implicitTLS
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("the SMTP URL's query does not parse")
	}
	for key, values := range q {
		option := key + "=" + strings.Join(values, ",")
		switch {
		case u.Scheme == "smtp" && option == "tls=none":
			s.security = noTLS
		case u.Scheme == "smtp" && option == "tls=starttls":
		default:
			return nil, errors.New("the SMTP URL's one option is tls=none (smtp:// without TLS) or tls=starttls (the default of smtp://)")
		}
	}
	port := u.Port()
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
		return nil, errors.New("the SMTP URL's port must be a number from 1 to 65535")
	}
	if port == "" {
		port = "587"
		if s.security == implicitTLS {
			port = "465"
		}
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if s.security == noTLS && s.user != "" && !loopback(s.host) {
		return nil, errors.New("the SMTP URL has credentials and tls=none: they would cross the network in clear (use STARTTLS or smtps://)")
	}
	return s, nil
}

// CheckFrom says whether from can be the From of the portal's mail: an
// address, perhaps with a name (Ledgerdesk <noreply@example.com>).
func CheckFrom(from string) error {
	_, err := parseFrom(from)
	return err
}

func parseFrom(from string) (*mail.Address, error) {
	sender, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return nil, errors.New("the mail From address is not a valid address, e.g. Ledgerdesk <noreply@example.com>")
	}
	return sender, nil
}

// loopback reports whether host is this machine, the only place net/smtp
// sends credentials to without TLS.
func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Insecure reports whether messages go in clear (tls=none).
func (s *SMTP) Insecure() bool { return s.security == noTLS }

// Addr is the server's host and port.
func (s *SMTP) Addr() string { return s.addr }

// From is the sender address.
func (s *SMTP) From() string { return s.from }

// Send delivers m, or says why it could not.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return errors.New("mail: line breaks in a header")
	}
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if s.security == implicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("connect to the mail server: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("mail server greeting: %w", err)
	}
	defer c.Close()
	if s.security == startTLS {
		// Nothing but EHLO goes before TLS: whoever strips STARTTLS from
		// the server's answer learns neither the sender nor the link.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the mail server does not offer STARTTLS, so nothing was sent: " +
				"mail goes over TLS unless the SMTP URL says tls=none")
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("mail server STARTTLS: %w", err)
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return fmt.Errorf("mail server sign-in: %w", err)
		}
	}
	if err := c.Mail(s.envelopeFrom); err != nil {
		return fmt.Errorf("mail server refused the sender: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail server refused the recipient: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail server DATA: %w", err)
	}
	if _, err := w.Write(compose(s.from, s.messageID(), time.Now(), m)); err != nil {
		return fmt.Errorf("send the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail server refused the message: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
}

// messageID is a new, unguessable Message-ID in the sender's domain.
func (s *SMTP) messageID() string {
	return "<" + rand.Text() + "@" + s.envelopeFrom[strings.LastIndex(s.envelopeFrom, "@")+1:] + ">"
}

// compose writes the message with CRLF line ends, as SMTP wants them.
func compose(from, messageID string, now time.Time, m Message) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}
