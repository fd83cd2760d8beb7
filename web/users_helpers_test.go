package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// system is the origin of what tests set up directly through the models.
var system = models.Origin{Actor: models.SystemActor}

// letters returns n random lower-case letters: names that no other test
// (and no search for another user) can match by accident.
func letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// sampleIdentity is a valid consumer-report identity with values of its
// own. Every personal value is registered with the log scan.
func sampleIdentity() *models.Identity {
	first := "Ada" + letters(5)
	last := "Lovelace" + letters(4)
	id := &models.Identity{
		FirstName:    first,
		LastName:     last,
		PhoneNumbers: []string{fmt.Sprintf("+1312555%04d", rand.IntN(10000))},
		Emails:       []string{strings.ToLower(first) + "." + strings.ToLower(last) + "@example.com"},
		SSNFull:      fmt.Sprintf("%03d-%02d-6789", 100+rand.IntN(800), 10+rand.IntN(89)),
		DateOfBirth:  fmt.Sprintf("19%02d-0%d-%02d", 50+rand.IntN(40), 1+rand.IntN(9), 10+rand.IntN(18)),
		Address: models.Address{Street: fmt.Sprintf("%d W Armitage Ave", 100+rand.IntN(9000)), City: "Chicago",
			Region: "IL", PostalCode: "60657", Country: "US"},
	}
	sensitiveIdentity(id)
	return id
}

// sensitiveIdentity registers an identity's personal values with the log
// scan (values shorter than 6 characters are too common to check).
func sensitiveIdentity(id *models.Identity) {
	for _, v := range []string{id.FirstName, id.LastName, id.SSNFull, id.SSNLast4, id.DateOfBirth,
		id.Address.Street, strings.ReplaceAll(id.SSNFull, "-", "")} {
		webtest.Sensitive(v)
	}
	for _, v := range id.PhoneNumbers {
		webtest.Sensitive(v)
	}
	for _, v := range id.Emails {
		webtest.Sensitive(v)
	}
}

// identityForm is the create/edit form filled with id.
func identityForm(id *models.Identity) url.Values {
	return url.Values{
		models.FieldFirstName:    {id.FirstName},
		models.FieldLastName:     {id.LastName},
		models.FieldPhoneNumbers: {strings.Join(id.PhoneNumbers, "\n")},
		models.FieldEmails:       {strings.Join(id.Emails, "\n")},
		models.FieldSSNFull:      {id.SSNFull},
		models.FieldSSNLast4:     {id.SSNLast4},
		models.FieldDateOfBirth:  {id.DateOfBirth},
		models.FieldStreet:       {id.Address.Street},
		models.FieldCity:         {id.Address.City},
		models.FieldRegion:       {id.Address.Region},
		models.FieldPostalCode:   {id.Address.PostalCode},
		models.FieldCountry:      {id.Address.Country},
	}
}

// newClientUserID is a client_user_id no other user has.
func newClientUserID() string { return "acme-" + strings.ToLower(models.RandomHex(6)) }

// createUser creates an end user directly (audited as the system); id may
// be nil.
func createUser(t *testing.T, db *models.DB, id *models.Identity) *models.Created {
	t.Helper()
	c, err := db.CreateEndUser(context.Background(), system, models.EndUserInput{ClientUserID: newClientUserID(), Identity: id})
	if err != nil {
		t.Fatalf("create end user: %v", err)
	}
	webtest.Sensitive(c.UserToken)
	return c
}

// createUsers creates n end users without identity, oldest first.
func createUsers(t *testing.T, db *models.DB, n int) []*models.EndUser {
	t.Helper()
	out := make([]*models.EndUser, n)
	for i := range out {
		out[i] = createUser(t, db, nil).User
	}
	return out
}

// reloadUser reads a user again.
func reloadUser(t *testing.T, db *models.DB, id int64) *models.EndUser {
	t.Helper()
	u, err := db.EndUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// identityOf reads a user's stored identity, SSN and date of birth opened.
func identityOf(t *testing.T, db *models.DB, id int64) *models.Identity {
	t.Helper()
	ident, err := db.Identity(reloadUser(t, db, id))
	if err != nil {
		t.Fatal(err)
	}
	return ident
}

// userByClientUserID finds a user by client_user_id, or nil.
func userByClientUserID(t *testing.T, db *models.DB, cuid string) *models.EndUser {
	t.Helper()
	var rows []models.EndUser
	if err := db.Gorm().Where("client_user_id = ?", cuid).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// countTable counts a table's rows.
func countTable(t *testing.T, db *models.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm().Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// auditForUser returns the entries whose target is the user, oldest first.
func auditForUser(t *testing.T, db *models.DB, userID int64, action string) []models.AuditEntry {
	t.Helper()
	var out []models.AuditEntry
	err := db.Gorm().Where("target_type = ? AND target_id = ? AND action = ?", "end_user", strconv.FormatInt(userID, 10), action).
		Order("seq").Find(&out).Error
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// addInstitution inserts an institution, so the list's filter offers it.
// Institutions come from `ledgerdesk seed`, as the tables' owner: the
// portal only reads them.
func addInstitution(t *testing.T, db *models.DB, id, name string) {
	t.Helper()
	if err := testdb.Owner(t, db).Gorm().Create(&models.Institution{ID: id, Name: name}).Error; err != nil {
		t.Fatal(err)
	}
}

// addItem links an item to a user; edit adjusts it before it is stored.
func addItem(t *testing.T, db *models.DB, userID int64, edit func(*models.Item)) *models.Item {
	t.Helper()
	it := &models.Item{EndUserID: userID, Products: models.StringList{"transactions"},
		AvailableProducts: models.StringList{"balance"}, BilledProducts: models.StringList{"transactions"},
		ConsentedProducts: models.StringList{"transactions"}}
	if edit != nil {
		edit(it)
	}
	if err := db.AddItem(context.Background(), system, it); err != nil {
		t.Fatalf("add item: %v", err)
	}
	return it
}

func ptr[T any](v T) *T { return &v }

// atInstitution puts an item at an institution.
func atInstitution(id, name string) func(*models.Item) {
	return func(it *models.Item) { it.InstitutionID, it.InstitutionName = ptr(id), ptr(name) }
}

// inError gives an item a Plaid error with code.
func inError(code string) func(*models.Item) {
	return func(it *models.Item) {
		it.Error = &models.ItemError{ErrorType: "ITEM_ERROR", ErrorCode: code, ErrorMessage: "error " + code,
			RequestID: "req-" + code, DocumentationURL: "https://plaid.com/docs/errors/"}
	}
}

// consentIn makes an item's consent expire d from now.
func consentIn(d time.Duration) func(*models.Item) {
	return func(it *models.Item) { it.ConsentExpirationTime = ptr(time.Now().UTC().Add(d)) }
}

func all(edits ...func(*models.Item)) func(*models.Item) {
	return func(it *models.Item) {
		for _, e := range edits {
			e(it)
		}
	}
}

// rowIDs are the ids of the users a list page shows, in order.
func rowIDs(t *testing.T, doc *goquery.Document) []int64 {
	t.Helper()
	var ids []int64
	byTestID(doc, "user-row").Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("data-user-id")
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("row with data-user-id %q", v)
		}
		ids = append(ids, id)
	})
	return ids
}

// idsOf are the users' ids, newest first (as the list shows them).
func idsOf(users ...*models.EndUser) []int64 {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[len(users)-1-i] = u.ID
	}
	return ids
}

// wantRows fails unless the page lists exactly these users, in this order.
func wantRows(t *testing.T, r *webtest.Response, want []int64) {
	t.Helper()
	if got := rowIDs(t, r.Doc); !slices.Equal(got, want) {
		t.Fatalf("%s lists users %v, want %v", r.Request.URL, got, want)
	}
}

// fieldValue is what a form control shows: an input's value or a
// textarea's text.
func fieldValue(t *testing.T, doc *goquery.Document, name string) string {
	t.Helper()
	sel := doc.Find(`[name="` + name + `"]`).Not(`[type="hidden"]`)
	if sel.Length() != 1 {
		t.Fatalf("%d form controls named %q", sel.Length(), name)
	}
	if goquery.NodeName(sel) == "textarea" {
		// The HTML parser drops one leading newline of a textarea.
		return sel.Text()
	}
	v, _ := sel.Attr("value")
	return v
}

// wantValuesKept fails unless every field of form shows what was typed.
func wantValuesKept(t *testing.T, doc *goquery.Document, form url.Values, skip ...string) {
	t.Helper()
	for name := range form {
		if name == "_csrf" || name == "version" || strings.HasPrefix(name, "clear_") || slices.Contains(skip, name) {
			continue
		}
		if got, want := fieldValue(t, doc, name), form.Get(name); got != want {
			t.Errorf("field %s shows %q, want the typed %q", name, got, want)
		}
	}
}

// wantFieldError fails unless the message beside field contains want,
// and the field is marked invalid.
func wantFieldError(t *testing.T, doc *goquery.Document, field, want string) {
	t.Helper()
	msg := byTestID(doc, "error-"+field)
	if msg.Length() != 1 {
		t.Fatalf("no message beside %s (want %q)", field, want)
	}
	if got := msg.Text(); !strings.Contains(got, want) {
		t.Fatalf("message beside %s is %q, want %q", field, got, want)
	}
	// The message sits in the field's own block, right under its control.
	if msg.ParentFiltered(`[data-testid="field-`+field+`"]`).Length() != 1 {
		t.Fatalf("the message for %s is not inside the field's block", field)
	}
	if inv, _ := doc.Find(`[name="` + field + `"]`).Attr("aria-invalid"); inv != "true" {
		t.Fatalf("field %s is not marked aria-invalid", field)
	}
}

// wantOnlyFieldErrors fails if a field other than those named shows a
// message.
func wantOnlyFieldErrors(t *testing.T, doc *goquery.Document, fields ...string) {
	t.Helper()
	doc.Find(`[data-testid^="error-"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-testid")
		if !slices.Contains(fields, strings.TrimPrefix(id, "error-")) {
			t.Errorf("unexpected message %s: %q", id, s.Text())
		}
	})
}

// wantVary fails unless the response varies on HX-Request.
func wantVary(t *testing.T, r *webtest.Response) {
	t.Helper()
	if v := strings.Join(r.Header.Values("Vary"), ","); !strings.Contains(strings.ToLower(v), "hx-request") {
		t.Fatalf("%s: Vary %q lacks HX-Request", r.Request.URL, v)
	}
}

// wantFragment fails unless r is an htmx fragment (no page around it).
func wantFragment(t *testing.T, r *webtest.Response) {
	t.Helper()
	if !isFragment(r.Body) {
		t.Fatalf("%s %s answered a whole page to htmx:\n%s", r.Request.Method, r.Request.URL, r.Body)
	}
}

// wantPage fails unless r is a whole page.
func wantPage(t *testing.T, r *webtest.Response) {
	t.Helper()
	if isFragment(r.Body) {
		t.Fatalf("%s %s answered a fragment, want the whole page:\n%s", r.Request.Method, r.Request.URL, r.Body)
	}
}

// userPath is a user's detail page.
func userPath(id int64, suffix ...string) string {
	return "/users/" + strconv.FormatInt(id, 10) + strings.Join(suffix, "")
}

// htmxTo is the htmx header set for a request whose answer replaces the
// element with this id.
func htmxTo(target string) []string {
	return append(append([]string(nil), webtest.HTMX...), "HX-Target", target)
}

// countChanges counts the audit entries other than data access entries
// (pii.view, pii.search), which reading a user's page or searching adds.
func countChanges(t *testing.T, db *models.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm().Model(&models.AuditEntry{}).Where("action NOT IN ?", []string{models.ActionPIIView, models.ActionPIISearch}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
