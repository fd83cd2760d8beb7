package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// wantPasswordFieldsEmpty fails if the form echoes any password back.
func wantPasswordFieldsEmpty(t *testing.T, r *webtest.Response) {
	t.Helper()
	inputs := r.Doc.Find(`[data-testid="password-form"] input[type="password"]`)
	if inputs.Length() != 3 {
		t.Fatalf("%d password inputs, want 3", inputs.Length())
	}
	for _, name := range []string{"current", "new", "confirm"} {
		in := r.Doc.Find(`input[name="` + name + `"]`)
		if v, _ := in.Attr("value"); v != "" {
			t.Fatalf("field %s echoes %q", name, v)
		}
	}
}

func TestAccountPasswordChange_ErrorsAre422BesideEachFieldWithPasswordsCleared(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, m := h.SignIn(t, models.RoleAuditor)
		c.Get("/account")
		wrong, short, other := typedPassword(), "short", typedPassword()

		for _, tc := range []struct {
			name    string
			headers []string
		}{
			{"plain form", nil},
			{"htmx", webtest.HTMX},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.Post("/account/password", url.Values{"current": {wrong}, "new": {short}, "confirm": {other}}, tc.headers...)
				wantStatus(t, r, http.StatusUnprocessableEntity)
				for field, msg := range map[string]string{
					"current": "That is not your current password.",
					"new":     "Use at least 12 characters.",
					"confirm": "The two new passwords do not match.",
				} {
					got := r.Doc.Find(`[data-testid="field-` + field + `"] [data-testid="error-` + field + `"]`)
					if got.Length() != 1 || got.Text() != msg {
						t.Errorf("error beside %s: %q (found %d), want %q", field, got.Text(), got.Length(), msg)
					}
					in := r.Doc.Find(`[data-testid="field-` + field + `"] input[name="` + field + `"]`)
					if v, _ := in.Attr("aria-invalid"); v != "true" {
						t.Errorf("input %s not marked invalid", field)
					}
				}
				wantPasswordFieldsEmpty(t, r)
				for _, typed := range []string{wrong, other} {
					if strings.Contains(r.Body, typed) {
						t.Fatal("the page echoes a typed password")
					}
				}
				fragment := isFragment(r.Body)
				if tc.headers == nil && fragment {
					t.Fatalf("a plain form post got a fragment:\n%s", r.Body)
				}
				if tc.headers != nil {
					if !fragment {
						t.Fatalf("htmx got the whole page:\n%s", r.Body)
					}
					if form := r.Doc.Find("body > form#password-form"); form.Length() != 1 || r.Doc.Find("body").Children().Length() != 1 {
						t.Fatalf("the htmx answer is not the form alone:\n%s", r.Body)
					}
				}
			})
		}
		if n := len(auditEntries(t, db, "auth.password_change")); n != 0 {
			t.Fatalf("%d auth.password_change entries after refused changes", n)
		}
		// Still signed in, with the old password.
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows, want 1", n)
		}
	})
}

func TestAccountPasswordChange_EndsTheMembersOtherSessionsAndKeepsThisOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, old := h.Member(t, models.RoleAdmin)
		here := h.Client(t)
		here.Login(m.EmailAddress, old)
		elsewhere := h.Client(t)
		elsewhere.Login(m.EmailAddress, old)
		wantStatus(t, elsewhere.Get("/"), http.StatusOK)
		bystander, _ := h.SignIn(t, models.RoleAdmin)

		here.Get("/account")
		next := "new-" + models.RandomToken(12)
		webtest.Sensitive(next)
		r := here.Post("/account/password", url.Values{"current": {old}, "new": {next}, "confirm": {next}})
		wantRedirect(t, r, "/account")

		page := here.Get("/account")
		wantStatus(t, page, http.StatusOK)
		if got := byTestID(page.Doc, "flash").Text(); got != "Password changed. 1 other session signed out." {
			t.Fatalf("flash %q", got)
		}
		// A flash shows once.
		if byTestID(here.Get("/account").Doc, "flash").Length() != 0 {
			t.Fatal("the flash showed twice")
		}

		wantRedirect(t, elsewhere.Get("/"), "/login")
		wantStatus(t, bystander.Get("/"), http.StatusOK)
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d session rows of the member, want 1", n)
		}
		changes := auditEntries(t, db, "auth.password_change")
		if len(changes) != 1 || changes[0].ActorID != m.ID || strings.Contains(changes[0].Diff, next) {
			t.Fatalf("auth.password_change entries %+v", changes)
		}

		stored, err := db.MemberByID(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !testdb.PasswordMatches(t, stored.PasswordHash, next) || testdb.PasswordMatches(t, stored.PasswordHash, old) {
			t.Fatal("the stored password is not the new one")
		}
	})
}

func TestAccountPasswordChange_HTMXSuccessAnswersTheFormWithConfirmation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, old := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, old)
		c.Get("/account")
		next := "new-" + models.RandomToken(12)
		webtest.Sensitive(next)

		r := c.Post("/account/password", url.Values{"current": {old}, "new": {next}, "confirm": {next}}, webtest.HTMX...)
		wantStatus(t, r, http.StatusOK)
		if !isFragment(r.Body) {
			t.Fatalf("htmx got the whole page:\n%s", r.Body)
		}
		if got := byTestID(r.Doc, "password-done").Text(); got != "Password changed. 0 other sessions signed out." {
			t.Fatalf("confirmation %q", got)
		}
		wantPasswordFieldsEmpty(t, r)
		wantStatus(t, c.Get("/account"), http.StatusOK)
	})
}
