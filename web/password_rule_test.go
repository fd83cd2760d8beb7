package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// guessablePasswords are refused wherever a password is chosen; email is
// the member's address.
func guessablePasswords(email string) []string {
	local, _, _ := strings.Cut(email, "@")
	pws := []string{"password1234", "aaaaaaaaaaaa", "qwertyuiopasdf", "Password12345",
		local + "2024", local + "12345", "ledgerdesk2026!"}
	for _, pw := range pws {
		webtest.Sensitive(pw)
	}
	return append(pws, email)
}

// wantRefusedBesideField checks a 422 with the rule's message and advice
// beside field, the input marked invalid and pointing at both, and no
// password echoed into the form.
func wantRefusedBesideField(t *testing.T, r *webtest.Response, field, typed, wantMessage string) {
	t.Helper()
	wantStatus(t, r, http.StatusUnprocessableEntity)
	box := byTestID(r.Doc, "field-"+field)
	msg := box.Find(`[data-testid="error-` + field + `"]`)
	advice := box.Find(`[data-testid="advice-` + field + `"] li`)
	if msg.Length() != 1 || strings.TrimSpace(msg.Text()) == "" || !strings.Contains(msg.Text(), wantMessage) {
		t.Errorf("%q: message beside %s %q, want one containing %q", typed, field, msg.Text(), wantMessage)
	}
	if advice.Length() == 0 || strings.TrimSpace(advice.First().Text()) == "" {
		t.Errorf("%q: no advice beside %s:\n%s", typed, field, box.Text())
	}
	in := box.Find(`input[name="` + field + `"]`)
	if v, _ := in.Attr("aria-invalid"); v != "true" {
		t.Errorf("%q: input %s not marked invalid", typed, field)
	}
	if d, _ := in.Attr("aria-describedby"); !strings.Contains(d, "f-"+field+"-error") || !strings.Contains(d, "f-"+field+"-advice") {
		t.Errorf("%q: aria-describedby %q", typed, d)
	}
	r.Doc.Find(`input[type="password"]`).Each(func(_ int, s *goquery.Selection) {
		if v := s.AttrOr("value", ""); v != "" {
			t.Errorf("%q: a password input echoes %q", typed, v)
		}
	})
}

func TestPasswordRule_AccountRefusesGuessablePasswordsWithAdviceBesideTheField(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/account")
		for _, bad := range guessablePasswords(m.EmailAddress) {
			r := c.Post("/account/password", url.Values{"current": {pw}, "new": {bad}, "confirm": {bad}})
			wantRefusedBesideField(t, r, "new", bad, "")
			r = c.Post("/account/password", url.Values{"current": {pw}, "new": {bad}, "confirm": {bad}}, webtest.HTMX...)
			wantRefusedBesideField(t, r, "new", bad, "")
			if !isFragment(r.Body) {
				t.Fatalf("htmx got the whole page:\n%s", r.Body)
			}
		}
		for _, c2 := range []struct{ name, pw, want string }{
			{"over the length bound", strings.Repeat("correct horse ", 10), "at most 128 bytes"},
			// Just under the app's 1 MiB body limit, which refuses more
			// before any handler runs.
			{"900 KB", strings.Repeat("correcthorse", 75000), "at most 128 bytes"},
			{"a NUL byte", "violet anchor\x00tramway 42", "cannot be used"},
			{"invalid UTF-8", "violet anchor \xff tramway 42", "cannot be used"},
		} {
			r := c.Post("/account/password", url.Values{"current": {pw}, "new": {c2.pw}})
			wantRefusedBesideField(t, r, "new", c2.name, c2.want)
		}
		if n := len(auditEntries(t, db, "auth.password_change")); n != 0 {
			t.Fatalf("%d auth.password_change entries after refused changes", n)
		}

		strong := "violet anchor tramway 42"
		r := c.Post("/account/password", url.Values{"current": {pw}, "new": {strong}, "confirm": {strong}})
		wantRedirect(t, r, "/account")
	})
}

func TestPasswordRule_InvitationRefusesGuessablePasswordsWithAdviceBesideTheField(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		email := "sam.rivera@example.org"
		link, _ := inviteLink(t, admin, email, models.RoleCompliance)
		visitor := h.Client(t)
		wantStatus(t, visitor.Get(link), http.StatusOK)
		for _, bad := range guessablePasswords(email) {
			r := visitor.Post(link, url.Values{"password": {bad}, "confirm": {bad}})
			wantRefusedBesideField(t, r, "password", bad, "")
		}
		r := visitor.Post(link, url.Values{"password": {"samrivera1990"}, "confirm": {"samrivera1990"}})
		wantRefusedBesideField(t, r, "password", "samrivera1990", "email address")
		long := strings.Repeat("x", models.MaxPasswordBytes+1)
		r = visitor.Post(link, url.Values{"password": {long}, "confirm": {long}})
		wantRefusedBesideField(t, r, "password", "129 bytes", "at most 128 bytes")
		if n := len(auditEntries(t, db, "team.accept")); n != 0 {
			t.Fatalf("%d team.accept entries after refused passwords", n)
		}

		strong := "lantern " + models.RandomToken(9)
		webtest.Sensitive(strong)
		r = visitor.Post(link, url.Values{"password": {strong}, "confirm": {strong}})
		wantRedirect(t, r, "/login?welcome=1")
	})
}
