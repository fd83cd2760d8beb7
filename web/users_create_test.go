package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// createForm is the create form: a new client_user_id and id's values.
func createForm(id *models.Identity) url.Values {
	f := identityForm(id)
	f.Set(models.FieldClientUserID, newClientUserID())
	return f
}

var tokenPattern = regexp.MustCompile(`^user-sandbox-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// createdToken reads the user_token a creation (or rotation) shows, and
// checks it is shown exactly once.
func createdToken(t *testing.T, r *webtest.Response) string {
	t.Helper()
	sel := byTestID(r.Doc, "user-token")
	if sel.Length() != 1 {
		t.Fatalf("%d user-token elements, want 1:\n%s", sel.Length(), r.Body)
	}
	token, _ := sel.Attr("value")
	webtest.Sensitive(token)
	if !tokenPattern.MatchString(token) {
		t.Fatalf("user_token %q is not user-<env>-<uuid>", token)
	}
	if n := strings.Count(r.Body, token); n != 1 {
		t.Fatalf("the token appears %d times in the answer, want once", n)
	}
	if byTestID(r.Doc, "copy-token").Length() != 1 {
		t.Fatal("no copy button beside the token")
	}
	return token
}

func TestUserCreate_InvalidInputIs422BesideEachFieldKeepsValuesAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		long := strings.Repeat("x", 129)

		cases := []struct {
			name   string
			edit   func(f url.Values)
			errors map[string]string // field → part of its message
		}{
			{"phone not E.164", func(f url.Values) { f.Set("phone_numbers", "312 555") },
				map[string]string{"phone_numbers": "not an E.164 number"}},
			{"one of two phones bad", func(f url.Values) { f.Set("phone_numbers", "+13125551212\n0044 20 7946 0958") },
				map[string]string{"phone_numbers": "0044 20 7946 0958"}},
			{"no phone", func(f url.Values) { f.Set("phone_numbers", "") },
				map[string]string{"phone_numbers": "at least one phone number"}},
			{"bad email", func(f url.Values) { f.Set("emails", "ada-at-example.com") },
				map[string]string{"emails": "not an email address"}},
			{"ssn without dashes", func(f url.Values) { f.Set("ssn_full", "123456789") },
				map[string]string{"ssn_full": "ddd-dd-dddd"}},
			{"ssn full and last 4", func(f url.Values) { f.Set("ssn_last_4", "6789") },
				map[string]string{"ssn_full": "not both", "ssn_last_4": "not both"}},
			{"last 4 not digits", func(f url.Values) { f.Set("ssn_full", ""); f.Set("ssn_last_4", "12a4") },
				map[string]string{"ssn_last_4": "exactly 4 digits"}},
			{"date of birth not a date", func(f url.Values) { f.Set("date_of_birth", "1987-02-30") },
				map[string]string{"date_of_birth": "YYYY-MM-DD"}},
			{"date of birth in the future", func(f url.Values) { f.Set("date_of_birth", "2999-01-01") },
				map[string]string{"date_of_birth": "in the past"}},
			{"non-US country", func(f url.Values) { f.Set("country", "CA") },
				map[string]string{"country": "must be US"}},
			{"unknown country", func(f url.Values) { f.Set("country", "ZZ") },
				map[string]string{"country": "not an ISO 3166-1 alpha-2"}},
			{"address incomplete", func(f url.Values) { f.Set("street", ""); f.Set("postal_code", "") },
				map[string]string{"street": "Enter the street", "postal_code": "Enter the ZIP code"}},
			{"no client_user_id", func(f url.Values) { f.Set("client_user_id", "") },
				map[string]string{"client_user_id": "Enter a client_user_id"}},
			{"client_user_id too long", func(f url.Values) { f.Set("client_user_id", long) },
				map[string]string{"client_user_id": "at most 128 characters"}},
			{"several at once", func(f url.Values) {
				f.Set("phone_numbers", "312 555")
				f.Set("ssn_full", "12-345-6789")
				f.Set("country", "MX")
			}, map[string]string{"phone_numbers": "E.164", "ssn_full": "ddd-dd-dddd", "country": "must be US"}},
		}
		for _, tc := range cases {
			for _, htmx := range []bool{false, true} {
				name := tc.name
				if htmx {
					name += " (htmx)"
				}
				t.Run(name, func(t *testing.T) {
					form := createForm(sampleIdentity())
					tc.edit(form)
					for _, vs := range form {
						for _, v := range vs {
							webtest.Sensitive(v)
						}
					}
					users, entries := countTable(t, db, "end_users"), countTable(t, db, "audit_entries")
					var r *webtest.Response
					if htmx {
						r = c.Post("/users", form, htmxTo("user-form")...)
					} else {
						r = c.Post("/users", form)
					}
					wantStatus(t, r, http.StatusUnprocessableEntity)
					if htmx {
						wantFragment(t, r)
						if !strings.HasPrefix(strings.TrimSpace(r.Body), `<form id="user-form"`) {
							t.Fatalf("the htmx answer is not the form it replaces:\n%.300s", r.Body)
						}
					} else {
						wantPage(t, r)
					}
					var fields []string
					for field, msg := range tc.errors {
						wantFieldError(t, r.Doc, field, msg)
						fields = append(fields, field)
					}
					wantOnlyFieldErrors(t, r.Doc, fields...)
					wantValuesKept(t, r.Doc, form)
					if byTestID(r.Doc, "form-message").Length() != 1 {
						t.Fatal("no message above the form")
					}
					if got := countTable(t, db, "end_users"); got != users {
						t.Fatalf("end_users went from %d to %d rows on invalid input", users, got)
					}
					if got := countTable(t, db, "audit_entries"); got != entries {
						t.Fatalf("audit_entries went from %d to %d on invalid input", entries, got)
					}
				})
			}
		}
	})
}

func TestUserCreate_ClientUserIDCannotBeReusedEvenAfterRemoval(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		active := createUser(t, db, nil).User
		removed := createUser(t, db, sampleIdentity()).User
		if err := db.RemoveEndUser(t.Context(), system, removed.ID, removed.ClientUserID); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, cuid, msg string
		}{
			{"active user's", active.ClientUserID, "already used by another user"},
			{"removed user's", removed.ClientUserID, "can never be used again, even after removal"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := createForm(sampleIdentity())
				form.Set("client_user_id", tc.cuid)
				users, entries := countTable(t, db, "end_users"), countTable(t, db, "audit_entries")
				r := c.Post("/users", form)
				wantStatus(t, r, http.StatusUnprocessableEntity)
				wantFieldError(t, r.Doc, "client_user_id", tc.msg)
				wantOnlyFieldErrors(t, r.Doc, "client_user_id")
				wantValuesKept(t, r.Doc, form)
				if countTable(t, db, "end_users") != users || countTable(t, db, "audit_entries") != entries {
					t.Fatal("a refused client_user_id wrote something")
				}
			})
		}
	})
}

func TestUserCreate_SuccessShowsTheTokenOnceAndStoresOnlyItsHash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)

		newPage := c.Get("/users/new")
		wantStatus(t, newPage, http.StatusOK)
		if got := fieldValue(t, newPage.Doc, "country"); got != "US" {
			t.Fatalf("the new form's country is %q, want US preset", got)
		}

		id := sampleIdentity()
		form := createForm(id)
		r := c.Post("/users", form)
		wantStatus(t, r, http.StatusCreated)
		wantPage(t, r)
		token := createdToken(t, r)
		if !strings.Contains(byTestID(r.Doc, "token-panel").Text(), "only this once") {
			t.Fatal("the token panel does not warn that the token is shown once")
		}

		u := userByClientUserID(t, db, form.Get("client_user_id"))
		if u == nil {
			t.Fatal("no user was stored")
		}
		if href, _ := byTestID(r.Doc, "token-continue").Attr("href"); href != userPath(u.ID) {
			t.Fatalf("the panel links to %q, want %s", href, userPath(u.ID))
		}
		if u.UserTokenHash != models.HashToken(token) {
			t.Fatal("the stored hash is not the token's")
		}
		var row map[string]any
		if err := db.Gorm().Table("end_users").Where("id = ?", u.ID).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		for col, v := range row {
			if s, ok := v.(string); ok && (strings.Contains(s, token) || strings.Contains(s, strings.TrimPrefix(token, "user-sandbox-"))) {
				t.Fatalf("column %s holds the clear token", col)
			}
			if s, ok := v.(string); ok && (strings.Contains(s, id.SSNFull) || strings.Contains(s, id.DateOfBirth)) {
				t.Fatalf("column %s holds the SSN or date of birth in clear", col)
			}
		}
		if got, err := db.EndUserByToken(t.Context(), token); err != nil || got.ID != u.ID {
			t.Fatalf("the token does not resolve to the new user: %v", err)
		}
		got := identityOf(t, db, u.ID)
		if got.FirstName != id.FirstName || got.SSNFull != id.SSNFull || got.DateOfBirth != id.DateOfBirth ||
			got.PhoneNumbers[0] != id.PhoneNumbers[0] || got.Address != id.Address {
			t.Fatalf("stored identity %+v, want %+v", got, id)
		}
		created := auditForUser(t, db, u.ID, "user.create")
		if len(created) != 1 || created[0].ActorID != admin.ID {
			t.Fatalf("user.create entries: %+v", created)
		}
		if strings.Contains(created[0].Diff, token) || strings.Contains(created[0].Diff, id.SSNFull) {
			t.Fatal("the audit diff holds the token or the SSN")
		}

		// Never again: not on the user's page, not in the list.
		for _, path := range []string{userPath(u.ID), "/users", userPath(u.ID, "/edit")} {
			if p := c.Get(path); strings.Contains(p.Body, token) {
				t.Fatalf("%s shows the token again", path)
			}
		}
	})
}

func TestUserCreate_HTMXSuccessReplacesTheFormAndPushesTheUserURL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		form := url.Values{"client_user_id": {newClientUserID()}, "country": {"US"}} // no identity
		r := c.Post("/users", form, htmxTo("user-form")...)
		wantStatus(t, r, http.StatusCreated)
		wantFragment(t, r)
		createdToken(t, r)
		if byTestID(r.Doc, "user-form").Length() != 0 || byTestID(r.Doc, "token-panel").Length() != 1 {
			t.Fatalf("the fragment is not the token panel alone:\n%s", r.Body)
		}
		u := userByClientUserID(t, db, form.Get("client_user_id"))
		if u == nil {
			t.Fatal("no user was stored")
		}
		if u.HasIdentity {
			t.Fatal("a form with only the preset country stored an identity")
		}
		if got := r.Header.Get("HX-Push-Url"); got != "/users/"+strconv.FormatInt(u.ID, 10) {
			t.Fatalf("HX-Push-Url %q, want the user's page", got)
		}
		// The pushed URL, reloaded, is the user's whole page.
		p := c.Get(r.Header.Get("HX-Push-Url"))
		wantStatus(t, p, http.StatusOK)
		wantPage(t, p)
	})
}
