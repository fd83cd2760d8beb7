package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// mfaClock is the clock the app checks TOTP codes against; tests step it
// instead of sleeping.
type mfaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mfaClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Step moves to the next 30-second TOTP step.
func (c *mfaClock) Step() {
	c.mu.Lock()
	c.t = c.t.Add(30 * time.Second)
	c.mu.Unlock()
}

func newMFAClock(h *webtest.Harness) *mfaClock {
	c := &mfaClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	h.DB.SetClock(c.Now)
	return c
}

// code is what the member's authenticator app shows now.
func (c *mfaClock) code(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, c.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolThroughPages sets up two-step sign-in the way a member does: start
// with the password, read the secret off the page, confirm with a code.
// An admin made to enrol at sign-in is not asked for the password again:
// pass "" and the page must not ask. It returns the secret and the
// recovery codes the page showed.
// enrolled is a member signed in on c who has set up two-step sign-in
// through the pages, with the harness and clock that checked the codes.
type enrolled struct {
	h      *webtest.Harness
	clock  *mfaClock
	m      *models.TeamMember
	pw     string
	c      *webtest.Client
	secret string
	codes  []string
}

// signInEnrolled makes a member of role, signs them in and enrols them.
func signInEnrolled(t *testing.T, db *models.DB, role models.Role) enrolled {
	t.Helper()
	e := enrolled{h: webtest.New(t, db)}
	e.clock = newMFAClock(e.h)
	e.m, e.pw = e.h.Member(t, role)
	e.c = e.h.Client(t)
	e.c.Login(e.m.EmailAddress, e.pw)
	e.secret, e.codes = enrolThroughPages(t, e.c, e.clock, e.pw)
	return e
}

func enrolThroughPages(t *testing.T, c *webtest.Client, clock *mfaClock, password string) (string, []string) {
	t.Helper()
	secret := startSetupThroughPages(t, c, password)
	done := c.Post("/account/mfa/confirm", url.Values{"code": {clock.code(t, secret)}})
	wantStatus(t, done, http.StatusOK)
	var codes []string
	byTestID(done.Doc, "recovery-code").Each(func(_ int, s *goquery.Selection) {
		codes = append(codes, strings.TrimSpace(s.Text()))
	})
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10:\n%s", len(codes), done.Body)
	}
	for _, rc := range codes {
		webtest.Sensitive(rc)
	}
	return secret, codes
}

// startSetupThroughPages starts the setup from the account page and
// returns the secret the page shows, not yet confirmed.
func startSetupThroughPages(t *testing.T, c *webtest.Client, password string) string {
	t.Helper()
	start := c.Get("/account/mfa")
	wantStatus(t, start, http.StatusOK)
	if byTestID(start.Doc, "mfa-start").Length() != 1 {
		t.Fatalf("no way to start the setup:\n%s", start.Body)
	}
	asks := byTestID(start.Doc, "mfa-start-form").Find(`input[name="password"][type="password"]`).Length() == 1
	if asks != (password != "") {
		t.Fatalf("the setup asks for the password: %v, want %v:\n%s", asks, password != "", start.Body)
	}
	form := url.Values{}
	if password != "" {
		form.Set("password", password)
	}
	wantRedirect(t, c.Post("/account/mfa/setup", form), "/account/mfa")
	page := c.Get("/account/mfa")
	wantStatus(t, page, http.StatusOK)
	secret := strings.ReplaceAll(strings.TrimSpace(byTestID(page.Doc, "mfa-secret").Text()), " ", "")
	if len(secret) != 32 {
		t.Fatalf("the page shows the secret %q, want 32 base32 characters", secret)
	}
	webtest.Sensitive(secret)
	return secret
}

// signInWithPassword signs the client in up to the code step, and opens
// the code page as a browser would (it carries the form's CSRF token).
func signInWithPassword(t *testing.T, c *webtest.Client, email, password string) {
	t.Helper()
	c.Login(email, password)
	wantRedirect(t, c.Get("/"), "/login/mfa")
	wantStatus(t, c.Get("/login/mfa"), http.StatusOK)
}

// navLinks counts the navigation's links: none until sign-in completes.
func navLinks(r *webtest.Response) int { return byTestID(r.Doc, "nav").Find("a").Length() }

func TestAccountMFA_EnrolmentShowsAQRCodeAndTheSecretAndConfirmsWithACode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)

		account := c.Get("/account")
		if href, _ := byTestID(account.Doc, "account-mfa-link").Attr("href"); href != "/account/mfa" {
			t.Fatalf("the account page links to %q for two-step sign-in", href)
		}
		wantRedirect(t, c.Post("/account/mfa/setup", url.Values{"password": {pw}}), "/account/mfa")
		page := c.Get("/account/mfa")
		secret := strings.ReplaceAll(byTestID(page.Doc, "mfa-secret").Text(), " ", "")
		webtest.Sensitive(secret)

		// The QR code is a PNG in a data: URI, which the page's CSP allows.
		src, _ := byTestID(page.Doc, "mfa-qr").Attr("src")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
		if !strings.HasPrefix(src, "data:image/png;base64,") || err != nil {
			t.Fatalf("QR code src %.40q…: %v", src, err)
		}
		if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 200 {
			t.Fatalf("QR code is not a 200px PNG: %v", err)
		}
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") {
			t.Fatalf("CSP %q does not allow data: images", csp)
		}
		if cc := page.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("the page holding the secret is cacheable: Cache-Control %q", cc)
		}

		// A wrong code: 422, the message beside the field, the QR still there.
		clock.Step()
		wrong := c.Post("/account/mfa/confirm", url.Values{"code": {"000000"}})
		wantStatus(t, wrong, http.StatusUnprocessableEntity)
		if byTestID(wrong.Doc, "error-code").Length() != 1 || byTestID(wrong.Doc, "mfa-qr").Length() != 1 {
			t.Fatalf("wrong code page lacks the error or the QR code:\n%s", wrong.Body)
		}
		if on, _ := db.MFAEnabled(context.Background(), m.ID); on {
			t.Fatal("a wrong code turned it on")
		}

		// The right code, sent by htmx: the fragment with the recovery codes.
		done := c.Post("/account/mfa/confirm", url.Values{"code": {clock.code(t, secret)}}, webtest.HTMX...)
		wantStatus(t, done, http.StatusOK)
		if !isFragment(done.Body) || byTestID(done.Doc, "recovery-code").Length() != 10 {
			t.Fatalf("confirm by htmx: want a fragment with 10 recovery codes:\n%s", done.Body)
		}
		byTestID(done.Doc, "recovery-code").Each(func(_ int, s *goquery.Selection) { webtest.Sensitive(s.Text()) })
		if on, _ := db.MFAEnabled(context.Background(), m.ID); !on {
			t.Fatal("not on after the right code")
		}
		var stored string
		db.Gorm().Raw(`SELECT secret_cipher FROM member_mfa WHERE member_id = ?`, m.ID).Scan(&stored)
		if stored == "" || strings.Contains(stored, secret) {
			t.Fatalf("the secret is stored as %q", stored)
		}

		// Shown once: the page now tells the state, not the codes.
		after := c.Get("/account/mfa")
		if byTestID(after.Doc, "recovery-code").Length() != 0 || byTestID(after.Doc, "mfa-secret").Length() != 0 {
			t.Fatal("the recovery codes or the secret show again")
		}
		if got := byTestID(after.Doc, "recovery-codes-left").Text(); !strings.HasPrefix(got, "10 of 10") {
			t.Fatalf("recovery codes left: %q", got)
		}
		if n := len(auditEntries(t, db, "auth.mfa_enrol")); n != 1 {
			t.Fatalf("%d auth.mfa_enrol entries", n)
		}
	})
}

func TestLoginMFA_OnceEnabledEverySignInAsksForTheCode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleAdmin)
		clock, m, pw, c, secret := e.clock, e.m, e.pw, e.c, e.secret
		c.Post("/logout", nil)

		c.Login(m.EmailAddress, pw)
		before := c.Cookies[sessionCookieName]
		wantRedirect(t, c.Get("/users"), "/login/mfa?next=%2Fusers")
		ask := c.Get("/login/mfa?next=%2Fusers")
		wantStatus(t, ask, http.StatusOK)
		if byTestID(ask.Doc, "login-mfa-form").Length() != 1 || navLinks(ask) != 0 {
			t.Fatalf("the code page: want the form and no navigation:\n%s", ask.Body)
		}
		if got := byTestID(ask.Doc, "mfa-email").Text(); got != m.EmailAddress {
			t.Fatalf("the code page names %q", got)
		}

		wrong := c.Post("/login/mfa", url.Values{"code": {"000000"}, "next": {"/users"}})
		wantStatus(t, wrong, http.StatusUnauthorized)
		if got := byTestID(wrong.Doc, "error-code").Text(); !strings.Contains(got, "not right") {
			t.Fatalf("wrong code message %q", got)
		}
		if got := len(auditEntries(t, db, "auth.mfa_failed")); got != 1 {
			t.Fatalf("%d auth.mfa_failed entries", got)
		}

		clock.Step()
		ok := c.Post("/login/mfa", url.Values{"code": {clock.code(t, secret)}, "next": {"/users"}})
		wantRedirect(t, ok, "/users")
		if after := c.Cookies[sessionCookieName]; after == "" || after == before {
			t.Fatal("completing sign-in kept the session id")
		}
		rows := sessionRowsOf(t, db, m.ID)
		if len(rows) != 1 || rows[0].MFAStage != models.SignedIn {
			t.Fatalf("sessions after the code: %+v", rows)
		}
		users := c.Get("/users")
		wantStatus(t, users, http.StatusOK)
		if navLinks(users) == 0 {
			t.Fatal("no navigation once signed in")
		}
		logins := auditEntries(t, db, "auth.login")
		if f := logins[len(logins)-1].DecodeDiff().After["factor"]; f != "totp" {
			t.Fatalf("auth.login records factor %v", f)
		}
		// Signed in, the code step sends the member on.
		wantRedirect(t, c.Get("/login/mfa"), "/")
	})
}

func TestLoginMFA_ACodeCannotBeReplayed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleAuditor)
		h, clock, m, pw, c, secret := e.h, e.clock, e.m, e.pw, e.c, e.secret
		c.Post("/logout", nil)

		clock.Step()
		code := clock.code(t, secret)
		signInWithPassword(t, c, m.EmailAddress, pw)
		wantRedirect(t, c.Post("/login/mfa", url.Values{"code": {code}}), "/")
		c.Post("/logout", nil)

		// Someone who watched the code typed tries it again.
		other := h.Client(t)
		signInWithPassword(t, other, m.EmailAddress, pw)
		replay := other.Post("/login/mfa", url.Values{"code": {code}})
		wantStatus(t, replay, http.StatusUnauthorized)
		if got := byTestID(replay.Doc, "error-code").Text(); !strings.Contains(got, "already used") {
			t.Fatalf("replayed code message %q", got)
		}
		wantRedirect(t, other.Get("/"), "/login/mfa")
		reasons := auditEntries(t, db, "auth.mfa_failed")
		if len(reasons) != 1 || reasons[0].DecodeDiff().After["reason"] != "replayed" {
			t.Fatalf("auth.mfa_failed entries: %+v", reasons)
		}
	})
}

func TestLoginMFA_RecoveryCodesWorkOnceEach(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleCompliance)
		m, pw, c, codes := e.m, e.pw, e.c, e.codes
		c.Post("/logout", nil)

		signInWithPassword(t, c, m.EmailAddress, pw)
		wantRedirect(t, c.Post("/login/mfa", url.Values{"code": {strings.ToLower(codes[0])}}), "/")
		wantStatus(t, c.Get("/"), http.StatusOK)
		if n := len(auditEntries(t, db, "auth.recovery_code_used")); n != 1 {
			t.Fatalf("%d auth.recovery_code_used entries", n)
		}
		if got := byTestID(c.Get("/account/mfa").Doc, "recovery-codes-left").Text(); !strings.HasPrefix(got, "9 of 10") {
			t.Fatalf("recovery codes left: %q", got)
		}
		c.Post("/logout", nil)

		signInWithPassword(t, c, m.EmailAddress, pw)
		again := c.Post("/login/mfa", url.Values{"code": {codes[0]}})
		wantStatus(t, again, http.StatusUnauthorized)
		if got := byTestID(again.Doc, "error-code").Text(); !strings.Contains(got, "already used") {
			t.Fatalf("second use of a recovery code: %q", got)
		}
		wantRedirect(t, c.Post("/login/mfa", url.Values{"code": {codes[1]}}), "/")
	})
}

func TestLoginMFA_ThrottledAfterFiveWrongCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleAdmin)
		clock, m, pw, c, secret := e.clock, e.m, e.pw, e.c, e.secret
		c.Post("/logout", nil)

		signInWithPassword(t, c, m.EmailAddress, pw)
		for i := 0; i < 5; i++ {
			wantStatus(t, c.Post("/login/mfa", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		}
		clock.Step()
		r := c.Post("/login/mfa", url.Values{"code": {clock.code(t, secret)}})
		wantStatus(t, r, http.StatusTooManyRequests)
		if got := byTestID(r.Doc, "error-code").Text(); !strings.Contains(got, "Try again in") {
			t.Fatalf("throttled message %q", got)
		}
		wantRedirect(t, c.Get("/"), "/login/mfa")
	})
}

func TestAccountMFA_DisableTakesACurrentCode(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleAuditor)
		clock, m, pw, c, secret := e.clock, e.m, e.pw, e.c, e.secret

		for _, typed := range []string{pw, "123456", ""} {
			r := c.Post("/account/mfa/disable", url.Values{"disable_code": {typed}})
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if byTestID(r.Doc, "error-disable_code").Length() != 1 {
				t.Fatalf("disable with %q: no message beside the field:\n%s", typed, r.Body)
			}
		}
		if on, _ := db.MFAEnabled(context.Background(), m.ID); !on {
			t.Fatal("turned off without a code")
		}
		clock.Step()
		wantRedirect(t, c.Post("/account/mfa/disable", url.Values{"disable_code": {clock.code(t, secret)}}), "/account/mfa")
		page := c.Get("/account/mfa")
		if !strings.Contains(byTestID(page.Doc, "flash").Text(), "Two-step sign-in is off") || byTestID(page.Doc, "mfa-start").Length() != 1 {
			t.Fatalf("after disabling:\n%s", page.Body)
		}
		if n := len(auditEntries(t, db, "auth.mfa_disable")); n != 1 {
			t.Fatalf("%d auth.mfa_disable entries", n)
		}
		c.Post("/logout", nil)
		c.Login(m.EmailAddress, pw)
		wantStatus(t, c.Get("/"), http.StatusOK)
	})
}

func TestAccountMFA_RegenerateRecoveryCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleCompliance)
		clock, m, pw, c, secret, old := e.clock, e.m, e.pw, e.c, e.secret, e.codes

		wrong := c.Post("/account/mfa/recovery-codes", url.Values{"regenerate_code": {"000000"}})
		wantStatus(t, wrong, http.StatusUnprocessableEntity)
		if byTestID(wrong.Doc, "error-regenerate_code").Length() != 1 {
			t.Fatalf("no message beside the field:\n%s", wrong.Body)
		}
		clock.Step()
		r := c.Post("/account/mfa/recovery-codes", url.Values{"regenerate_code": {clock.code(t, secret)}})
		wantStatus(t, r, http.StatusOK)
		var fresh []string
		byTestID(r.Doc, "recovery-code").Each(func(_ int, s *goquery.Selection) {
			fresh = append(fresh, s.Text())
			webtest.Sensitive(s.Text())
		})
		if len(fresh) != 10 || fresh[0] == old[0] {
			t.Fatalf("regenerated codes: %v", fresh)
		}
		c.Post("/logout", nil)
		signInWithPassword(t, c, m.EmailAddress, pw)
		wantStatus(t, c.Post("/login/mfa", url.Values{"code": {old[0]}}), http.StatusUnauthorized)
		wantRedirect(t, c.Post("/login/mfa", url.Values{"code": {fresh[0]}}), "/")
	})
}

func TestSettings_MandatoryMFASendsAnAdminToEnrolmentFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		boss, _ := h.SignIn(t, models.RoleAdmin)

		form := boss.Get("/settings")
		if _, checked := byTestID(form.Doc, "mfa-required-for-admins").Attr("checked"); checked {
			t.Fatal("mandatory MFA is on by default")
		}
		wantRedirect(t, boss.Post("/settings", url.Values{"mfa_required_for_admins": {"on"}}), "/settings")
		saved := boss.Get("/settings")
		if _, checked := byTestID(saved.Doc, "mfa-required-for-admins").Attr("checked"); !checked {
			t.Fatal("the setting did not stick")
		}
		if byTestID(saved.Doc, "settings-self-without-mfa").Length() != 1 {
			t.Fatal("the admin is not told they will have to enrol too")
		}
		ups := auditEntries(t, db, "settings.update")
		if len(ups) != 1 || ups[0].DecodeDiff().After["mfa_required_for_admins"] != true {
			t.Fatalf("settings.update entries: %+v", ups)
		}

		// A compliance reviewer signs in as before.
		reviewer, _ := h.SignIn(t, models.RoleCompliance)
		wantStatus(t, reviewer.Get("/"), http.StatusOK)

		// An admin without MFA reaches only the setup.
		admin, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Login(admin.EmailAddress, pw)
		wantRedirect(t, c.Get("/"), "/account/mfa")
		wantRedirect(t, c.Get("/users"), "/account/mfa?next=%2Fusers")
		wantRedirect(t, c.Get("/account"), "/account/mfa")
		page := c.Get("/account/mfa")
		wantStatus(t, page, http.StatusOK)
		if byTestID(page.Doc, "mfa-required").Length() != 1 || navLinks(page) != 0 {
			t.Fatalf("the setup page for an admin who must enrol:\n%s", page.Body)
		}
		before := c.Cookies[sessionCookieName]
		secret, _ := enrolThroughPages(t, c, clock, "")
		if c.Cookies[sessionCookieName] == before {
			t.Fatal("enrolling completed the sign-in under the same session id")
		}
		wantStatus(t, c.Get("/users"), http.StatusOK)
		if rows := sessionRowsOf(t, db, admin.ID); len(rows) != 1 || rows[0].MFAStage != models.SignedIn {
			t.Fatalf("sessions after enrolling: %+v", rows)
		}

		// Required, it cannot be turned off.
		mfa := c.Get("/account/mfa")
		if byTestID(mfa.Doc, "mfa-must-keep").Length() != 1 || byTestID(mfa.Doc, "mfa-disable-form").Length() != 0 {
			t.Fatal("an admin is offered to turn off required two-step sign-in")
		}
		clock.Step()
		refused := c.Post("/account/mfa/disable", url.Values{"disable_code": {clock.code(t, secret)}})
		wantStatus(t, refused, http.StatusUnprocessableEntity)
		if on, _ := db.MFAEnabled(context.Background(), admin.ID); !on {
			t.Fatal("required two-step sign-in was turned off")
		}
	})
}

func TestLoginMFA_CancelSignsOut(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		e := signInEnrolled(t, db, models.RoleAuditor)
		m, pw, c := e.m, e.pw, e.c
		c.Post("/logout", nil)

		signInWithPassword(t, c, m.EmailAddress, pw)
		c.Get("/login/mfa")
		wantRedirect(t, c.Post("/logout", nil), "/login?signed_out=1")
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d sessions after cancelling the code step", n)
		}
		wantRedirect(t, c.Get("/login/mfa"), "/login")
	})
}

func TestSettings_AChangeOnOneProcessHoldsOnTheOthersAtOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// Two portal processes on one database.
		a, b := webtest.New(t, db), webtest.New(t, db)
		newMFAClock(a)
		boss, _ := a.SignIn(t, models.RoleAdmin)
		admin, pw := b.Member(t, models.RoleAdmin)

		wantRedirect(t, boss.Post("/settings", url.Values{"mfa_required_for_admins": {"on"}}), "/settings")
		// Settings are read from the database at every use, never kept in
		// a process: the next sign-in on the other process applies it.
		other := b.Client(t)
		other.Login(admin.EmailAddress, pw)
		wantRedirect(t, other.Get("/users"), "/account/mfa?next=%2Fusers")
	})
}
