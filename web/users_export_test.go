package web_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

func TestUserExport_StreamsTheListsFilterAndIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		// Compliance sees names in clear; what the field policy does to an
		// export is in field_access_test.go.
		c, m := h.SignIn(t, models.RoleCompliance)
		id := sampleIdentity()
		id.FirstName = "=HYPERLINK(\"http://evil.example\")"
		sensitiveIdentity(id)
		withSSN := createUser(t, db, id).User
		healthy := createUsers(t, db, 2)
		addItem(t, db, withSSN.ID, inError("ITEM_LOGIN_REQUIRED"))

		// The list's export form carries the filter it shows.
		list := c.Get("/users?health=error")
		form := byTestID(list.Doc, "user-export")
		if form.Find(`input[name="health"]`).AttrOr("value", "") != models.HealthError || form.Find(`input[name="_csrf"]`).Length() != 1 {
			t.Fatalf("the export form does not carry the filter and a token")
		}

		r := c.Post("/users/export", url.Values{"format": {"csv"}, "health": {models.HealthError}})
		wantStatus(t, r, http.StatusOK)
		if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(cd, "attachment;") {
			t.Fatalf("Content-Type %q, Content-Disposition %q", ct, cd)
		}
		recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v", err)
		}
		if len(recs) != 2 || strings.Join(recs[0], ",") != "id,user_id,client_user_id,created_at,updated_at,removed_at,first_name,last_name,emails,phone_numbers,address_street,address_city,address_region,address_postal_code,address_country,ssn_on_file,item_count,error_item_count,next_consent_expiration" {
			t.Fatalf("CSV has %d records, header %v", len(recs), recs[0])
		}
		row := recs[1]
		if row[0] != strconv.FormatInt(withSSN.ID, 10) || row[6] != "'"+id.FirstName || row[15] != "full" || row[17] != "1" {
			t.Errorf("row %v", row)
		}
		// The SSN and date of birth never leave in an export.
		for _, secret := range []string{id.SSNFull, id.DateOfBirth} {
			if secret != "" && strings.Contains(r.Body, secret) {
				t.Errorf("the export holds %q", secret)
			}
		}

		r = c.Post("/users/export", url.Values{"format": {"jsonl"}})
		wantStatus(t, r, http.StatusOK)
		lines := strings.Split(strings.TrimSpace(r.Body), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d JSON lines, want 3 users", len(lines))
		}
		var first map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || !strings.HasPrefix(lines[0], `{"id":`) {
			t.Fatalf("line %s: %v", lines[0], err)
		}
		if first["id"] != float64(healthy[1].ID) || first["ssn_on_file"] != "" {
			t.Errorf("first line %s, want the newest user", lines[0])
		}

		entries, err := db.AuditHistory(t.Context(), models.AuditFilter{Action: models.ActionUserExport}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[1].ActorID != m.ID || !strings.Contains(entries[1].Diff, `"health":"error"`) ||
			!strings.Contains(entries[1].Diff, `"format":"csv"`) {
			t.Errorf("user.export entries %+v", entries)
		}
	})
}

func TestUserExport_RefusesBadInputWithoutExporting(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		createUsers(t, db, 1)
		for _, form := range []url.Values{
			{"format": {"xlsx"}},
			{"format": {"csv"}, "q": {"a\x00b"}},
			{"format": {"csv"}, "created_from": {"soon"}},
			{"format": {"jsonl"}, "error_code": {strings.Repeat("E", 300)}},
		} {
			if r := c.Post("/users/export", form); r.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%.40v answered %d, want 422", form, r.StatusCode)
			}
		}
		if r := c.PostRaw("/users/export", url.Values{"format": {"csv"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("an export without a CSRF token answered %d", r.StatusCode)
		}
		entries, err := db.AuditHistory(t.Context(), models.AuditFilter{Action: models.ActionUserExport}, 10)
		if err != nil || len(entries) != 0 {
			t.Errorf("refused exports were audited: %d entries, %v", len(entries), err)
		}
	})
}
