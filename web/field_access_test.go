package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// fieldCase is one personal field of the test's user: its value in clear
// and masked, as each surface writes them, and how to search for it.
type fieldCase struct {
	field          models.PersonalField
	clear, masked  string // on the user's page
	pageID         string // the testid of the value on the user's page
	substr, exact  string // searches; "" when the list does not search the field
	exportClear    []string
	exportMasked   []string
	exportColumns  []string
	diffKeys       []string // the keys of the user.update entry's diff
	revealed       string   // what a reveal shows
	neverInExports bool
}

// policyFixture is a user whose every personal field was changed by one
// update (so the user.update entry names them all), and the field cases.
type policyFixture struct {
	user   *models.EndUser
	update models.AuditEntry
	fields []fieldCase
}

func newPolicyFixture(t *testing.T, db *models.DB) policyFixture {
	t.Helper()
	first, last := "Jane"+letters(4), "Doe"+letters(4)
	email := strings.ToLower(first) + "." + strings.ToLower(last) + "@gmail.com"
	before := &models.Identity{FirstName: "Old" + letters(4), LastName: "Name" + letters(4), PhoneNumbers: []string{"+14155550100"},
		Emails: []string{"old." + letters(6) + "@example.com"}, SSNFull: "987-65-4321", DateOfBirth: "1960-02-02",
		Address: models.Address{Street: "9 Old Rd", City: "Albany", Region: "NY", PostalCode: "12207", Country: "US"}}
	id := &models.Identity{FirstName: first, LastName: last, PhoneNumbers: []string{"+13125554821"}, Emails: []string{email},
		SSNFull: "123-45-6789", DateOfBirth: "1987-01-31",
		Address: models.Address{Street: "1 Main St", City: "Chicago", Region: "IL", PostalCode: "60601", Country: "US"}}
	sensitiveIdentity(before)
	sensitiveIdentity(id)
	c := createUser(t, db, before)
	u, err := db.UpdateEndUser(context.Background(), system, c.User.ID, c.User.Version, id)
	if err != nil {
		t.Fatal(err)
	}
	updates := auditForUser(t, db, u.ID, "user.update")
	if len(updates) != 1 {
		t.Fatalf("%d user.update entries", len(updates))
	}
	mFirst, mLast := string([]rune(first)[:1])+"•••", string([]rune(last)[:1])+"•••"
	return policyFixture{user: u, update: updates[0], fields: []fieldCase{
		{field: models.PolicyNames, clear: first + " " + last, masked: mFirst + " " + mLast, pageID: "identity-name",
			substr: strings.ToLower(first[1:]) + " " + strings.ToLower(last[:2]), exact: first + " " + last,
			exportClear: []string{first, last}, exportMasked: []string{mFirst, mLast}, exportColumns: []string{"first_name", "last_name"},
			diffKeys: []string{"first_name", "last_name"}, revealed: first + " " + last},
		{field: models.PolicyEmails, clear: email, masked: "j•••@gmail.com", pageID: "identity-emails",
			substr: strings.ToLower(last) + "@gma", exact: email,
			exportClear: []string{email}, exportMasked: []string{"j•••@gmail.com"}, exportColumns: []string{"emails"},
			diffKeys: []string{"emails"}, revealed: email},
		{field: models.PolicyPhones, clear: "+13125554821", masked: "+1 ••• ••• 4821", pageID: "identity-phones",
			substr: "3125554", exact: "+13125554821",
			exportClear: []string{"'+13125554821"}, exportMasked: []string{"'+1 ••• ••• 4821"}, exportColumns: []string{"phone_numbers"},
			diffKeys: []string{"phone_numbers"}, revealed: "+13125554821"},
		{field: models.PolicyAddress, clear: "1 Main St; Chicago, IL 60601; US", masked: "•••; Chicago, IL •••; US", pageID: "identity-address",
			exportClear:   []string{"1 Main St", "Chicago", "IL", "60601", "US"},
			exportMasked:  []string{"•••", "Chicago", "IL", "•••", "US"},
			exportColumns: []string{"address_street", "address_city", "address_region", "address_postal_code", "address_country"},
			diffKeys:      []string{"street", "city", "region", "postal_code"}, revealed: "1 Main St, Chicago, IL 60601, US"},
		{field: models.PolicySSN, clear: "123-45-6789", masked: "***-**-6789", pageID: "masked-value-ssn",
			exportClear: []string{"full"}, exportMasked: []string{"full"}, exportColumns: []string{"ssn_on_file"},
			diffKeys: []string{"ssn"}, revealed: "123-45-6789", neverInExports: true},
		{field: models.PolicyDOB, clear: "1987-01-31", masked: "****-**-**", pageID: "masked-value-date_of_birth",
			diffKeys: []string{"date_of_birth"}, revealed: "1987-01-31", neverInExports: true},
	}}
}

// allowedStates lists the states the policy allows a role for a field,
// most open first.
func allowedStates(r models.Role, f models.PersonalField) []models.FieldState {
	var out []models.FieldState
	for _, st := range models.FieldStates {
		if ok, _ := models.Allowed(r, f, st); ok {
			out = append(out, st)
		}
	}
	return out
}

// coveringPolicies are policies that, between them, give every role every
// state it may have for every field: policy k gives a cell the k-th of its
// allowed states (wrapping). Compliance runs two states ahead on the
// sealed fields, so that one of admin and compliance can always read them.
func coveringPolicies(t *testing.T) []models.FieldPolicy {
	t.Helper()
	var out []models.FieldPolicy
	for k := range len(models.FieldStates) {
		p := models.DefaultFieldPolicy()
		for _, r := range models.Roles {
			for _, f := range models.PersonalFields {
				states := allowedStates(r, f)
				i := k
				if r == models.RoleCompliance {
					i += 2
				}
				p = p.With(r, f, states[i%len(states)])
			}
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("policy %d: %v", k, err)
		}
		out = append(out, p)
	}
	return out
}

// TestFieldAccess_EverySurfaceShowsWhatThePolicySays checks, for every
// role, field and state the policy allows, the user's page, the list's
// htmx results, a search, both exports, the audit diff (partial and
// export), the history and a reveal.
func TestFieldAccess_EverySurfaceShowsWhatThePolicySays(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		fx := newPolicyFixture(t, db)
		clients := map[models.Role]*webtest.Client{}
		for _, r := range models.Roles {
			clients[r], _ = h.SignIn(t, r)
		}
		seen := map[string]bool{}
		for k, p := range coveringPolicies(t) {
			if _, err := db.UpdateFieldPolicy(context.Background(), system, p); err != nil {
				t.Fatalf("policy %d: %v", k, err)
			}
			for _, r := range models.Roles {
				c := clients[r]
				page := c.Get(userPath(fx.user.ID))
				wantStatus(t, page, http.StatusOK)
				list := c.Get("/users", htmxTo("user-results")...)
				wantStatus(t, list, http.StatusOK)
				wantFragment(t, list)
				csvRows := exportCSV(t, c)
				jsonRow := exportJSON(t, c)
				diff := c.Get("/audit/"+strconv.FormatInt(fx.update.Seq, 10)+"/diff", webtest.HTMX...)
				wantStatus(t, diff, http.StatusOK)
				auditJSON := auditExportDiff(t, c, fx.update.Seq)
				historyFields := ""
				byTestID(page.Doc, "history-row").Each(func(_ int, s *goquery.Selection) {
					if text(s.Find(`[data-testid="history-action"]`)) == "user.update" {
						historyFields = text(s.Find(`[data-testid="history-fields"]`))
					}
				})

				for _, fc := range fx.fields {
					st := p.State(r, fc.field)
					seen[string(r)+"/"+string(fc.field)+"/"+string(st)] = true
					name := string(r) + "/" + string(fc.field) + "/" + string(st)

					// The user's page.
					val := byTestID(page.Doc, fc.pageID)
					switch st {
					case models.FieldHidden:
						if val.Length() != 0 || byTestID(page.Doc, "hidden-"+string(fc.field)).Length() != 1 {
							t.Errorf("%s: page shows %q, want the field hidden", name, text(val))
						}
					case models.FieldVisible:
						if got := text(val); got != fc.clear {
							t.Errorf("%s: page shows %q, want %q", name, got, fc.clear)
						}
					default:
						if got := text(val); got != fc.masked {
							t.Errorf("%s: page shows %q, want %q", name, got, fc.masked)
						}
					}
					if st != models.FieldVisible && strings.Contains(page.Body, fc.clear) {
						t.Errorf("%s: the page holds the clear value", name)
					}
					if got, want := byTestID(page.Doc, "reveal-"+string(fc.field)).Length() == 1, st == models.FieldReveal; got != want {
						t.Errorf("%s: Reveal link shown %v, want %v", name, got, want)
					}

					// The list's rows (an htmx partial) show names and the first email.
					if fc.field == models.PolicyNames || fc.field == models.PolicyEmails {
						cell := "user-name"
						if fc.field == models.PolicyEmails {
							cell = "user-email"
						}
						row := list.Doc.Find(`[data-testid="user-row"][data-user-id="` + strconv.FormatInt(fx.user.ID, 10) + `"]`)
						want := map[models.FieldState]string{models.FieldVisible: fc.clear, models.FieldMasked: fc.masked,
							models.FieldReveal: fc.masked, models.FieldHidden: "Hidden"}[st]
						if got := text(row.Find(`[data-testid="` + cell + `"]`)); got != want {
							t.Errorf("%s: list row shows %q, want %q", name, got, want)
						}
					}

					// Search: a visible field by substring, a masked one by its
					// exact value only, a hidden one not at all.
					if fc.substr != "" {
						for _, q := range []struct {
							term  string
							found bool
						}{{fc.substr, st == models.FieldVisible}, {fc.exact, st != models.FieldHidden}} {
							res := c.Get("/users?q="+url.QueryEscape(q.term), htmxTo("user-results")...)
							wantStatus(t, res, http.StatusOK)
							row := res.Doc.Find(`[data-testid="user-row"][data-user-id="` + strconv.FormatInt(fx.user.ID, 10) + `"]`)
							if got := row.Length() == 1; got != q.found {
								t.Errorf("%s: search %q finds the user: %v, want %v", name, q.term, got, q.found)
							}
							if html, _ := row.Html(); st != models.FieldVisible && strings.Contains(html, fc.clear) {
								t.Errorf("%s: search %q lists the clear value", name, q.term)
							}
						}
					}

					// Both exports.
					if fc.neverInExports && (strings.Contains(csvRows.raw, fc.clear) || strings.Contains(jsonRow.raw, fc.clear)) {
						t.Errorf("%s: the export holds the sealed value", name)
					}
					for i, col := range fc.exportColumns {
						want := ""
						switch st {
						case models.FieldVisible:
							want = fc.exportClear[i]
						case models.FieldMasked, models.FieldReveal:
							want = fc.exportMasked[i]
						}
						if got := csvRows.row[col]; got != want {
							t.Errorf("%s: CSV %s is %q, want %q", name, col, got, want)
						}
						want = strings.TrimPrefix(want, "'")
						var got string
						switch v := jsonRow.row[col].(type) {
						case string:
							got = v
						case []any:
							if len(v) > 0 {
								got, _ = v[0].(string)
							}
						}
						if got != want {
							t.Errorf("%s: JSON %s is %q, want %q", name, col, got, want)
						}
					}

					// The audit diff (htmx partial and export) and the history
					// name the field's keys unless the field is hidden.
					for _, key := range fc.diffKeys {
						row := diff.Doc.Find(`[data-testid="audit-diff-row"][data-field="` + key + `"]`)
						_, inExport := auditJSON[key]
						inHistory := slices.Contains(strings.Split(historyFields, ", "), key)
						want := st != models.FieldHidden
						if (row.Length() == 1) != want || inExport != want || inHistory != want {
							t.Errorf("%s: diff key %s shown (partial %v, export %v, history %v), want %v",
								name, key, row.Length() == 1, inExport, inHistory, want)
						}
						if want && text(row.Find(`[data-testid="diff-after"]`)) != "[redacted]" {
							t.Errorf("%s: diff key %s after is %q, want [redacted]", name, key, text(row.Find(`[data-testid="diff-after"]`)))
						}
					}

					// A reveal works exactly where the policy says reveal. The
					// route itself is for admins and compliance only.
					rv := c.Post(userPath(fx.user.ID, "/reveal"), url.Values{"field": {string(fc.field)}, "reason": {"Policy test for ticket 77"}},
						webtest.HTMX...)
					if st == models.FieldReveal {
						wantStatus(t, rv, http.StatusOK)
						if got := text(byTestID(rv.Doc, "revealed")); got != fc.revealed {
							t.Errorf("%s: revealed %q, want %q", name, got, fc.revealed)
						}
					} else {
						wantStatus(t, rv, http.StatusForbidden)
						if strings.Contains(rv.Body, fc.clear) {
							t.Errorf("%s: a refused reveal answers the value", name)
						}
					}
				}
			}
		}
		// Every state each role may have for each field was checked.
		for _, r := range models.Roles {
			for _, f := range models.PersonalFields {
				for _, st := range allowedStates(r, f) {
					if !seen[string(r)+"/"+string(f)+"/"+string(st)] {
						t.Errorf("%s/%s/%s never checked", r, f, st)
					}
				}
			}
		}
	})
}

type csvExport struct {
	raw string
	row map[string]string
}

// exportCSV exports every user as CSV and returns the only user's row by
// column.
func exportCSV(t *testing.T, c *webtest.Client) csvExport {
	t.Helper()
	r := c.Post("/users/export", url.Values{"format": {"csv"}})
	wantStatus(t, r, http.StatusOK)
	recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("CSV export: %d records, %v", len(recs), err)
	}
	row := map[string]string{}
	for i, col := range recs[0] {
		row[col] = recs[1][i]
	}
	return csvExport{raw: r.Body, row: row}
}

type jsonExport struct {
	raw string
	row map[string]any
}

// exportJSON exports every user as JSON lines and returns the only line.
func exportJSON(t *testing.T, c *webtest.Client) jsonExport {
	t.Helper()
	r := c.Post("/users/export", url.Values{"format": {"jsonl"}})
	wantStatus(t, r, http.StatusOK)
	var row map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	n := 0
	for sc.Scan() {
		n++
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("JSON export line: %v", err)
		}
	}
	if n != 1 {
		t.Fatalf("JSON export has %d lines", n)
	}
	return jsonExport{raw: r.Body, row: row}
}

// auditExportDiff exports the audit log as JSON lines and returns the
// after side of the entry seq's diff.
func auditExportDiff(t *testing.T, c *webtest.Client, seq int64) map[string]any {
	t.Helper()
	r := c.Post("/audit/export", url.Values{"format": {"jsonl"}, "action": {"user.update"}})
	wantStatus(t, r, http.StatusOK)
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Seq  int64            `json:"seq"`
			Diff models.AuditDiff `json:"diff"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("audit export line: %v", err)
		}
		if line.Seq == seq {
			if line.Diff.After == nil {
				return map[string]any{}
			}
			return line.Diff.After
		}
	}
	t.Fatalf("entry %d is not in the audit export", seq)
	return nil
}

// TestFieldAccess_PolicyChangeHoldsOnTheNextRequest changes the policy on
// the settings page and sees an auditor's next request change.
func TestFieldAccess_PolicyChangeHoldsOnTheNextRequest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		fx := newPolicyFixture(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		auditor, _ := h.SignIn(t, models.RoleAuditor)

		emails := func() string { return text(byTestID(auditor.Get(userPath(fx.user.ID)).Doc, "identity-emails")) }
		if got := emails(); got != fx.fields[1].masked {
			t.Fatalf("by default an auditor sees %q, want %q", got, fx.fields[1].masked)
		}

		settings := admin.Get("/settings")
		wantStatus(t, settings, http.StatusOK)
		form := policyForm(t, settings)
		form.Set(models.PolicyCell(models.RoleAuditor, models.PolicyEmails), string(models.FieldVisible))
		r := admin.Post("/settings/field-policy", form, webtest.HTMX...)
		wantStatus(t, r, http.StatusOK)
		if byTestID(r.Doc, "field-policy-done").Length() != 1 {
			t.Fatalf("no confirmation:\n%s", r.Body)
		}
		if got := emails(); got != fx.fields[1].clear {
			t.Fatalf("after the change an auditor sees %q, want %q", got, fx.fields[1].clear)
		}

		form.Set(models.PolicyCell(models.RoleAuditor, models.PolicyEmails), string(models.FieldHidden))
		wantStatus(t, admin.Post("/settings/field-policy", form, webtest.HTMX...), http.StatusOK)
		page := auditor.Get(userPath(fx.user.ID))
		if byTestID(page.Doc, "hidden-emails").Length() != 1 || strings.Contains(page.Body, "gmail.com") {
			t.Fatalf("after hiding, an auditor still sees the email: %q", text(byTestID(page.Doc, "identity-emails")))
		}

		// Each change is one settings.update entry with the cell before and after.
		entries := auditEntries(t, db, "settings.update")
		if len(entries) != 2 {
			t.Fatalf("%d settings.update entries, want 2", len(entries))
		}
		d := entries[1].DecodeDiff()
		key := "field_policy." + models.PolicyCell(models.RoleAuditor, models.PolicyEmails)
		if d.Before[key] != "visible" || d.After[key] != "hidden" || len(d.After) != 1 || entries[1].TargetID != "field_policy" {
			t.Fatalf("entry diff %+v target %s", d, entries[1].TargetID)
		}
	})
}

// policyForm is the field policy grid's form as the page sends it.
func policyForm(t *testing.T, r *webtest.Response) url.Values {
	t.Helper()
	form := url.Values{}
	grid := byTestID(r.Doc, "field-policy-form")
	grid.Find("select").Each(func(_ int, s *goquery.Selection) {
		form.Set(s.AttrOr("name", ""), s.Find("option[selected]").AttrOr("value", ""))
	})
	if len(form) != len(models.Roles)*len(models.PersonalFields) {
		t.Fatalf("the grid has %d selects, want %d", len(form), len(models.Roles)*len(models.PersonalFields))
	}
	return form
}

// TestFieldAccess_RefusedPolicyIs422WithTheCellNamedAndNothingSaved sends
// policies the rules refuse, and hostile values.
func TestFieldAccess_RefusedPolicyIs422WithTheCellNamedAndNothingSaved(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		base := policyForm(t, admin.Get("/settings"))
		cases := []struct {
			name string
			set  map[string]string
			cell string
		}{
			{"auditors never reveal", map[string]string{"auditor.emails": "reveal"}, "auditor.emails"},
			{"auditors never see a sealed value", map[string]string{"auditor.ssn": "visible"}, "auditor.ssn"},
			{"admins edit names in clear", map[string]string{"admin.names": "masked"}, "admin.names"},
			{"someone reads the date of birth", map[string]string{"admin.date_of_birth": "masked", "compliance.date_of_birth": "hidden"}, "admin.date_of_birth"},
			{"unknown state", map[string]string{"compliance.address": "maybe"}, "compliance.address"},
			{"NUL byte", map[string]string{"compliance.address": "visible\x00"}, "compliance.address"},
			{"large value", map[string]string{"compliance.address": strings.Repeat("v", 256<<10)}, "compliance.address"},
			{"missing cell", map[string]string{"compliance.names": ""}, "compliance.names"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range base {
					form[k] = v
				}
				for k, v := range tc.set {
					form.Set(k, v)
				}
				for _, hx := range [][]string{webtest.HTMX, nil} {
					r := admin.Post("/settings/field-policy", form, hx...)
					wantStatus(t, r, http.StatusUnprocessableEntity)
					if got := text(byTestID(r.Doc, "error-"+tc.cell)); got == "" {
						t.Fatalf("no message beside %s", tc.cell)
					}
					// The other cells keep what was sent.
					sel := byTestID(r.Doc, "policy-compliance.phone_numbers").Find("option[selected]")
					if sel.AttrOr("value", "") != base.Get("compliance.phone_numbers") {
						t.Fatalf("values not kept")
					}
				}
				if n := len(auditEntries(t, db, "settings.update")); n != 0 {
					t.Fatalf("%d settings.update entries after a refused policy", n)
				}
				p, err := db.FieldPolicy(context.Background())
				if err != nil || !p.Equal(models.DefaultFieldPolicy()) {
					t.Fatalf("the policy changed: %v", err)
				}
			})
		}
		// Only admins change it.
		for _, r := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			c, _ := h.SignIn(t, r)
			wantStatus(t, c.Post("/settings/field-policy", base), http.StatusForbidden)
		}
	})
}
