package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// editForm is the edit form as GET /users/:id/edit fills it, with the
// version it carries.
func editForm(t *testing.T, c *webtest.Client, id int64) url.Values {
	t.Helper()
	r := c.Get(userPath(id, "/edit"))
	wantStatus(t, r, http.StatusOK)
	form := url.Values{}
	for _, name := range []string{"first_name", "last_name", "phone_numbers", "emails", "ssn_full", "ssn_last_4",
		"date_of_birth", "street", "city", "region", "postal_code", "country"} {
		form.Set(name, fieldValue(t, r.Doc, name))
	}
	v, ok := r.Doc.Find(`[data-testid="user-form"] input[name="version"]`).Attr("value")
	if !ok {
		t.Fatal("the edit form carries no version")
	}
	form.Set("version", v)
	return form
}

// changedFields is what an audit entry's diff says changed.
func changedFields(e models.AuditEntry) []string { return e.DecodeDiff().ChangedFields() }

// --- update ---

func TestUserUpdate_SavesChangesAuditsOnlyChangedFieldsAndKeepsSSNLeftEmpty(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		u := createUser(t, db, id).User

		form := editForm(t, c, u.ID)
		if form.Get("version") != "1" || form.Get("first_name") != id.FirstName || form.Get("ssn_full") != "" || form.Get("date_of_birth") != "" {
			t.Fatalf("edit form filled with %v", form)
		}
		newFirst := "Augusta" + letters(4)
		webtest.Sensitive(newFirst)
		form.Set("first_name", newFirst)
		form.Set("city", "Evanston")
		r := c.Post(userPath(u.ID), form)
		wantRedirect(t, r, userPath(u.ID))

		got := identityOf(t, db, u.ID)
		if got.FirstName != newFirst || got.Address.City != "Evanston" || got.LastName != id.LastName {
			t.Fatalf("stored identity %+v", got)
		}
		if got.SSNFull != id.SSNFull || got.DateOfBirth != id.DateOfBirth {
			t.Fatal("SSN or date of birth left empty in the form was not kept")
		}
		if v := reloadUser(t, db, u.ID).Version; v != 2 {
			t.Fatalf("version %d after one update, want 2", v)
		}
		updates := auditForUser(t, db, u.ID, "user.update")
		if len(updates) != 1 || updates[0].ActorID != admin.ID {
			t.Fatalf("user.update entries %+v", updates)
		}
		if f := changedFields(updates[0]); !slices.Equal(f, []string{"city", "first_name"}) {
			t.Fatalf("the diff lists %v, want only city and first_name", f)
		}
		if strings.Contains(updates[0].Diff, newFirst) || strings.Contains(updates[0].Diff, id.FirstName) {
			t.Fatal("the diff holds the names in clear")
		}

		show := c.Get(userPath(u.ID))
		wantStatus(t, show, http.StatusOK)
		if got := text(byTestID(show.Doc, "masked-value-ssn")); got != "***-**-6789" {
			t.Fatalf("after the update the SSN shows %q, want it kept, masked", got)
		}
		if got := text(byTestID(show.Doc, "flash")); !strings.Contains(got, "Saved") {
			t.Fatalf("flash %q", got)
		}
		if !strings.Contains(text(byTestID(show.Doc, "history")), "city, first_name") {
			t.Fatal("the history does not list the changed fields")
		}
	})
}

func TestUserUpdate_SavingNoChangeSaysSoAndWritesNoAuditEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, sampleIdentity()).User
		// Opening the user's page between the saves records a view
		// (pii.view): only changes are counted.
		before := countChanges(t, db)

		for _, headers := range [][]string{nil, htmxTo("#user-form")} {
			form := editForm(t, c, u.ID)
			r := c.Post(userPath(u.ID), form, headers...)
			if headers == nil {
				wantRedirect(t, r, userPath(u.ID))
			} else if got := r.Header.Get("HX-Redirect"); got != userPath(u.ID) {
				t.Fatalf("htmx save without changes: status %d, HX-Redirect %q", r.StatusCode, got)
			}
			if n := countChanges(t, db); n != before {
				t.Fatalf("%d audit entries of changes after saving no change, want %d", n, before)
			}
			if v := reloadUser(t, db, u.ID).Version; v != 1 {
				t.Fatalf("version %d after saving no change, want 1", v)
			}
			show := c.Get(userPath(u.ID))
			if got := text(byTestID(show.Doc, "flash")); !strings.Contains(got, "No changes to save") || strings.Contains(got, "Saved") {
				t.Fatalf("flash %q after saving no change", got)
			}
		}
	})
}

func TestUserUpdate_ClearSSNRemovesIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		u := createUser(t, db, id).User

		form := editForm(t, c, u.ID)
		form.Set("clear_ssn", "1")
		wantRedirect(t, c.Post(userPath(u.ID), form), userPath(u.ID))
		got := identityOf(t, db, u.ID)
		if got.SSNFull != "" || got.SSNLast4 != "" {
			t.Fatal("clear_ssn kept the SSN")
		}
		if got.DateOfBirth != id.DateOfBirth {
			t.Fatal("clear_ssn also removed the date of birth")
		}
		if f := changedFields(auditForUser(t, db, u.ID, "user.update")[0]); !slices.Equal(f, []string{"ssn"}) {
			t.Fatalf("the diff lists %v, want only ssn", f)
		}
		show := c.Get(userPath(u.ID))
		if byTestID(show.Doc, "masked-ssn").Length() != 0 || strings.Contains(show.Body, "***-**-6789") {
			t.Fatal("the page still shows an SSN")
		}
		if byTestID(show.Doc, "masked-date_of_birth").Length() != 1 {
			t.Fatal("the page lost the date of birth")
		}
		// The edit form no longer offers to clear what is gone.
		if r := c.Get(userPath(u.ID, "/edit")); byTestID(r.Doc, "clear-ssn").Length() != 0 || byTestID(r.Doc, "clear-dob").Length() != 1 {
			t.Fatal("the edit form's clear boxes do not match what is stored")
		}

		// A new SSN (last 4 only) replaces nothing and is stored.
		form = editForm(t, c, u.ID)
		form.Set("ssn_last_4", "4321")
		wantRedirect(t, c.Post(userPath(u.ID), form), userPath(u.ID))
		if got := identityOf(t, db, u.ID); got.SSNLast4 != "4321" {
			t.Fatalf("last 4 stored as %q", got.SSNLast4)
		}
		if got := text(byTestID(c.Get(userPath(u.ID)).Doc, "masked-value-ssn")); got != "***-**-4321" {
			t.Fatalf("last 4 shown as %q", got)
		}
	})
}

func TestUserUpdate_StaleVersionIs409NamingTheChangedFieldsAndOverwritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		u := createUser(t, db, id).User

		mine := editForm(t, c, u.ID) // opened at version 1

		// Someone else changes the last name meanwhile.
		theirs := *id
		theirs.LastName = "Byron" + letters(4)
		webtest.Sensitive(theirs.LastName)
		if _, err := db.UpdateEndUser(t.Context(), system, u.ID, 1, &theirs); err != nil {
			t.Fatal(err)
		}

		myPhone := "+13125559876"
		webtest.Sensitive(myPhone)
		mine.Set("phone_numbers", myPhone)
		for _, htmx := range []bool{false, true} {
			var r *webtest.Response
			if htmx {
				r = c.Post(userPath(u.ID), mine, htmxTo("user-form")...)
				wantFragment(t, r)
			} else {
				r = c.Post(userPath(u.ID), mine)
			}
			wantStatus(t, r, http.StatusConflict)
			conflict := byTestID(r.Doc, "conflict")
			if conflict.Length() != 1 {
				t.Fatalf("no conflict panel:\n%s", r.Body)
			}
			fields := strings.Split(text(byTestID(r.Doc, "conflict-fields")), ", ")
			if !slices.Contains(fields, "last_name") || !slices.Contains(fields, "phone_numbers") {
				t.Fatalf("the conflict names %v, want last_name and phone_numbers", fields)
			}
			for _, f := range fields {
				if !slices.Contains([]string{"last_name", "phone_numbers"}, f) {
					t.Fatalf("the conflict names %q, which neither side changed", f)
				}
			}
			if !strings.Contains(text(conflict), theirs.LastName) {
				t.Fatal("the conflict panel does not show their value")
			}
			wantValuesKept(t, r.Doc, mine)
			if v, _ := r.Doc.Find(`input[name="version"]`).Attr("value"); v != "2" {
				t.Fatalf("the re-rendered form carries version %q, want theirs (2)", v)
			}
		}
		got := identityOf(t, db, u.ID)
		if got.LastName != theirs.LastName || got.PhoneNumbers[0] != id.PhoneNumbers[0] {
			t.Fatalf("the stale save overwrote something: %+v", got)
		}
		if n := len(auditForUser(t, db, u.ID, "user.update")); n != 1 {
			t.Fatalf("%d user.update entries, want only theirs", n)
		}

		// Submitting again (on top of their version) saves mine.
		mine.Set("version", "2")
		wantRedirect(t, c.Post(userPath(u.ID), mine), userPath(u.ID))
		got = identityOf(t, db, u.ID)
		if got.PhoneNumbers[0] != myPhone || got.LastName != id.LastName {
			t.Fatalf("the second save stored %+v", got)
		}
	})
}

func TestUserUpdate_InvalidInputIs422BesideTheFieldsAndChangesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		u := createUser(t, db, id).User
		form := editForm(t, c, u.ID)
		form.Set("emails", "not-an-email")
		form.Set("ssn_full", "123-456-789")
		form.Set("first_name", "Changed"+letters(3))
		webtest.Sensitive(form.Get("first_name"))
		for _, htmx := range []bool{false, true} {
			var r *webtest.Response
			if htmx {
				r = c.Post(userPath(u.ID), form, htmxTo("user-form")...)
				wantFragment(t, r)
			} else {
				r = c.Post(userPath(u.ID), form)
				wantPage(t, r)
			}
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantFieldError(t, r.Doc, "emails", "not an email address")
			wantFieldError(t, r.Doc, "ssn_full", "ddd-dd-dddd")
			wantOnlyFieldErrors(t, r.Doc, "emails", "ssn_full")
			wantValuesKept(t, r.Doc, form)
		}
		if got := reloadUser(t, db, u.ID); got.Version != 1 || got.FirstName != id.FirstName {
			t.Fatal("an invalid update changed the user")
		}
		if n := len(auditForUser(t, db, u.ID, "user.update")); n != 0 {
			t.Fatal("an invalid update was audited")
		}
	})
}

// --- remove ---

func TestUserRemove_WrongConfirmationIs422AndRightOneLeavesATombstone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		u := createUser(t, db, id).User
		addItem(t, db, u.ID, atInstitution("ins_1", "Bank of Tests"))
		addItem(t, db, u.ID, nil)

		page := c.Get(userPath(u.ID, "/remove"))
		wantStatus(t, page, http.StatusOK)
		if got := text(byTestID(page.Doc, "remove-expected")); got != u.ClientUserID {
			t.Fatalf("the confirmation asks to type %q", got)
		}

		for _, wrong := range []string{"", "wrong", strings.ToUpper(u.ClientUserID), u.ClientUserID + " "} {
			r := c.Post(userPath(u.ID, "/remove"), url.Values{"confirm": {wrong}})
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantFieldError(t, r.Doc, "confirm", "client_user_id exactly")
			if got := fieldValue(t, r.Doc, "confirm"); got != wrong {
				t.Fatalf("the typed confirmation %q is shown as %q", wrong, got)
			}
		}
		if got := reloadUser(t, db, u.ID); got.Removed() || got.ItemCount != 2 || !got.HasIdentity {
			t.Fatal("a wrong confirmation removed something")
		}
		if n := countTable(t, db, "items"); n != 2 {
			t.Fatalf("%d items after wrong confirmations, want 2", n)
		}
		if n := len(auditForUser(t, db, u.ID, "user.remove")); n != 0 {
			t.Fatal("a refused removal was audited")
		}

		r := c.Post(userPath(u.ID, "/remove"), url.Values{"confirm": {u.ClientUserID}})
		wantRedirect(t, r, userPath(u.ID))
		got := reloadUser(t, db, u.ID)
		if !got.Removed() || got.HasIdentity || got.SSNCipher != "" || got.DOBCipher != "" || got.FirstName != "" ||
			len(got.Emails) != 0 || got.SearchText != "" || got.ClientUserID != u.ClientUserID || got.UserID != u.UserID {
			t.Fatalf("tombstone %+v", got)
		}
		if n := countTable(t, db, "items"); n != 0 {
			t.Fatalf("%d items left after removal", n)
		}
		removes := auditForUser(t, db, u.ID, "user.remove")
		if len(removes) != 1 || removes[0].ActorID != admin.ID {
			t.Fatalf("user.remove entries %+v", removes)
		}

		show := c.Get(userPath(u.ID))
		wantStatus(t, show, http.StatusOK)
		if byTestID(show.Doc, "tombstone").Length() != 1 {
			t.Fatal("the removed user's page shows no tombstone")
		}
		if !strings.Contains(text(byTestID(show.Doc, "flash")), "removed") {
			t.Fatal("no flash after removal")
		}
		if byTestID(show.Doc, "user-actions").Length() != 0 {
			t.Fatal("a removed user still offers actions")
		}
		if byTestID(show.Doc, "item").Length() != 0 || byTestID(show.Doc, "masked-ssn").Length() != 0 {
			t.Fatal("the tombstone shows items or identity")
		}
		if got := text(byTestID(show.Doc, "user-client-user-id")); got != u.ClientUserID {
			t.Fatalf("the tombstone's client_user_id %q", got)
		}
		var actions []string
		byTestID(show.Doc, "history-action").Each(func(_ int, s *goquery.Selection) { actions = append(actions, text(s)) })
		for _, want := range []string{"user.create", "item.create", "user.remove"} {
			if !slices.Contains(actions, want) {
				t.Fatalf("the tombstone's history %v lacks %s", actions, want)
			}
		}

		// A second removal, and edits, are refused; the id stays taken.
		if r := c.Get(userPath(u.ID, "/remove")); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("the remove page of a removed user answered %d", r.StatusCode)
		}
		wantStatus(t, c.Post(userPath(u.ID, "/remove"), url.Values{"confirm": {u.ClientUserID}}), http.StatusConflict)
		wantStatus(t, c.Get(userPath(u.ID, "/edit")), http.StatusConflict)
		wantStatus(t, c.Post(userPath(u.ID), identityForm(sampleIdentity())), http.StatusConflict)
		again := c.Post("/users", url.Values{"client_user_id": {u.ClientUserID}})
		wantStatus(t, again, http.StatusUnprocessableEntity)
		wantFieldError(t, again.Doc, "client_user_id", "removed")
		list := c.Get("/users?status=removed")
		wantRows(t, list, []int64{u.ID})
	})
}

// --- sandbox reset login, token rotation ---

func TestUserResetLogin_PutsEveryItemIntoItemLoginRequired(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, sampleIdentity()).User
		a := addItem(t, db, u.ID, atInstitution("ins_1", "Bank of Tests"))
		b := addItem(t, db, u.ID, consentIn(3*24*time.Hour))
		other := createUser(t, db, nil).User
		untouched := addItem(t, db, other.ID, nil)

		r := c.Post(userPath(u.ID, "/reset-login"), nil)
		wantRedirect(t, r, userPath(u.ID))
		show := c.Get(userPath(u.ID))
		for _, it := range []*models.Item{a, b} {
			badge := item(show.Doc, it.ItemID).Find(`[data-testid="health"]`)
			if h, _ := badge.Attr("data-health"); h != "error" || text(badge) != "ITEM_LOGIN_REQUIRED" {
				t.Fatalf("item %s after reset: health %q %q", it.ItemID, h, text(badge))
			}
			if !strings.Contains(item(show.Doc, it.ItemID).Find(`[data-testid="item-error-json"]`).Text(), `"error_type": "ITEM_ERROR"`) {
				t.Fatal("the reset item's error object is not ITEM_ERROR")
			}
		}
		if got := text(byTestID(show.Doc, "flash")); !strings.Contains(got, "2 items") || !strings.Contains(got, "ITEM_LOGIN_REQUIRED") {
			t.Fatalf("flash %q", got)
		}
		resets := auditForUser(t, db, u.ID, "item.reset_login")
		if len(resets) != 1 || resets[0].ActorID != admin.ID {
			t.Fatalf("item.reset_login entries %+v", resets)
		}
		if items, _ := db.ItemsOfUser(t.Context(), other.ID); items[0].Error != nil || items[0].ItemID != untouched.ItemID {
			t.Fatal("another user's item was reset")
		}
		if got := reloadUser(t, db, u.ID); got.ErrorItemCount != 2 {
			t.Fatalf("error_item_count %d, want 2", got.ErrorItemCount)
		}
		wantRows(t, c.Get("/users?health=error"), []int64{u.ID})

		// With htmx: the items section and the flash, out of band.
		hx := c.Post(userPath(u.ID, "/reset-login"), nil, htmxTo("user-items")...)
		wantStatus(t, hx, http.StatusOK)
		wantFragment(t, hx)
		wantVary(t, hx)
		if !strings.HasPrefix(strings.TrimSpace(hx.Body), `<section id="user-items"`) {
			t.Fatalf("the fragment does not start with the items section:\n%.300s", hx.Body)
		}
		if n := hx.Doc.Find(`#user-items [data-testid="health"][data-health="error"]`).Length(); n != 2 {
			t.Fatalf("%d error badges in the fragment, want 2", n)
		}
		oob := hx.Doc.Find(`#flash[hx-swap-oob]`)
		if oob.Length() != 1 || !strings.Contains(text(oob.Find(`[data-testid="flash"]`)), "2 items") {
			t.Fatalf("no out-of-band flash in:\n%s", hx.Body)
		}
		// The flash was shown once: the next page does not repeat it.
		if byTestID(c.Get(userPath(u.ID)).Doc, "flash").Length() != 0 {
			t.Fatal("the flash shown out of band appears again on the next page")
		}

		// A user without items: nothing to reset, said plainly.
		bare := createUser(t, db, nil).User
		hx = c.Post(userPath(bare.ID, "/reset-login"), nil, htmxTo("user-items")...)
		wantStatus(t, hx, http.StatusOK)
		if !strings.Contains(text(hx.Doc.Find(`#flash[hx-swap-oob]`)), "0 items") {
			t.Fatalf("reset of a user without items:\n%s", hx.Body)
		}
	})
}

func TestUserRotateToken_ShowsANewTokenOnceAndTheOldOneStopsWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		form := url.Values{"client_user_id": {newClientUserID()}}
		old := createdToken(t, c.Post("/users", form))
		u := userByClientUserID(t, db, form.Get("client_user_id"))

		r := c.Post(userPath(u.ID, "/rotate-token"), nil)
		wantStatus(t, r, http.StatusOK)
		wantPage(t, r)
		fresh := createdToken(t, r)
		if fresh == old {
			t.Fatal("rotation returned the same token")
		}
		if strings.Contains(r.Body, old) {
			t.Fatal("the rotation page shows the old token")
		}
		if _, err := db.EndUserByToken(t.Context(), old); models.ErrorKind(err) != models.KindNotFound {
			t.Fatalf("the old token still resolves (err %v)", err)
		}
		if got, err := db.EndUserByToken(t.Context(), fresh); err != nil || got.ID != u.ID {
			t.Fatalf("the new token does not resolve: %v", err)
		}
		rotations := auditForUser(t, db, u.ID, "user.token_rotate")
		if len(rotations) != 1 || rotations[0].ActorID != admin.ID || strings.Contains(rotations[0].Diff, fresh) {
			t.Fatalf("user.token_rotate entries %+v", rotations)
		}
		if strings.Contains(c.Get(userPath(u.ID)).Body, fresh) {
			t.Fatal("the user's page shows the new token again")
		}

		hx := c.Post(userPath(u.ID, "/rotate-token"), nil, htmxTo("token-panel")...)
		wantStatus(t, hx, http.StatusOK)
		wantFragment(t, hx)
		third := createdToken(t, hx)
		if _, err := db.EndUserByToken(t.Context(), fresh); err == nil {
			t.Fatal("the second token still resolves after another rotation")
		}
		if got, err := db.EndUserByToken(t.Context(), third); err != nil || got.ID != u.ID {
			t.Fatalf("the third token does not resolve: %v", err)
		}
	})
}

// --- roles ---

func TestUserRoutes_ComplianceAndAuditorGet403OnEveryMutationAndChangeNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		id := sampleIdentity()
		created := createUser(t, db, id)
		u := created.User
		it := addItem(t, db, u.ID, nil)

		for _, role := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			t.Run(string(role), func(t *testing.T) {
				c, _ := h.SignIn(t, role)
				users, entries := countTable(t, db, "end_users"), countTable(t, db, "audit_entries")
				update := identityForm(sampleIdentity())
				update.Set("version", "1")
				requests := []struct {
					method, path string
					form         url.Values
				}{
					{"GET", "/users/new", nil},
					{"POST", "/users", url.Values{"client_user_id": {newClientUserID()}}},
					{"GET", userPath(u.ID, "/edit"), nil},
					{"POST", userPath(u.ID), update},
					{"GET", userPath(u.ID, "/remove"), nil},
					{"POST", userPath(u.ID, "/remove"), url.Values{"confirm": {u.ClientUserID}}},
					{"POST", userPath(u.ID, "/reset-login"), nil},
					{"POST", userPath(u.ID, "/rotate-token"), nil},
				}
				for _, rq := range requests {
					for _, headers := range [][]string{nil, webtest.HTMX} {
						var r *webtest.Response
						if rq.method == "GET" {
							r = c.Get(rq.path, headers...)
						} else {
							r = c.Post(rq.path, rq.form, headers...)
						}
						if r.StatusCode != http.StatusForbidden {
							t.Errorf("%s %s %s (htmx %v): %d, want 403", role, rq.method, rq.path, headers != nil, r.StatusCode)
						}
						if strings.Contains(r.Body, "user-sandbox-") {
							t.Errorf("%s %s leaked a token", rq.method, rq.path)
						}
					}
				}
				if got := countTable(t, db, "end_users"); got != users {
					t.Fatal("a refused create stored a user")
				}
				if got := countTable(t, db, "audit_entries"); got != entries {
					t.Fatalf("refused requests wrote %d audit entries", got-entries)
				}
				got := reloadUser(t, db, u.ID)
				if got.Removed() || got.Version != 1 || got.FirstName != id.FirstName || got.ErrorItemCount != 0 {
					t.Fatalf("a refused request changed the user: %+v", got)
				}
				if _, err := db.EndUserByToken(t.Context(), created.UserToken); err != nil {
					t.Fatal("a refused rotation changed the token")
				}
				if items, _ := db.ItemsOfUser(t.Context(), u.ID); len(items) != 1 || items[0].ItemID != it.ItemID || items[0].Error != nil {
					t.Fatal("a refused reset changed the items")
				}
			})
		}
	})
}

func TestUserPages_EveryRoleSeesThemOnlyAdminsSeeTheButtons(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		u := createUser(t, db, sampleIdentity()).User
		for _, role := range models.Roles {
			t.Run(string(role), func(t *testing.T) {
				c, _ := h.SignIn(t, role)
				admin := role == models.RoleAdmin
				list := c.Get("/users")
				wantStatus(t, list, http.StatusOK)
				wantRows(t, list, []int64{u.ID})
				if got := byTestID(list.Doc, "user-new").Length() == 1; got != admin {
					t.Fatalf("New user button shown: %v, want %v", got, admin)
				}
				if got := byTestID(list.Doc, "nav-/users").Length() == 1; !got {
					t.Fatal("no Users entry in the navigation")
				}
				show := c.Get(userPath(u.ID))
				wantStatus(t, show, http.StatusOK)
				for _, testid := range []string{"user-actions", "user-edit", "user-rotate-token", "user-reset-login", "user-remove"} {
					if got := byTestID(show.Doc, testid).Length() == 1; got != admin {
						t.Fatalf("%s shown: %v, want %v", testid, got, admin)
					}
				}
				for _, path := range []string{"/edit", "/remove", "/rotate-token", "/reset-login"} {
					if got := strings.Contains(show.Body, `"`+userPath(u.ID, path)+`"`); got != admin {
						t.Fatalf("the page links to %s: %v, want %v", path, got, admin)
					}
				}
				if got := byTestID(show.Doc, "reveal-ssn").Length() == 1; got != role.CanRevealPII() {
					t.Fatalf("Reveal link shown: %v, want %v", got, role.CanRevealPII())
				}
			})
		}
	})
}

// --- the page after an action ---

func TestUserPageActions_UpdateHistoryAndUpdatedOutOfBandAndReplaceTheMessage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, sampleIdentity()).User
		addItem(t, db, u.ID, nil)
		// The time in UTC, to the second, is the title of the time shown.
		const shown = "2006-01-02 15:04:05 UTC"
		// An old "Updated", so that a new one shows.
		long := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := db.Gorm().Model(&models.EndUser{}).Where("id = ?", u.ID).Update("updated_at", long).Error; err != nil {
			t.Fatal(err)
		}
		if got := utcTitle(byTestID(c.Get(userPath(u.ID)).Doc, "user-updated")); got != long.Format(shown) {
			t.Fatalf("the page shows Updated %q, want %q", got, long.Format(shown))
		}

		// wantPage checks the out-of-band History holds the action's entry
		// and "Updated" is the user's stored time.
		wantPage := func(t *testing.T, r *webtest.Response, action string) {
			t.Helper()
			wantStatus(t, r, http.StatusOK)
			wantFragment(t, r)
			hist := r.Doc.Find(`#user-history[hx-swap-oob="true"]`)
			if hist.Length() != 1 {
				t.Fatalf("no out-of-band History in:\n%s", r.Body)
			}
			newest := auditForUser(t, db, u.ID, action)
			if len(newest) == 0 {
				t.Fatalf("no %s entry", action)
			}
			last := newest[len(newest)-1]
			if got := text(hist.Find(`[data-testid="history-row"]`).First().Find(`[data-testid="history-action"]`)); got != action {
				t.Fatalf("the History's newest entry is %q, want %s", got, action)
			}
			if !strings.Contains(text(hist.Find(`[data-testid="history-row"]`).First()), strconv.FormatInt(last.Seq, 10)) {
				t.Fatalf("the History's newest row is not entry %d", last.Seq)
			}
			upd := r.Doc.Find(`#user-updated[hx-swap-oob="true"]`)
			if want := reloadUser(t, db, u.ID).UpdatedAt.UTC().Format(shown); upd.Length() != 1 || utcTitle(upd) != want {
				t.Fatalf("out-of-band Updated %q (%d), want %q", utcTitle(upd), upd.Length(), want)
			}
		}

		rot := c.Post(userPath(u.ID, "/rotate-token"), nil, htmxTo("token-panel")...)
		wantPage(t, rot, "user.token_rotate")
		if utcTitle(rot.Doc.Find(`#user-updated`)) == long.Format(shown) {
			t.Fatal("Updated did not move after the rotation")
		}
		if flash := rot.Doc.Find(`#flash[hx-swap-oob]`); flash.Length() != 1 || flash.Children().Length() != 0 {
			t.Fatalf("the rotation does not clear the previous message:\n%s", rot.Body)
		}

		reset := c.Post(userPath(u.ID, "/reset-login"), nil, htmxTo("user-items")...)
		wantPage(t, reset, "item.reset_login")
		if panel := reset.Doc.Find(`#token-panel[hx-swap-oob="true"]`); panel.Length() != 1 || panel.Children().Length() != 0 {
			t.Fatalf("the reset leaves the rotation's token on the page:\n%s", reset.Body)
		}
		if !strings.Contains(text(reset.Doc.Find(`#flash[hx-swap-oob]`)), "1 item") {
			t.Fatalf("the reset's own message is not in the flash:\n%s", reset.Body)
		}

		reveal := c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"ssn"}, "reason": {"Checking a dispute, ticket 4411"}}, htmxTo("reveal-ssn")...)
		wantPage(t, reveal, "user.pii_reveal")
		if byTestID(reveal.Doc, "revealed").Length() != 1 {
			t.Fatalf("the reveal shows no value:\n%s", reveal.Body)
		}
	})
}
