package mail_test

import (
	"context"
	"encoding/base64"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"

	"ledgerdesk/mail"
	"ledgerdesk/mail/mailtest"
)

const link = "https://ledgerdesk.example.com/invite/7QJ2c1f0-secret-token"

func invitation() mail.Message {
	return mail.Message{To: "new@example.com", Subject: "You are invited", Body: "Open\n" + link + "\n.dot line"}
}

// plainCredentials is what AUTH PLAIN puts on the wire for user:password.
func plainCredentials(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
}

func TestSMTP_DeliversAPlainTextMessage(t *testing.T) {
	srv := mailtest.StartTLS(t)
	s, err := mail.Parse(srv.URL(), "Ledgerdesk <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = srv.RootCAs()
	if err := s.Send(context.Background(), invitation()); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].To != "new@example.com" || got[0].From != "noreply@example.com" {
		t.Fatalf("delivered %+v", got)
	}
	for _, want := range []string{"Subject: You are invited\r\n", "To: new@example.com\r\n", "\r\n" + link + "\r\n", "\r\n.dot line\r\n"} {
		if !strings.Contains(got[0].Data, want) {
			t.Errorf("message lacks %q:\n%s", want, got[0].Data)
		}
	}
}

func TestSMTP_ServerWithoutSTARTTLSGetsNothing(t *testing.T) {
	// What a man in the middle makes of a server that offers STARTTLS:
	// the offer stripped from its answer.
	srv := mailtest.Start(t)
	for _, u := range []string{"smtp://" + srv.Addr, "smtp://mailer:s3cret-pass@" + srv.Addr, "smtp://" + srv.Addr + "?tls=starttls"} {
		s, err := mail.Parse(u, "noreply@example.com")
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), invitation())
		if err == nil {
			t.Fatalf("%s: sent without TLS", u)
		}
		if !strings.Contains(err.Error(), "does not offer STARTTLS") || !strings.Contains(err.Error(), "tls=none") {
			t.Errorf("%s: error %q does not say why nor how to allow it", u, err)
		}
	}
	if got := srv.Messages(); len(got) != 0 {
		t.Fatalf("delivered %+v", got)
	}
	wire := srv.Wire()
	if !strings.Contains(wire, "EHLO") {
		t.Fatalf("the client never reached the server: %q", wire)
	}
	for _, secret := range []string{link, "invite/", "new@example.com", "noreply@example.com", "s3cret-pass", plainCredentials("mailer", "s3cret-pass"), "AUTH"} {
		if strings.Contains(wire, secret) {
			t.Errorf("%q went over the wire in clear:\n%s", secret, wire)
		}
	}
}

func TestSMTP_STARTTLSWithATrustedCertificateKeepsTheMessageOffTheWire(t *testing.T) {
	srv := mailtest.StartTLS(t)
	s, err := mail.Parse("smtp://mailer:s3cret-pass@"+srv.Addr, "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = srv.RootCAs()
	if err := s.Send(context.Background(), invitation()); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || !got[0].TLS || got[0].User != "mailer" || !strings.Contains(got[0].Data, link) {
		t.Fatalf("delivered %+v", got)
	}
	wire := srv.Wire()
	if !strings.Contains(wire, "STARTTLS") {
		t.Fatalf("no STARTTLS on the wire: %q", wire)
	}
	for _, secret := range []string{link, "new@example.com", plainCredentials("mailer", "s3cret-pass")} {
		if strings.Contains(wire, secret) {
			t.Errorf("%q went over the wire in clear", secret)
		}
	}
}

func TestSMTP_RefusesACertificateItDoesNotTrust(t *testing.T) {
	for name, srv := range map[string]*mailtest.Server{"starttls": mailtest.StartTLS(t), "smtps": mailtest.StartSMTPS(t)} {
		t.Run(name, func(t *testing.T) {
			// The system's roots do not know the server's self-signed certificate.
			s, err := mail.Parse(srv.URL(), "noreply@example.com")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), invitation())
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("an untrusted certificate: %v", err)
			}
			if len(srv.Messages()) != 0 || strings.Contains(srv.Wire(), link) {
				t.Fatal("the message reached a server whose certificate is not trusted")
			}
		})
	}
}

func TestSMTP_SMTPSWithATrustedCertificate(t *testing.T) {
	srv := mailtest.StartSMTPS(t)
	s, err := mail.Parse(srv.URL(), "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs = srv.RootCAs()
	if err := s.Send(context.Background(), invitation()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || !got[0].TLS || strings.Contains(srv.Wire(), link) {
		t.Fatalf("delivered %+v", got)
	}
}

func TestSMTP_TLSNoneSendsInClearWhenAskedTo(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.Parse("smtp://"+srv.Addr+"?tls=none", "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Insecure() {
		t.Fatal("tls=none is not reported as insecure")
	}
	if err := s.Send(context.Background(), invitation()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || got[0].TLS || !strings.Contains(srv.Wire(), link) {
		t.Fatalf("delivered %+v", got)
	}
	for _, u := range []string{"smtp://mail.example.com", "smtps://mail.example.com", "smtp://mail.example.com?tls=starttls"} {
		if s, err := mail.Parse(u, "noreply@example.com"); err != nil || s.Insecure() {
			t.Errorf("%s: insecure or refused (%v)", u, err)
		}
	}
}

var messageID = regexp.MustCompile(`^<[A-Za-z0-9]{20,}@example\.com>$`)

func TestSMTP_EveryMessageHasADateAndItsOwnMessageID(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.Parse(srv.URL(), "Ledgerdesk <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Send(context.Background(), invitation()); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for _, got := range srv.Messages() {
		msg, err := netmail.ReadMessage(strings.NewReader(got.Data))
		if err != nil {
			t.Fatalf("the message does not parse: %v\n%s", err, got.Data)
		}
		if _, err := msg.Header.Date(); err != nil || len(msg.Header["Date"]) != 1 {
			t.Errorf("Date %q: %v", msg.Header["Date"], err)
		}
		if v := msg.Header["Message-Id"]; len(v) != 1 || !messageID.MatchString(v[0]) {
			t.Errorf("Message-ID %q, want one <random@example.com>", v)
		}
		ids[msg.Header.Get("Message-Id")] = true
	}
	if len(ids) != 2 {
		t.Fatalf("two messages share a Message-ID: %v", ids)
	}
}

func TestSMTP_RefusesHeaderInjectionAndReportsAnUnreachableServer(t *testing.T) {
	srv := mailtest.Start(t)
	s, _ := mail.Parse(srv.URL(), "noreply@example.com")
	if err := s.Send(context.Background(), mail.Message{To: "a@example.com\r\nBcc: b@example.com", Subject: "x"}); err == nil {
		t.Fatal("a recipient with a line break was sent")
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("something was delivered")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	s, _ = mail.Parse("smtp://"+dead, "noreply@example.com")
	if err := s.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "x", Body: "y"}); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func TestParse_RefusesWhatIsNotAnSMTPURL(t *testing.T) {
	for _, u := range []string{
		"", "http://mail.example.com", "smtp://", "mail.example.com:25", "smtp:mail.example.com",
		"smtp://mail.example.com:0", "smtp://mail.example.com:70000", "smtp://mail.example.com/path",
		"smtp://mail.example.com?tls=yes", "smtp://mail.example.com?tls=none&tls=none", "smtp://mail.example.com?insecure=1",
		"smtps://mail.example.com?tls=none", "smtps://mail.example.com?tls=starttls",
		// Credentials would cross the network in clear.
		"smtp://mailer:s3cret-pass@mail.example.com?tls=none",
	} {
		_, err := mail.Parse(u, "noreply@example.com")
		if err == nil {
			t.Errorf("%q accepted", u)
		} else if strings.Contains(err.Error(), "s3cret-pass") {
			t.Errorf("%q: the error quotes the password: %v", u, err)
		}
	}
	if _, err := mail.Parse("smtp://mail.example.com", "not an address"); err == nil {
		t.Error("a bad From accepted")
	}
	// To this machine, net/smtp sends credentials without TLS.
	for _, u := range []string{"smtp://mailer:pw@127.0.0.1:25?tls=none", "smtp://mailer:pw@localhost?tls=none", "smtp://mailer:pw@[::1]:25?tls=none"} {
		if _, err := mail.Parse(u, "noreply@example.com"); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
}
