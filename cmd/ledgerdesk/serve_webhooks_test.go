package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/web/webtest"
	"ledgerdesk/webhooks"
)

// pageWithToken fetches a portal page and returns it parsed with its CSRF token.
func pageWithToken(t *testing.T, c *http.Client, u string) (*goquery.Document, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := doc.Find(`meta[name="csrf-token"]`).Attr("content")
	webtest.Sensitive(token)
	return doc, token
}

func TestServe_DeliversSignedWebhooksAndStopsCleanly(t *testing.T) {
	var mu sync.Mutex
	var secret string
	got := make(chan error, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		s := secret
		mu.Unlock()
		err := webhooks.Verify(s, r.Header, body, time.Minute, time.Now())
		if err == nil && r.Header.Get(webhooks.HeaderEventType) != "USER_CREATED" {
			err = io.ErrUnexpectedEOF
		}
		got <- err
	}))
	defer receiver.Close()

	s := startServe(t, env("LEDGERDESK_WEBHOOK_ALLOW_PRIVATE", "true"), "--data", t.TempDir(), "--no-demo-data")
	email, password := credentials(s.stdout.String())
	c := signIn(t, s.URL, email, password)

	_, token := pageWithToken(t, c, s.URL+"/webhooks/new")
	resp, err := c.PostForm(s.URL+"/webhooks", url.Values{"_csrf": {token}, "url": {receiver.URL + "/hook"},
		"events": {"USER_CREATED"}, "enabled": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create endpoint: %d, %v", resp.StatusCode, err)
	}
	mu.Lock()
	secret, _ = doc.Find(`[data-testid="webhook-secret"]`).Attr("value")
	webtest.Sensitive(secret)
	mu.Unlock()

	_, token = pageWithToken(t, c, s.URL+"/users/new")
	resp, err = c.PostForm(s.URL+"/users", url.Values{"_csrf": {token}, "client_user_id": {"serve-webhook-1"}, "country": {"US"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %d", resp.StatusCode)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the receiver could not verify the webhook: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook within 15s of creating a user")
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"webhook worker stopped"`) {
		t.Fatal("the webhook worker did not report stopping")
	}
}
