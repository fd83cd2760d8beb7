package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/passkeytest"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// passkeyURL is the public URL the passkey tests' portal is reached at:
// its host is the relying party id, its origin the one answers must come
// from.
const passkeyURL = "https://ledgerdesk.test"

func passkeyHarness(t *testing.T, db *models.DB, opts ...func(*web.Config)) *webtest.Harness {
	return webtest.New(t, db, append([]func(*web.Config){func(c *web.Config) { c.PublicURL = passkeyURL }}, opts...)...)
}

func newPasskey(t *testing.T) *passkeytest.Authenticator {
	return passkeytest.New("ledgerdesk.test", passkeyURL)
}

// postJSON sends body as the passkey script does: JSON, the page's CSRF
// token in the header.
func postJSON(c *webtest.Client, path string, body []byte) *webtest.Response {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.CSRF)
	return c.Do(req)
}

// jsonAnswer decodes a passkey endpoint's JSON answer.
type jsonAnswer struct {
	Redirect string            `json:"redirect"`
	Error    string            `json:"error"`
	Fields   map[string]string `json:"fields"`
}

func decodeAnswer(t *testing.T, r *webtest.Response, status int) jsonAnswer {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want JSON", r.Request.URL, ct)
	}
	var a jsonAnswer
	if err := json.Unmarshal([]byte(r.Body), &a); err != nil {
		t.Fatalf("%s: %v\n%s", r.Request.URL, err, r.Body)
	}
	return a
}

// addPasskey registers a passkey on the account page as the script does,
// on a client signed in as a member whose password is pw.
func addPasskey(t *testing.T, c *webtest.Client, key *passkeytest.Authenticator, name, pw string) {
	t.Helper()
	page := c.Get("/account")
	wantStatus(t, page, http.StatusOK)
	if byTestID(page.Doc, "passkey-add-form").Length() != 1 {
		t.Fatalf("no form to add a passkey:\n%s", page.Body)
	}
	options := c.Post("/account/passkeys/options", url.Values{"name": {name}, "password": {pw}})
	wantStatus(t, options, http.StatusOK)
	if cc := options.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("options Cache-Control %q, want no-store", cc)
	}
	done := decodeAnswer(t, postJSON(c, "/account/passkeys", key.Register(t, []byte(options.Body))), http.StatusOK)
	if done.Redirect != "/account#passkeys" {
		t.Fatalf("after registering: %+v", done)
	}
}

// passkeySignIn signs a fresh browser in with key alone, from the login
// page, and returns the answer.
func passkeySignIn(t *testing.T, c *webtest.Client, key *passkeytest.Authenticator, next string) *webtest.Response {
	t.Helper()
	login := c.Get("/login")
	if byTestID(login.Doc, "login-passkey-button").Length() != 1 {
		t.Fatalf("the sign-in page offers no passkey:\n%s", login.Body)
	}
	options := postJSON(c, "/login/passkey/options", nil)
	wantStatus(t, options, http.StatusOK)
	return postJSON(c, "/login/passkey?next="+url.QueryEscape(next), key.Assert(t, []byte(options.Body)))
}

func TestAccountPasskeys_RegisterThenAskedAfterThePassword(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		page := c.Get("/account")
		if byTestID(page.Doc, "passkeys-none").Length() != 1 {
			t.Fatalf("a new member's passkeys:\n%s", page.Body)
		}
		key := newPasskey(t)
		addPasskey(t, c, key, "Work laptop", pw)

		page = c.Get("/account")
		names := byTestID(page.Doc, "passkey-name")
		if names.Length() != 1 || names.Text() != "Work laptop" || !strings.Contains(byTestID(page.Doc, "passkey-last-used").Text(), "never used") {
			t.Fatalf("the account page lists %q:\n%s", names.Text(), page.Body)
		}
		if !strings.Contains(page.Body, "Passkey “Work laptop” added.") {
			t.Fatal("no message says the passkey was added")
		}

		// Signed out, the password now leads to the passkey.
		wantRedirect(t, c.Post("/logout", nil), "/login")
		c.Login(m.EmailAddress, pw)
		mfa := c.Get("/login/mfa")
		wantStatus(t, mfa, http.StatusOK)
		if byTestID(mfa.Doc, "login-mfa-passkey-button").Length() != 1 || byTestID(mfa.Doc, "login-mfa-form").Length() != 0 {
			t.Fatalf("the second step offers the passkey and no code field (no app set up):\n%s", mfa.Body)
		}
		wantRedirect(t, c.Get("/"), "/login/mfa")
		options := postJSON(c, "/login/mfa/passkey/options", nil)
		wantStatus(t, options, http.StatusOK)
		done := decodeAnswer(t, postJSON(c, "/login/mfa/passkey?next=%2Faudit", key.Assert(t, []byte(options.Body))), http.StatusOK)
		if done.Redirect != "/audit" {
			t.Fatalf("after the passkey: %+v", done)
		}
		wantStatus(t, c.Get("/audit"), http.StatusOK)
		page = c.Get("/account")
		if strings.Contains(byTestID(page.Doc, "passkey-last-used").Text(), "never used") {
			t.Fatal("the passkey's last use is not shown")
		}
	})
}

func TestLoginPasskey_SignsInWithoutAPasswordOnceEach(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleAdmin)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		key := newPasskey(t)
		addPasskey(t, c, key, "Phone", pw)

		fresh := h.Client(t)
		login := fresh.Get("/login")
		if byTestID(login.Doc, "login-passkey-button").Length() != 1 {
			t.Fatalf("no passkey button:\n%s", login.Body)
		}
		options := postJSON(fresh, "/login/passkey/options", nil)
		wantStatus(t, options, http.StatusOK)
		answer := key.Assert(t, []byte(options.Body))
		done := decodeAnswer(t, postJSON(fresh, "/login/passkey?next=%2Fusers", answer), http.StatusOK)
		if done.Redirect != "/users" {
			t.Fatalf("after a password-less sign-in: %+v", done)
		}
		wantStatus(t, fresh.Get("/users"), http.StatusOK)

		// The same answer from another browser, with a challenge of its own.
		other := h.Client(t)
		other.Get("/login")
		wantStatus(t, postJSON(other, "/login/passkey/options", nil), http.StatusOK)
		refused := decodeAnswer(t, postJSON(other, "/login/passkey", answer), http.StatusUnauthorized)
		if refused.Error == "" {
			t.Fatal("no message for a replayed answer")
		}
		// And once more where it was answered: the challenge is spent.
		again := h.Client(t)
		again.Get("/login")
		decodeAnswer(t, postJSON(again, "/login/passkey", answer), http.StatusUnprocessableEntity)
		wantRedirect(t, other.Get("/users"), "/login")
		wantRedirect(t, again.Get("/users"), "/login")
	})
}

func TestLoginPasskey_AnswerFromAnotherOriginIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		key := newPasskey(t)
		addPasskey(t, c, key, "Key", pw)

		// A look-alike site relays the portal's challenge to the member.
		key.Origin = "https://ledgerdesk-test.example"
		fresh := h.Client(t)
		refused := decodeAnswer(t, passkeySignIn(t, fresh, key, "/"), http.StatusUnauthorized)
		if refused.Error == "" {
			t.Fatal("no message for a refused passkey")
		}
		wantRedirect(t, fresh.Get("/"), "/login")
		var n int64
		db.Gorm().Model(&models.AuditEntry{}).Where("action = ? AND diff LIKE ?", "auth.login_failed", "%passkey_wrong_origin%").Count(&n)
		if n != 1 {
			t.Fatalf("%d auth.login_failed entries for the wrong origin, want 1", n)
		}
	})
}

func TestAccountPasskeys_RemovalTakesThePasswordAndTheKeyStopsWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		key := newPasskey(t)
		addPasskey(t, c, key, "Old key", pw)
		keys, err := db.PasskeysOf(context.Background(), m.ID)
		if err != nil || len(keys) != 1 {
			t.Fatal(keys, err)
		}
		path := "/account/passkeys/" + strconv.FormatInt(keys[0].ID, 10) + "/remove"

		wrong := c.Post(path, url.Values{"password": {"not the password at all"}})
		wantStatus(t, wrong, http.StatusUnprocessableEntity)
		if msg := byTestID(wrong.Doc, "error-password").Text(); !strings.Contains(msg, "not your password") {
			t.Fatalf("beside the password: %q\n%s", msg, wrong.Body)
		}
		if byTestID(wrong.Doc, "passkey").Length() != 1 {
			t.Fatal("the refused removal removed the passkey from the page")
		}
		// Another member cannot remove it: for them it is not there.
		other, _ := h.SignIn(t, models.RoleAdmin)
		wantRedirect(t, other.Post(path, url.Values{"password": {"whatever it is"}}), "/account")
		if keys, _ := db.PasskeysOf(context.Background(), m.ID); len(keys) != 1 {
			t.Fatal("another member removed the passkey")
		}

		wantRedirect(t, c.Post(path, url.Values{"password": {pw}}), "/account")
		if page := c.Get("/account"); byTestID(page.Doc, "passkeys-none").Length() != 1 {
			t.Fatalf("the passkey is still listed:\n%s", page.Body)
		}
		decodeAnswer(t, passkeySignIn(t, h.Client(t), key, "/"), http.StatusUnauthorized)
	})
}

func TestTeamMFAReset_RemovesPasskeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		key := newPasskey(t)
		addPasskey(t, c, key, "Lost key", pw)

		admin, _ := h.SignIn(t, models.RoleAdmin)
		show := admin.Get("/team/" + m.ID)
		if byTestID(show.Doc, "member-mfa-reset").Length() != 1 {
			t.Fatalf("a member with a passkey offers no reset:\n%s", show.Body)
		}
		admin.Get("/team/" + m.ID + "/mfa-reset")
		wantRedirect(t, admin.Post("/team/"+m.ID+"/mfa-reset", nil), "/team/"+m.ID)
		wantRedirect(t, c.Get("/account"), "/login")
		decodeAnswer(t, passkeySignIn(t, h.Client(t), key, "/"), http.StatusUnauthorized)
		if keys, _ := db.PasskeysOf(context.Background(), m.ID); len(keys) != 0 {
			t.Fatalf("%d passkeys after the reset", len(keys))
		}
		// The password alone signs in again.
		fresh := h.Client(t)
		fresh.Login(m.EmailAddress, pw)
		wantStatus(t, fresh.Get("/"), http.StatusOK)
	})
}

func TestLoginPasskey_DeactivatedMemberIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		key := newPasskey(t)
		addPasskey(t, c, key, "Key", pw)
		if _, err := db.DeactivateMember(context.Background(), models.Origin{Actor: models.SystemActor}, m.ID); err != nil {
			t.Fatal(err)
		}
		fresh := h.Client(t)
		decodeAnswer(t, passkeySignIn(t, fresh, key, "/"), http.StatusUnauthorized)
		wantRedirect(t, fresh.Get("/"), "/login")
	})
}

func TestAccountPasskeys_BadInputIsRefusedBesideItsField(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		c.Get("/account")
		for _, tc := range []struct{ name, password, field string }{
			{"nul\x00byte", pw, "name"},
			{"bad \xff bytes", pw, "name"},
			{strings.Repeat("x", 1<<20/2), pw, "name"},
			{"", pw, "name"},
			{"Fine", "", "password"},
			{"Fine", "not the password", "password"},
		} {
			a := decodeAnswer(t, c.Post("/account/passkeys/options", url.Values{"name": {tc.name}, "password": {tc.password}}),
				http.StatusUnprocessableEntity)
			if a.Fields[tc.field] == "" {
				t.Errorf("name %.20q: no message beside %s: %+v", tc.name, tc.field, a)
			}
		}
		// An answer with no ceremony waiting, or of garbage, stores nothing.
		decodeAnswer(t, postJSON(c, "/account/passkeys", []byte(`{"id":"x"}`)), http.StatusUnprocessableEntity)
		if keys, _ := db.PasskeysOf(context.Background(), m.ID); len(keys) != 0 {
			t.Fatalf("%d passkeys after refusals", len(keys))
		}
		// A state change without the CSRF token is refused.
		req := httptest.NewRequest(http.MethodPost, "/account/passkeys", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		wantStatus(t, c.Do(req), http.StatusForbidden)
	})
}

func TestPasskeys_OffWithoutAPublicURL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c := h.Client(t)
		if login := c.Get("/login"); byTestID(login.Doc, "login-passkey").Length() != 0 {
			t.Fatal("the sign-in page offers passkeys without a public URL")
		}
		decodeAnswer(t, postJSON(c, "/login/passkey/options", nil), http.StatusNotFound)
		member, _ := h.SignIn(t, models.RoleAuditor)
		page := member.Get("/account")
		if byTestID(page.Doc, "passkeys-off").Length() != 1 || byTestID(page.Doc, "passkey-add-form").Length() != 0 {
			t.Fatalf("the account page does not say passkeys are off:\n%s", page.Body)
		}
	})
}

func TestLoginPasskey_OptionsAreLimitedPerAddress(t *testing.T) {
	db := testdb.SQLite(t)
	h := passkeyHarness(t, db, func(c *web.Config) { c.CredentialAttemptsPerMinute = 3 })
	c := h.Client(t)
	c.Get("/login")
	for range 3 {
		wantStatus(t, postJSON(c, "/login/passkey/options", nil), http.StatusOK)
	}
	wantStatus(t, postJSON(c, "/login/passkey/options", nil), http.StatusTooManyRequests)
}
