package web_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone test needs America/Chicago

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// item is the element showing the item with this item_id.
func item(doc *goquery.Document, itemID string) *goquery.Selection {
	return doc.Find(`[data-testid="item"][data-item-id="` + itemID + `"]`)
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// wantNoClearPII fails if the page holds the SSN or date of birth in
// clear, in any spelling.
func wantNoClearPII(t *testing.T, r *webtest.Response, id *models.Identity) {
	t.Helper()
	for _, v := range []string{id.SSNFull, strings.ReplaceAll(id.SSNFull, "-", ""), id.DateOfBirth,
		strings.ReplaceAll(id.DateOfBirth, "-", ""), strings.ReplaceAll(id.DateOfBirth, "-", "/")} {
		if v != "" && strings.Contains(r.Body, v) {
			t.Fatalf("%s shows %q in clear", r.Request.URL, v)
		}
	}
}

func TestUserShow_IdentityMaskedItemsWithHealthAndHistory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		adminClient, admin := h.SignIn(t, models.RoleAdmin)
		id := sampleIdentity()
		id.PhoneNumbers = append(id.PhoneNumbers, "+14155550199")
		sensitiveIdentity(id)
		form := createForm(id)
		form.Set("phone_numbers", strings.Join(id.PhoneNumbers, "\n"))
		wantStatus(t, adminClient.Post("/users", form), http.StatusCreated)
		u := userByClientUserID(t, db, form.Get("client_user_id"))

		expires := time.Now().UTC().Add(72 * time.Hour)
		expiring := addItem(t, db, u.ID, all(atInstitution("ins_3", "Chase"), func(it *models.Item) {
			it.Products = models.StringList{"auth", "transactions"}
			it.ConsentExpirationTime = &expires
			it.UpdateType = "user_present_required"
			it.AuthMethod = ptr("INSTANT_AUTH")
		}))
		broken := addItem(t, db, u.ID, all(atInstitution("ins_4", "Wells Fargo"), func(it *models.Item) {
			reason, display, status := "OAUTH_CONSENT_EXPIRED", "The institution is down.", 400
			it.Error = &models.ItemError{ErrorType: "INSTITUTION_ERROR", ErrorCode: "INSTITUTION_DOWN",
				ErrorCodeReason: &reason, ErrorMessage: "this institution is not currently responding to this request",
				DisplayMessage: &display, RequestID: "HNTDNrA8F1shFEW", Status: &status,
				DocumentationURL: "https://plaid.com/docs/errors/institution/#institution_down"}
		}))
		plain := addItem(t, db, u.ID, nil)
		expired := addItem(t, db, u.ID, consentIn(-time.Hour))

		for _, role := range models.Roles {
			t.Run(string(role), func(t *testing.T) {
				c := adminClient
				if role != models.RoleAdmin {
					c, _ = h.SignIn(t, role)
				}
				r := c.Get(userPath(u.ID))
				wantStatus(t, r, http.StatusOK)
				wantNoClearPII(t, r, id)
				if got := text(byTestID(r.Doc, "masked-value-ssn")); got != "***-**-6789" {
					t.Fatalf("SSN shown as %q, want ***-**-6789", got)
				}
				if got := text(byTestID(r.Doc, "masked-value-date_of_birth")); got != "****-**-**" {
					t.Fatalf("date of birth shown as %q, want ****-**-**", got)
				}
				// The default field policy masks the rest for auditors.
				name, phones, emails := id.FirstName+" "+id.LastName, id.PhoneNumbers[0]+", +14155550199", id.Emails[0]
				if role == models.RoleAuditor {
					name = models.MaskName(id.FirstName) + " " + models.MaskName(id.LastName)
					phones = models.MaskPhone(id.PhoneNumbers[0]) + ", " + models.MaskPhone("+14155550199")
					emails = models.MaskEmail(id.Emails[0])
				}
				if got := text(byTestID(r.Doc, "user-title")); got != name {
					t.Fatalf("title %q, want %q", got, name)
				}
				if got := text(byTestID(r.Doc, "identity-phones")); got != phones {
					t.Fatalf("phones %q, want %q", got, phones)
				}
				if got := text(byTestID(r.Doc, "identity-emails")); got != emails {
					t.Fatalf("emails %q, want %q", got, emails)
				}
				if got := text(byTestID(r.Doc, "user-client-user-id")); got != u.ClientUserID {
					t.Fatalf("client_user_id %q", got)
				}
				if got := text(byTestID(r.Doc, "user-user-id")); got != u.UserID {
					t.Fatalf("user_id %q", got)
				}

				if n := byTestID(r.Doc, "item").Length(); n != 4 {
					t.Fatalf("%d items shown, want 4", n)
				}
				e := item(r.Doc, expiring.ItemID)
				for testid, want := range map[string]string{
					"item-institution":     "Chase",
					"item-products":        "auth, transactions",
					"item-consent-expires": expires.Format("2006-01-02 15:04"),
					"item-update-type":     "user_present_required",
					"item-auth-method":     "INSTANT_AUTH",
				} {
					if got := text(e.Find(`[data-testid="` + testid + `"]`)); got != want {
						t.Errorf("expiring item's %s is %q, want %q", testid, got, want)
					}
				}
				for itemID, want := range map[string]string{expiring.ItemID: "consent_expiring", broken.ItemID: "error",
					plain.ItemID: "healthy", expired.ItemID: "consent_expired"} {
					if got, _ := item(r.Doc, itemID).Find(`[data-testid="health"]`).Attr("data-health"); got != want {
						t.Errorf("item %s health %q, want %q", itemID, got, want)
					}
				}
				if got := text(item(r.Doc, broken.ItemID).Find(`[data-testid="health"]`)); got != "INSTITUTION_DOWN" {
					t.Errorf("the error badge says %q, want the code", got)
				}
				if got := text(item(r.Doc, plain.ItemID).Find(`[data-testid="item-institution"]`)); got != "No institution" {
					t.Errorf("an item without institution shows %q", got)
				}
				if got := text(item(r.Doc, plain.ItemID).Find(`[data-testid="item-update-type"]`)); got != "background" {
					t.Errorf("default update_type %q", got)
				}

				if n := byTestID(r.Doc, "item-error").Length(); n != 1 {
					t.Fatalf("%d item error objects, want 1 (the broken item's)", n)
				}
				errJSON := item(r.Doc, broken.ItemID).Find(`[data-testid="item-error"] [data-testid="item-error-json"]`).Text()
				for _, want := range []string{`"error_type": "INSTITUTION_ERROR"`, `"error_code": "INSTITUTION_DOWN"`,
					`"error_code_reason": "OAUTH_CONSENT_EXPIRED"`, `"error_message": "this institution is not currently responding to this request"`,
					`"display_message": "The institution is down."`, `"request_id": "HNTDNrA8F1shFEW"`, `"status": 400`,
					`"documentation_url": "https://plaid.com/docs/errors/institution/#institution_down"`, `"suggested_action": null`} {
					if !strings.Contains(errJSON, want) {
						t.Errorf("the error object lacks %s:\n%s", want, errJSON)
					}
				}

				// History: the creation by the admin, the items by the system.
				rows := byTestID(r.Doc, "history-row")
				if rows.Length() != 5 {
					t.Fatalf("%d history rows, want 5 (user.create and 4 item.create)", rows.Length())
				}
				var sawCreate bool
				rows.Each(func(_ int, row *goquery.Selection) {
					action := text(row.Find(`[data-testid="history-action"]`))
					actor := text(row.Find(`[data-testid="history-actor"]`))
					switch action {
					case "user.create":
						sawCreate = true
						if actor != admin.EmailAddress {
							t.Errorf("user.create by %q, want %s", actor, admin.EmailAddress)
						}
					case "item.create":
						if !strings.Contains(actor, "system") {
							t.Errorf("item.create by %q, want the system", actor)
						}
					default:
						t.Errorf("unexpected history action %q", action)
					}
				})
				if !sawCreate {
					t.Fatal("the history lacks user.create")
				}
			})
		}

		// The edit form does not hold them either.
		r := adminClient.Get(userPath(u.ID, "/edit"))
		wantStatus(t, r, http.StatusOK)
		wantNoClearPII(t, r, id)
		if got := fieldValue(t, r.Doc, "ssn_full"); got != "" {
			t.Fatalf("the edit form's SSN is %q", got)
		}
		if !strings.Contains(r.Body, "***-**-6789") {
			t.Fatal("the edit form does not say which SSN it keeps")
		}
	})
}

func TestUserShow_UnknownUserIs404(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		r := c.Get("/users/987654")
		wantStatus(t, r, http.StatusNotFound)
		if got := byTestID(r.Doc, "error-message").Text(); !strings.Contains(got, "No end user 987654") {
			t.Fatalf("404 message %q", got)
		}
	})
}

// --- reveal ---

func TestUserReveal_ReviewersSeeTheValueWithAReasonAndTheRevealIsAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		id := sampleIdentity()
		u := createUser(t, db, id).User
		for _, role := range []models.Role{models.RoleAdmin, models.RoleCompliance} {
			t.Run(string(role), func(t *testing.T) {
				c, m := h.SignIn(t, role)
				show := c.Get(userPath(u.ID))
				for _, field := range []string{"ssn", "date_of_birth"} {
					link := byTestID(show.Doc, "reveal-"+field)
					if href, _ := link.Attr("href"); href != userPath(u.ID, "/reveal?field="+field) {
						t.Fatalf("reveal link for %s: %q", field, href)
					}
				}

				form := c.Get(userPath(u.ID, "/reveal?field=ssn"))
				wantStatus(t, form, http.StatusOK)
				wantPage(t, form)
				wantNoClearPII(t, form, id)
				if v, _ := byTestID(form.Doc, "reveal-form").Find(`input[name="field"]`).Attr("value"); v != "ssn" {
					t.Fatalf("the reveal form asks for %q", v)
				}
				hxForm := c.Get(userPath(u.ID, "/reveal?field=date_of_birth"), htmxTo("reveal-date_of_birth")...)
				wantStatus(t, hxForm, http.StatusOK)
				wantFragment(t, hxForm)
				if byTestID(hxForm.Doc, "reveal-reason").Length() != 1 {
					t.Fatal("the htmx reveal form has no reason field")
				}

				before := len(auditForUser(t, db, u.ID, "user.pii_reveal"))
				short := c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"ssn"}, "reason": {"  because  "}})
				wantStatus(t, short, http.StatusUnprocessableEntity)
				wantNoClearPII(t, short, id)
				if got := byTestID(short.Doc, "error-reason").Text(); !strings.Contains(got, "at least 10 characters") {
					t.Fatalf("short reason message %q", got)
				}
				if got, _ := byTestID(short.Doc, "reveal-reason").Attr("value"); got != "  because  " {
					t.Fatalf("the typed reason is not kept: %q", got)
				}
				if n := len(auditForUser(t, db, u.ID, "user.pii_reveal")); n != before {
					t.Fatal("a refused reveal was audited")
				}

				reason := "Support ticket 4711: identity check by " + string(role)
				r := c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"ssn"}, "reason": {reason}})
				wantStatus(t, r, http.StatusOK)
				if got := text(byTestID(r.Doc, "revealed")); got != id.SSNFull {
					t.Fatalf("revealed %q, want the SSN", got)
				}
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Fatalf("Cache-Control %q, want no-store", cc)
				}
				entries := auditForUser(t, db, u.ID, "user.pii_reveal")
				if len(entries) != before+1 {
					t.Fatalf("%d new user.pii_reveal entries, want 1", len(entries)-before)
				}
				e := entries[len(entries)-1]
				if e.Reason != reason || e.ActorID != m.ID || !strings.Contains(e.Diff, `"ssn"`) || strings.Contains(e.Diff, id.SSNFull) {
					t.Fatalf("pii_reveal entry %+v", e)
				}

				hx := c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"date_of_birth"}, "reason": {reason}}, webtest.HTMX...)
				wantStatus(t, hx, http.StatusOK)
				wantFragment(t, hx)
				if got := text(byTestID(hx.Doc, "revealed")); got != id.DateOfBirth {
					t.Fatalf("revealed %q, want the date of birth", got)
				}
				if cc := hx.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Fatalf("Cache-Control %q, want no-store", cc)
				}

				// The history names the reveal and its reason; the page
				// itself stays masked.
				show = c.Get(userPath(u.ID))
				wantNoClearPII(t, show, id)
				var found bool
				byTestID(show.Doc, "history-row").Each(func(_ int, row *goquery.Selection) {
					if text(row.Find(`[data-testid="history-action"]`)) == "user.pii_reveal" &&
						text(row.Find(`[data-testid="history-reason"]`)) == reason &&
						text(row.Find(`[data-testid="history-actor"]`)) == m.EmailAddress {
						found = true
					}
				})
				if !found {
					t.Fatal("the history does not list the reveal with its reason and actor")
				}
			})
		}
	})
}

func TestUserReveal_AuditorGets403AndNoRevealLink(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		id := sampleIdentity()
		u := createUser(t, db, id).User
		c, _ := h.SignIn(t, models.RoleAuditor)

		show := c.Get(userPath(u.ID))
		wantStatus(t, show, http.StatusOK)
		if byTestID(show.Doc, "masked-ssn").Length() != 1 {
			t.Fatal("the auditor does not see the masked SSN")
		}
		if n := byTestID(show.Doc, "reveal-ssn").Length() + byTestID(show.Doc, "reveal-date_of_birth").Length(); n != 0 {
			t.Fatal("the auditor is offered a Reveal link")
		}
		if strings.Contains(show.Body, "/reveal") {
			t.Fatal("the auditor's page links to the reveal route")
		}

		for _, r := range []*webtest.Response{
			c.Get(userPath(u.ID, "/reveal?field=ssn")),
			c.Get(userPath(u.ID, "/reveal?field=ssn"), htmxTo("reveal-ssn")...),
			c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"ssn"}, "reason": {"I would like to see it please"}}),
			c.Post(userPath(u.ID, "/reveal"), url.Values{"field": {"date_of_birth"}, "reason": {"I would like to see it please"}}, webtest.HTMX...),
		} {
			wantStatus(t, r, http.StatusForbidden)
			wantNoClearPII(t, r, id)
		}
		if n := len(auditForUser(t, db, u.ID, "user.pii_reveal")); n != 0 {
			t.Fatalf("%d pii_reveal entries after the auditor's attempts", n)
		}
	})
}

func TestUserPages_TimesAreInTheMembersZoneWhateverTheServersZone(t *testing.T) {
	// PostgreSQL's driver returns times in the process's local zone; the
	// pages show them in the member's zone (UTC until one is known), so
	// they must convert. The zone is the process's, so the test runs
	// itself again in a process in America/Chicago (time/tzdata is linked
	// in, so the zone exists on any machine).
	const child = "LEDGERDESK_TEST_ZONE_CHILD"
	if os.Getenv(child) == "" {
		name := "^" + t.Name() + "$"
		cmd := exec.Command(os.Args[0], "-test.run="+name, "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), child+"=1", "TZ=America/Chicago")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("in a process whose zone is America/Chicago (%v):\n%s", err, out)
		}
		return
	}
	if _, offset := time.Now().Zone(); offset == 0 {
		t.Fatal("the child process runs at UTC: the test would prove nothing")
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, nil).User
		expires := time.Date(2031, 5, 4, 3, 2, 0, 0, time.UTC)
		it := addItem(t, db, u.ID, func(it *models.Item) { it.ConsentExpirationTime = &expires })
		stored := reloadUser(t, db, u.ID)

		for _, zone := range []string{"", "Asia/Tokyo"} {
			if zone != "" {
				setZone(t, c, zone)
			}
			loc := time.UTC
			if zone != "" {
				loc, _ = time.LoadLocation(zone)
			}
			show := c.Get(userPath(u.ID))
			expiry := item(show.Doc, it.ItemID).Find(`[data-testid="item-consent-expires"]`)
			if got, want := text(expiry), expires.In(loc).Format("2006-01-02 15:04"); got != want || utcTitle(expiry) != "2031-05-04 03:02:00 UTC" {
				t.Fatalf("zone %q: consent expiry shown as %q (%s), want %q (2031-05-04 03:02:00 UTC)", zone, got, utcTitle(expiry), want)
			}
			created := byTestID(show.Doc, "user-created")
			if want := stored.CreatedAt.In(loc).Format("2006-01-02 15:04"); text(created) != want ||
				utcTitle(created) != stored.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC") {
				t.Fatalf("zone %q: created shown as %q (%s), want %q", zone, text(created), utcTitle(created), want)
			}
			list := c.Get("/users")
			row := list.Doc.Find(`[data-testid="user-row"] [data-testid="user-created"]`)
			if want := stored.CreatedAt.In(loc).Format("2006-01-02 15:04"); text(row) != want {
				t.Fatalf("zone %q: the list shows created %q, want %q", zone, text(row), want)
			}
		}
	})
}
