package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/mail"
	"ledgerdesk/mail/mailtest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// insertTeam writes n members straight into the table (no password, so no
// argon2 cost), one a minute apart, roles and statuses in turn.
func insertTeam(t *testing.T, db *models.DB, prefix string, n int) []models.TeamMember {
	t.Helper()
	base := models.Now().Add(-24 * time.Hour)
	statuses := []models.MemberStatus{models.MemberActive, models.MemberInvited, models.MemberDeactivated}
	var out []models.TeamMember
	for i := 0; i < n; i++ {
		m := models.TeamMember{ID: models.NewMemberID(), EmailAddress: fmt.Sprintf("%s%02d@example.com", prefix, i),
			Status: statuses[i%3], Role: models.Roles[i%3], CreatedAt: base.Add(time.Duration(i) * time.Minute), UpdatedAt: base}
		if err := db.Gorm().Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// inviteLink creates an invitation through the form and returns the link
// the page shows, and the response.
func inviteLink(t *testing.T, admin *webtest.Client, email string, role models.Role) (string, *webtest.Response) {
	t.Helper()
	r := admin.Post("/team/invite", url.Values{"email": {email}, "role": {string(role)}})
	wantStatus(t, r, http.StatusCreated)
	link, _ := byTestID(r.Doc, "invite-link").Attr("value")
	if !strings.Contains(link, "/invite/") {
		t.Fatalf("the invitation page shows no link:\n%s", r.Body)
	}
	webtest.Sensitive(link[strings.LastIndex(link, "/")+1:])
	return link[strings.Index(link, "/invite/"):], r
}

func TestTeamList_PagesByCursorFiltersAndSearches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		insertTeam(t, db, "teamlist", 30)

		r := admin.Get("/team")
		wantStatus(t, r, http.StatusOK)
		if n := byTestID(r.Doc, "team-row").Length(); n != 25 {
			t.Fatalf("first page has %d rows, want 25", n)
		}
		if byTestID(r.Doc, "pager-prev").Length() != 0 {
			t.Fatal("the first page links to a newer page")
		}
		next, ok := byTestID(r.Doc, "pager-next").Attr("href")
		if !ok || !strings.Contains(next, "cursor=") || strings.Contains(next, "offset") {
			t.Fatalf("next link %q", next)
		}
		r = admin.Get(next)
		// 31 members: the signed-in admin and the 30 inserted.
		if n := byTestID(r.Doc, "team-row").Length(); n != 6 {
			t.Fatalf("second page has %d rows, want 6", n)
		}
		if byTestID(r.Doc, "pager-next").Length() != 0 || byTestID(r.Doc, "pager-prev").Length() != 1 {
			t.Fatal("the last page has a next link, or no way back")
		}

		r = admin.Get("/team?status=invited&role=compliance")
		rows := byTestID(r.Doc, "team-row")
		if rows.Length() != 10 {
			t.Fatalf("%d invited compliance reviewers, want 10", rows.Length())
		}
		if got := byTestID(r.Doc, "member-status").First().AttrOr("data-status", ""); got != "invited" {
			t.Fatalf("status badge %q", got)
		}
		r = admin.Get("/team?q=TEAMLIST07", webtest.HTMX[0], webtest.HTMX[1], "HX-Target", "team-results")
		if !isFragment(r.Body) || byTestID(r.Doc, "team-row").Length() != 1 ||
			strings.TrimSpace(byTestID(r.Doc, "team-email").Text()) != "teamlist07@example.com" {
			t.Fatalf("search fragment:\n%s", r.Body)
		}
		if got := r.Header.Get("Vary"); !strings.Contains(got, "HX-Request") {
			t.Fatalf("Vary %q", got)
		}
		wantStatus(t, admin.Get("/team?cursor=garbage"), http.StatusUnprocessableEntity)
	})
}

func TestTeamInvite_LinkWorksOnceAndTheInviteeSignsIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, adminMember := h.SignIn(t, models.RoleAdmin)

		// Bad input: 422, the message beside the field, the values kept.
		r := admin.Post("/team/invite", url.Values{"email": {"not-an-email"}, "role": {"compliance"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if byTestID(r.Doc, "error-email").Length() != 1 || r.Doc.Find(`#f-email`).AttrOr("value", "") != "not-an-email" ||
			r.Doc.Find(`select[name="role"] option[selected]`).AttrOr("value", "") != "compliance" {
			t.Fatalf("422 form:\n%s", r.Body)
		}

		link, r := inviteLink(t, admin, "Reviewer@Example.com", models.RoleCompliance)
		if byTestID(r.Doc, "invite-mailed").Length()+byTestID(r.Doc, "invite-mail-error").Length() != 0 {
			t.Fatal("without SMTP the page talks about mail")
		}
		es := auditEntries(t, db, "team.invite")
		if len(es) != 1 || es[0].ActorID != adminMember.ID {
			t.Fatalf("team.invite entries %+v", es)
		}

		visitor := h.Client(t)
		r = visitor.Get(link)
		wantStatus(t, r, http.StatusOK)
		if got := byTestID(r.Doc, "invite-email").Text(); got != "reviewer@example.com" {
			t.Fatalf("the invitation page names %q", got)
		}
		r = visitor.Post(link, url.Values{"password": {"qwerty123456"}, "confirm": {"qwerty123456"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(byTestID(r.Doc, "error-password").Text(), "commonly used") {
			t.Fatalf("common password:\n%s", r.Body)
		}
		if r.Doc.Find(`#f-password`).AttrOr("value", "") != "" {
			t.Fatal("the page echoes the typed password")
		}
		pw := "lantern " + models.RandomToken(9)
		webtest.Sensitive(pw)
		r = visitor.Post(link, url.Values{"password": {pw}, "confirm": {pw}})
		wantRedirect(t, r, "/login?welcome=1")
		r = visitor.Get("/login?welcome=1")
		if !strings.Contains(byTestID(r.Doc, "login-notice").Text(), "password is set") {
			t.Fatalf("login notice:\n%s", r.Body)
		}
		visitor.Login("reviewer@example.com", pw)
		r = visitor.Get("/")
		if got := byTestID(r.Doc, "member-role").Text(); got != "Compliance reviewer" {
			t.Fatalf("signed in as %q", got)
		}
		if n := len(auditEntries(t, db, "team.accept")); n != 1 {
			t.Fatalf("%d team.accept entries", n)
		}

		// The link worked once.
		for _, c := range []*webtest.Client{h.Client(t), visitor} {
			r = c.Get(link)
			wantStatus(t, r, http.StatusNotFound)
			if !strings.Contains(byTestID(r.Doc, "invite-invalid-message").Text(), "already used") {
				t.Fatalf("used link:\n%s", r.Body)
			}
		}
		anon := h.Client(t)
		wantStatus(t, anon.Post(link, url.Values{"password": {pw + "x"}, "confirm": {pw + "x"}}), http.StatusNotFound)
		wantStatus(t, anon.Get("/invite/"+models.RandomToken(32)), http.StatusNotFound)
	})
}

func TestTeamInvite_ExpiredLinkIsRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		link, _ := inviteLink(t, admin, "late@example.com", models.RoleAuditor)
		if err := db.Gorm().Exec(`UPDATE team_invitations SET expires_at = ?`, models.Now().Add(-time.Second)).Error; err != nil {
			t.Fatal(err)
		}
		r := h.Client(t).Get(link)
		wantStatus(t, r, http.StatusNotFound)
		if !strings.Contains(byTestID(r.Doc, "invite-invalid-message").Text(), "expired") {
			t.Fatalf("expired link:\n%s", r.Body)
		}
	})
}

func TestTeamInvite_ResendReplacesTheLinkAndRevokeWithdrawsIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		old, _ := inviteLink(t, admin, "twice@example.com", models.RoleAuditor)
		m := auditEntries(t, db, "team.invite")[0].TargetID

		r := admin.Post("/team/"+m+"/invite/resend", nil)
		wantStatus(t, r, http.StatusOK)
		fresh, _ := byTestID(r.Doc, "invite-link").Attr("value")
		fresh = fresh[strings.Index(fresh, "/invite/"):]
		webtest.Sensitive(fresh[len("/invite/"):])
		if fresh == old {
			t.Fatal("resend showed the same link")
		}
		visitor := h.Client(t)
		if r := visitor.Get(old); r.StatusCode != http.StatusNotFound || !strings.Contains(r.Body, "newer one") {
			t.Fatalf("old link after resend: %d", r.StatusCode)
		}
		wantStatus(t, visitor.Get(fresh), http.StatusOK)

		r = admin.Get("/team/" + m)
		if !strings.Contains(byTestID(r.Doc, "invitation-expires").Text(), "valid until") {
			t.Fatalf("the member page does not say until when the link works:\n%s", r.Body)
		}
		if err := db.Gorm().Exec(`UPDATE team_invitations SET expires_at = ? WHERE member_id = ?`, models.Now().Add(-time.Second), m).Error; err != nil {
			t.Fatal(err)
		}
		if r = admin.Get("/team/" + m); !strings.Contains(byTestID(r.Doc, "invitation-expires").Text(), "expired") {
			t.Fatal("the member page does not say the link expired")
		}
		r = admin.Post("/team/"+m+"/invite/revoke", nil)
		wantRedirect(t, r, "/team/"+m)
		r = admin.Get("/team/" + m)
		if !strings.Contains(byTestID(r.Doc, "flash").Text(), "revoked") || byTestID(r.Doc, "member-status").AttrOr("data-status", "") != "deactivated" {
			t.Fatalf("after revoking:\n%s", r.Body)
		}
		if byTestID(r.Doc, "invite-resend").Length() != 1 || byTestID(r.Doc, "member-reactivate").Length() != 0 {
			t.Fatal("a revoked invitee should be invited again, not reactivated")
		}
		wantStatus(t, visitor.Get(fresh), http.StatusNotFound)
		// Revoking again: a clear refusal on the page, nothing changed.
		r = admin.Post("/team/"+m+"/invite/revoke", nil)
		wantStatus(t, r, http.StatusConflict)
		if !strings.Contains(byTestID(r.Doc, "team-error").Text(), "no open invitation") {
			t.Fatalf("second revoke:\n%s", r.Body)
		}
		for _, a := range []string{"team.invite_resend", "team.invite_revoke"} {
			if n := len(auditEntries(t, db, a)); n != 1 {
				t.Fatalf("%d %s entries", n, a)
			}
		}
	})
}

func TestTeamInvite_MailedWhenSMTPIsSetAndKeptWhenMailFails(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		srv := mailtest.Start(t)
		sender, err := mail.Parse(srv.URL(), "Ledgerdesk <noreply@example.com>")
		if err != nil {
			t.Fatal(err)
		}
		h := webtest.New(t, db, func(c *web.Config) { c.Mailer = sender; c.PublicURL = "https://ledgerdesk.example.com/" })
		admin, _ := h.SignIn(t, models.RoleAdmin)
		link, r := inviteLink(t, admin, "mailed@example.com", models.RoleAuditor)
		if byTestID(r.Doc, "invite-mailed").Length() != 1 {
			t.Fatalf("no mailed note:\n%s", r.Body)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || msgs[0].To != "mailed@example.com" || !strings.Contains(msgs[0].Data, "https://ledgerdesk.example.com"+link) {
			t.Fatalf("mail %+v", msgs)
		}

		// A server that cannot be reached: the page says so, and the
		// invitation stands.
		dead, err := mail.Parse("smtp://127.0.0.1:1", "noreply@example.com")
		if err != nil {
			t.Fatal(err)
		}
		h2 := webtest.New(t, db, func(c *web.Config) { c.Mailer = dead })
		admin2 := admin.On(h2)
		link, r = inviteLink(t, admin2, "unmailed@example.com", models.RoleAuditor)
		if !strings.Contains(byTestID(r.Doc, "invite-mail-error").Text(), "valid all the same") {
			t.Fatalf("no mail error:\n%s", r.Body)
		}
		wantStatus(t, h.Client(t).Get(link), http.StatusOK)
	})
}

func TestTeam_DeactivationSendsTheMembersNextRequestToLogin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		member, m := h.SignIn(t, models.RoleCompliance)
		pageOpen := member.On(h) // a second browser of the same member
		wantStatus(t, member.Get("/users"), http.StatusOK)

		r := admin.Post("/team/"+m.ID+"/deactivate", nil)
		wantRedirect(t, r, "/team/"+m.ID)
		r = admin.Get("/team/" + m.ID)
		if !strings.Contains(byTestID(r.Doc, "flash").Text(), "1 session ended") {
			t.Fatalf("flash %q", byTestID(r.Doc, "flash").Text())
		}
		wantRedirect(t, member.Get("/users"), "/login?next=")
		hx := pageOpen.Get("/users", webtest.HTMX...)
		wantStatus(t, hx, http.StatusUnauthorized)
		if !strings.HasPrefix(hx.Header.Get("HX-Redirect"), "/login") {
			t.Fatalf("htmx request after deactivation: HX-Redirect %q", hx.Header.Get("HX-Redirect"))
		}
		if e := auditEntries(t, db, "team.deactivate"); len(e) != 1 || e[0].TargetID != m.ID {
			t.Fatalf("team.deactivate entries %+v", e)
		}

		r = admin.Post("/team/"+m.ID+"/reactivate", nil)
		wantRedirect(t, r, "/team/"+m.ID)
		if got, _ := db.MemberByID(context.Background(), m.ID); got.Status != models.MemberActive {
			t.Fatalf("status after reactivation %s", got.Status)
		}
	})
}

func TestTeam_LastAdminIsNeitherDemotedNorDeactivated(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, me := h.SignIn(t, models.RoleAdmin)
		r := admin.Post("/team/"+me.ID+"/role", url.Values{"role": {"auditor"}})
		wantStatus(t, r, http.StatusConflict)
		if msg := byTestID(r.Doc, "team-error").Text(); !strings.Contains(msg, "last active admin") || !strings.Contains(msg, "Nothing was changed") {
			t.Fatalf("demoting the last admin:\n%s", r.Body)
		}
		// htmx gets the message in the flash area.
		r = admin.Post("/team/"+me.ID+"/role", url.Values{"role": {"compliance"}}, webtest.HTMX...)
		wantStatus(t, r, http.StatusConflict)
		if !strings.Contains(byTestID(r.Doc, "alert").Text(), "last active admin") {
			t.Fatalf("htmx refusal:\n%s", r.Body)
		}
		r = admin.Post("/team/"+me.ID+"/deactivate", nil)
		wantStatus(t, r, http.StatusForbidden)
		if got, _ := db.MemberByID(context.Background(), me.ID); got.Role != models.RoleAdmin || got.Status != models.MemberActive {
			t.Fatalf("the last admin became %s/%s", got.Role, got.Status)
		}
		if n := len(auditEntries(t, db, "team.role_change")); n != 0 {
			t.Fatalf("%d team.role_change entries after refusals", n)
		}

		// Another admin can be demoted while one remains.
		_, other := h.SignIn(t, models.RoleAdmin)
		wantRedirect(t, admin.Post("/team/"+other.ID+"/role", url.Values{"role": {"auditor"}}), "/team/"+other.ID)
		if got, _ := db.MemberByID(context.Background(), other.ID); got.Role != models.RoleAuditor {
			t.Fatalf("role %s", got.Role)
		}
		// With another admin, an admin may step down, and lands on the
		// overview: the team screens are no longer theirs.
		h.SignIn(t, models.RoleAdmin)
		wantRedirect(t, admin.Post("/team/"+me.ID+"/role", url.Values{"role": {"compliance"}}), "/")
		wantStatus(t, admin.Get("/team"), http.StatusForbidden)
	})
}

func TestSessions_OwnListEndOneAndEndOthers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		here := h.Client(t)
		here.Login(m.EmailAddress, pw)
		phone := h.Client(t)
		phoneUA := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
		wantStatus(t, phone.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "User-Agent", phoneUA), http.StatusSeeOther)
		laptop := h.Client(t)
		laptop.Login(m.EmailAddress, pw)

		r := here.Get("/account/sessions")
		wantStatus(t, r, http.StatusOK)
		list := r.Doc
		rows := byTestID(list, "session-row")
		if rows.Length() != 3 || byTestID(r.Doc, "session-current").Length() != 1 {
			t.Fatalf("%d sessions listed:\n%s", rows.Length(), r.Body)
		}
		if !strings.Contains(byTestID(r.Doc, "sessions").Text(), "Safari on iPhone") {
			t.Fatalf("the phone's device is not named:\n%s", byTestID(r.Doc, "sessions").Text())
		}
		if ip := byTestID(r.Doc, "session-ip").First().Text(); ip != webtest.ClientIP {
			t.Fatalf("IP %q", ip)
		}
		// The current session has no End button; the other two do.
		if n := byTestID(r.Doc, "session-end").Length(); n != 2 {
			t.Fatalf("%d End buttons, want 2", n)
		}
		var phoneHandle string
		rows.Each(func(_ int, s *goquery.Selection) {
			if strings.Contains(s.Text(), "iPhone") {
				phoneHandle = s.AttrOr("data-session", "")
			}
		})
		r = here.Post("/account/sessions/"+phoneHandle+"/end", nil)
		wantRedirect(t, r, "/account/sessions")
		wantRedirect(t, phone.Get("/"), "/login")
		wantStatus(t, laptop.Get("/"), http.StatusOK)
		if e := auditEntries(t, db, "session.end"); len(e) != 1 || e[0].ActorID != m.ID || e[0].TargetID != m.ID {
			t.Fatalf("session.end entries %+v", e)
		}
		// Ending it again, or the current one, changes nothing.
		r = here.Post("/account/sessions/"+phoneHandle+"/end", nil)
		wantRedirect(t, r, "/account/sessions")
		if !strings.Contains(byTestID(here.Get("/account/sessions").Doc, "flash").Text(), "already ended") {
			t.Fatal("no note that the session had already ended")
		}
		current := byTestID(list, "session-current").Closest(`[data-testid="session-row"]`).AttrOr("data-session", "")
		wantRedirect(t, here.Post("/account/sessions/"+current+"/end", nil), "/account/sessions")
		if !strings.Contains(byTestID(here.Get("/account/sessions").Doc, "flash").Text(), "session you are using") {
			t.Fatal("ending the current session from the list was not refused with a note")
		}
		wantStatus(t, here.Get("/"), http.StatusOK)
		wantStatus(t, laptop.Get("/"), http.StatusOK)

		r = here.Post("/account/sessions/end-others", nil)
		wantRedirect(t, r, "/account/sessions")
		wantRedirect(t, laptop.Get("/"), "/login")
		wantStatus(t, here.Get("/"), http.StatusOK)
		if e := auditEntries(t, db, "session.end_others"); len(e) != 1 {
			t.Fatalf("session.end_others entries %+v", e)
		}
	})
}

func TestSessions_AdminSeesAndEndsAMembersSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, adminMember := h.SignIn(t, models.RoleAdmin)
		member, m := h.SignIn(t, models.RoleCompliance)
		r := admin.Get("/team/" + m.ID)
		wantStatus(t, r, http.StatusOK)
		rows := byTestID(r.Doc, "member-sessions").Find(`[data-testid="session-row"]`)
		if rows.Length() != 1 || byTestID(r.Doc, "session-current").Length() != 0 {
			t.Fatalf("member's sessions on their page:\n%s", r.Body)
		}
		if !strings.Contains(byTestID(r.Doc, "member-activity").Text(), "auth.login") {
			t.Fatal("the member's activity does not show their sign-in")
		}
		handle := rows.AttrOr("data-session", "")
		wantRedirect(t, admin.Post("/team/"+m.ID+"/sessions/"+handle+"/end", nil), "/team/"+m.ID)
		wantRedirect(t, member.Get("/"), "/login")
		e := auditEntries(t, db, "session.end")
		if len(e) != 1 || e[0].ActorID != adminMember.ID || e[0].TargetID != m.ID {
			t.Fatalf("session.end entries %+v", e)
		}
		r = admin.Get("/team/" + m.ID)
		if !strings.Contains(byTestID(r.Doc, "member-activity").Text(), "session.end") {
			t.Fatal("the ending is not in the member's activity")
		}
		wantStatus(t, admin.Get("/team/"+strings.Repeat("z", 24)), http.StatusNotFound)
		wantStatus(t, admin.Get("/team/"+models.NewMemberID()), http.StatusNotFound)
	})
}

func TestAccountPassword_RefusesACommonPassword(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		m, pw := h.Member(t, models.RoleAuditor)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		r := c.Post("/account/password", url.Values{"current": {pw}, "new": {"1q2w3e4r5t6y"}, "confirm": {"1q2w3e4r5t6y"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(byTestID(r.Doc, "error-new").Text(), "commonly used") {
			t.Fatalf("common new password:\n%s", r.Body)
		}
	})
}

func TestRefusedForms_HTMXKeepsTheAddressBarOnThePage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, me := h.SignIn(t, models.RoleAdmin)
		u := createUser(t, db, sampleIdentity()).User
		stale := editForm(t, admin, u.ID)
		stale.Set("version", "7")
		invalid := editForm(t, admin, u.ID)
		invalid.Set("date_of_birth", "1987-02-30")

		cases := []struct {
			name, path string
			form       url.Values
			status     int
			page       string
		}{
			{"demoting the last admin", "/team/" + me.ID + "/role", url.Values{"role": {"auditor"}}, http.StatusConflict, "/team/" + me.ID},
			{"a stale user edit", userPath(u.ID), stale, http.StatusConflict, userPath(u.ID, "/edit")},
			{"an invalid user edit", userPath(u.ID), invalid, http.StatusUnprocessableEntity, userPath(u.ID, "/edit")},
			{"an invalid new user", "/users", url.Values{"client_user_id": {""}}, http.StatusUnprocessableEntity, "/users/new"},
			{"an invalid webhook", "/webhooks", url.Values{"url": {"not a url"}}, http.StatusUnprocessableEntity, "/webhooks/new"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hx := admin.Post(tc.path, tc.form, webtest.HTMX...)
				wantStatus(t, hx, tc.status)
				if got := hx.Header.Get("HX-Replace-Url"); got != tc.page {
					t.Errorf("htmx: HX-Replace-Url %q, want %q", got, tc.page)
				}
				// Without htmx the page is answered as it is.
				plain := admin.Post(tc.path, tc.form)
				wantStatus(t, plain, tc.status)
				if got := plain.Header.Get("HX-Replace-Url"); got != "" {
					t.Errorf("plain form: HX-Replace-Url %q", got)
				}
			})
		}
		// The role form goes through htmx, so the refusal above is the one
		// a browser gets.
		if hx, _ := byTestID(admin.Get("/team/"+me.ID).Doc, "role-form").Attr("hx-post"); hx != "/team/"+me.ID+"/role" {
			t.Fatalf("the role form's hx-post is %q", hx)
		}
	})
}
