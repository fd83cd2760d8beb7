package mail_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"ledgerdesk/web/mail"
	"ledgerdesk/web/mail/mailtest"
)

func TestSMTP_DeliversAPlainTextMessage(t *testing.T) {
	srv := mailtest.Start(t)
	s, err := mail.Parse(srv.URL(), "Ledgerdesk <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), mail.Message{To: "new@example.com", Subject: "You are invited", Body: "Open\nhttps://example.com/invite/abc\n.dot line"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].To != "new@example.com" || got[0].From != "noreply@example.com" {
		t.Fatalf("delivered %+v", got)
	}
	for _, want := range []string{"Subject: You are invited\r\n", "To: new@example.com\r\n", "\r\nhttps://example.com/invite/abc\r\n", "\r\n.dot line\r\n"} {
		if !strings.Contains(got[0].Data, want) {
			t.Errorf("message lacks %q:\n%s", want, got[0].Data)
		}
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
	for _, u := range []string{"", "http://mail.example.com", "smtp://", "mail.example.com:25"} {
		if _, err := mail.Parse(u, "noreply@example.com"); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := mail.Parse("smtp://mail.example.com", "not an address"); err == nil {
		t.Error("a bad From accepted")
	}
}
