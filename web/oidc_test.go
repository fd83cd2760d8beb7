package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/sso"
	"ledgerdesk/sso/ssotest"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// oidcPortal is the portal with a real OpenID Connect provider beside it.
type oidcPortal struct {
	*webtest.Harness
	idp *ssotest.Provider
}

const oidcPublicURL = "https://portal.example.com"

func newOIDCPortal(t *testing.T, db *models.DB) *oidcPortal {
	t.Helper()
	idp := ssotest.New(t)
	webtest.Sensitive(idp.ClientSecret)
	client, err := sso.New(sso.Config{Issuer: idp.URL, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
		PublicURL: oidcPublicURL, Name: "Acme Login"})
	if err != nil {
		t.Fatal(err)
	}
	h := webtest.New(t, db, func(c *web.Config) { c.SSO = client })
	return &oidcPortal{Harness: h, idp: idp}
}

// mapGroups stores the role mapping (and allowed domains) as an admin would.
func (p *oidcPortal) mapGroups(t *testing.T, s models.SSOSettings) {
	t.Helper()
	if _, err := p.DB.UpdateSSOSettings(context.Background(), models.Origin{Actor: models.SystemActor}, s, true); err != nil {
		t.Fatal(err)
	}
}

// start follows "Sign in with …" and the provider, and returns the URL the
// provider sends the browser back to.
func (p *oidcPortal) start(t *testing.T, c *webtest.Client, next string) string {
	t.Helper()
	path := "/login/oidc"
	if next != "" {
		path += "?next=" + url.QueryEscape(next)
	}
	r := c.Get(path)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET %s: status %d, want 303 to the provider\n%s", path, r.StatusCode, r.Body)
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, p.idp.URL+"/authorize?") {
		t.Fatalf("sign-in goes to %s, want the provider's authorization endpoint", loc)
	}
	q, _ := url.Parse(loc)
	if q.Query().Get("redirect_uri") != oidcPublicURL+"/login/oidc/callback" {
		t.Fatalf("redirect_uri %q does not derive from the public URL", q.Query().Get("redirect_uri"))
	}
	back := p.idp.Authorize(t, loc)
	if !strings.HasPrefix(back, oidcPublicURL+"/login/oidc/callback?") {
		t.Fatalf("the provider sends the browser to %s", back)
	}
	return back
}

// callback delivers the provider's answer to the portal.
func callback(c *webtest.Client, back string) *webtest.Response {
	u, _ := url.Parse(back)
	return c.Get(u.RequestURI())
}

// signIn is start then callback.
func (p *oidcPortal) signIn(t *testing.T, c *webtest.Client, next string) *webtest.Response {
	t.Helper()
	return callback(c, p.start(t, c, next))
}

// refusal checks a refusal page and returns its reason.
func refusal(t *testing.T, r *webtest.Response, status int) string {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, status, r.Body)
	}
	if r.Doc == nil || byTestID(r.Doc, "oidc-refused").Length() != 1 {
		t.Fatalf("no refusal page:\n%s", r.Body)
	}
	if c := responseCookieByPrefix(r, "ledgerdesk_session"); c != nil && c.MaxAge >= 0 && c.Value != "" {
		t.Fatal("a refused sign-in set a session cookie")
	}
	reason, _ := byTestID(r.Doc, "oidc-refused").Attr("data-reason")
	return reason
}

func responseCookieByPrefix(r *webtest.Response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if strings.HasSuffix(ck.Name, name) {
			return ck
		}
	}
	return nil
}

// lastAudit returns the newest entry with action.
func lastAudit(t *testing.T, db *models.DB, action string) (models.AuditEntry, map[string]any) {
	t.Helper()
	entries, err := db.AuditHistory(context.Background(), models.AuditFilter{Action: action}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("no %s entry in the audit log", action)
	}
	var diff struct {
		After map[string]any `json:"after"`
	}
	_ = json.Unmarshal([]byte(entries[0].Diff), &diff)
	return entries[0], diff.After
}

func staffMapping() models.SSOSettings {
	return models.SSOSettings{RoleMap: []models.GroupRole{
		{Group: "ledgerdesk-admins", Role: models.RoleAdmin}, {Group: "risk", Role: models.RoleCompliance}, {Group: "audit", Role: models.RoleAuditor}}}
}

func TestOIDC_InvitedMemberSignsInThroughTheProviderLikeAPasswordSignIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		p.mapGroups(t, staffMapping())
		inv, err := db.InviteMember(context.Background(), models.Origin{Actor: models.SystemActor},
			models.NewInvitee{Email: "dana@acme.example", Role: models.RoleAuditor})
		if err != nil {
			t.Fatal(err)
		}
		p.idp.SignInAs(ssotest.User{Subject: "sub-dana", Email: "Dana@acme.example", EmailVerified: true, Groups: []string{"risk", "everyone"}})

		c := p.Client(t)
		login := c.Get("/login")
		if got := strings.TrimSpace(byTestID(login.Doc, "login-oidc").Text()); got != "Sign in with Acme Login" {
			t.Fatalf("the sign-in page offers %q", got)
		}
		visitorToken := c.CSRF
		r := p.signIn(t, c, "/users?q=x")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/users?q=x" {
			t.Fatalf("callback: status %d to %q, want 303 to the page asked for\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
		}
		if ck := responseCookie(r, "ledgerdesk_oidc"); ck == nil || ck.Value != "" {
			t.Fatal("the callback did not clear its cookie")
		}
		if ck := responseCookie(r, webtest.CSRFCookie); ck == nil || (ck.Value != "" && ck.MaxAge >= 0) {
			t.Fatal("the visitor's CSRF binding outlived the sign-in")
		}
		home := c.Get("/")
		if home.StatusCode != http.StatusOK || byTestID(home.Doc, "nav").Length() == 0 {
			t.Fatalf("after the callback / answers %d without the navigation", home.StatusCode)
		}
		if c.CSRF == visitorToken {
			t.Fatal("the CSRF token did not change at sign-in")
		}
		m, err := db.MemberByID(context.Background(), inv.Member.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != models.MemberActive || m.Role != models.RoleCompliance {
			t.Fatalf("member is %s %s, want active compliance (the group's role)", m.Status, m.Role)
		}
		rows := sessionRowsOf(t, db, m.ID)
		if len(rows) != 1 || rows[0].MFAStage != models.SignedIn {
			t.Fatalf("%d sessions, want one completed", len(rows))
		}
		e, after := lastAudit(t, db, "auth.login")
		if e.TargetID != m.ID || after["method"] != "oidc" || after["linked"] != true {
			t.Fatalf("auth.login entry %+v %v", e, after)
		}
		if _, after := lastAudit(t, db, "team.invite_accept"); after["via"] != "oidc" {
			t.Fatalf("invitation acceptance audited as %v", after)
		}

		// Later sign-ins find the member by subject, whatever the email
		// now says, and the role follows the groups.
		c2 := p.Client(t)
		p.idp.SignInAs(ssotest.User{Subject: "sub-dana", Email: "dana.new@elsewhere.example", EmailVerified: false, Groups: []string{"audit"}})
		if r := p.signIn(t, c2, ""); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("second sign-in: %d %s", r.StatusCode, r.Body)
		}
		if m, _ := db.MemberByID(context.Background(), m.ID); m.Role != models.RoleAuditor {
			t.Fatalf("role %s after the groups changed, want auditor", m.Role)
		}
	})
}

func TestOIDC_TokensThatDoNotVerifyAreRefused(t *testing.T) {
	cases := []struct {
		name, reason string
		tamper       func(map[string]any)
	}{
		{"wrong audience", "token_invalid", func(c map[string]any) { c["aud"] = "another-client" }},
		{"expired", "token_expired", func(c map[string]any) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
		}},
		{"another nonce", "nonce_mismatch", func(c map[string]any) { c["nonce"] = "someone-elses-sign-in" }},
		{"another issuer", "token_invalid", func(c map[string]any) { c["iss"] = "https://evil.example" }},
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		p.mapGroups(t, staffMapping())
		m, _ := p.Member(t, models.RoleAdmin)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p.idp.SignInAs(ssotest.User{Subject: "sub-" + m.ID, Email: m.EmailAddress, EmailVerified: true, Groups: []string{"ledgerdesk-admins"}})
				p.idp.Tamper(tc.tamper)
				c := p.Client(t)
				if got := refusal(t, p.signIn(t, c, ""), http.StatusUnauthorized); got != tc.reason {
					t.Fatalf("refused as %q, want %q", got, tc.reason)
				}
				if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
					t.Fatalf("%d sessions after a refused token", n)
				}
				if _, after := lastAudit(t, db, "auth.login_failed"); after["reason"] != tc.reason || after["method"] != "oidc" {
					t.Fatalf("audited as %v", after)
				}
			})
		}
	})
}

func TestOIDC_AStateWorksOnceAndOnlyInTheBrowserThatBeganIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		p.mapGroups(t, staffMapping())
		m, _ := p.Member(t, models.RoleCompliance)
		p.idp.SignInAs(ssotest.User{Subject: "s1", Email: m.EmailAddress, EmailVerified: true, Groups: []string{"risk"}})

		// Another browser cannot finish this one's sign-in.
		c := p.Client(t)
		back := p.start(t, c, "")
		thief := p.Client(t)
		if got := refusal(t, callback(thief, back), http.StatusBadRequest); got != "state_invalid" {
			t.Fatalf("another browser's callback refused as %q", got)
		}

		c = p.Client(t)
		back = p.start(t, c, "")
		cookie := c.Cookies["ledgerdesk_oidc"]
		if r := callback(c, back); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %d %s", r.StatusCode, r.Body)
		}
		// The same answer again, with the cookie put back: refused before
		// the code is even tried.
		exchanges := p.idp.TokenRequests()
		replay := p.Client(t)
		replay.Cookies["ledgerdesk_oidc"] = cookie
		if got := refusal(t, callback(replay, back), http.StatusBadRequest); got != "state_invalid" {
			t.Fatalf("a replayed state refused as %q", got)
		}
		if p.idp.TokenRequests() != exchanges {
			t.Fatal("a replayed state reached the token endpoint")
		}
		if n := len(sessionRowsOf(t, db, m.ID)); n != 1 {
			t.Fatalf("%d sessions, want the first sign-in's only", n)
		}

		// An expired one is refused too.
		clock := time.Now()
		db.SetClock(func() time.Time { return clock })
		c = p.Client(t)
		back = p.start(t, c, "")
		clock = clock.Add(models.OIDCStateLifetime + time.Second)
		if got := refusal(t, callback(c, back), http.StatusBadRequest); got != "state_invalid" {
			t.Fatalf("an expired state refused as %q", got)
		}
	})
}

func TestOIDC_WhoTheProviderVouchesForMayStillBeRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		s := staffMapping()
		s.AllowedDomains = []string{"acme.example"}
		p.mapGroups(t, s)
		member, _ := p.Member(t, models.RoleCompliance)
		gone, _ := p.Member(t, models.RoleCompliance)
		admin, _ := p.Member(t, models.RoleAdmin)
		if _, err := db.DeactivateMember(context.Background(), models.Origin{Actor: admin.AsActor()}, gone.ID); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			user   ssotest.User
			reason string
		}{
			{"unknown group", ssotest.User{Subject: "a", Email: member.EmailAddress, EmailVerified: true, Groups: []string{"contractors"}}, "no_role"},
			{"no groups claim", ssotest.User{Subject: "b", Email: member.EmailAddress, EmailVerified: true}, "no_role"},
			{"uninvited email", ssotest.User{Subject: "c", Email: "stranger@other.example", EmailVerified: true, Groups: []string{"risk"}}, "not_invited"},
			{"deactivated member", ssotest.User{Subject: "d", Email: gone.EmailAddress, EmailVerified: true, Groups: []string{"risk"}}, "member_deactivated"},
			{"email not verified", ssotest.User{Subject: "e", Email: member.EmailAddress, EmailVerified: false, Groups: []string{"risk"}}, "email_unverified"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p.idp.SignInAs(tc.user)
				r := p.signIn(t, p.Client(t), "")
				if got := refusal(t, r, http.StatusForbidden); got != tc.reason {
					t.Fatalf("refused as %q, want %q", got, tc.reason)
				}
				if msg := byTestID(r.Doc, "oidc-refused-message").Text(); msg == "" {
					t.Fatal("the refusal says nothing")
				}
				if _, after := lastAudit(t, db, "auth.login_failed"); after["reason"] != tc.reason {
					t.Fatalf("audited as %v", after)
				}
			})
		}
		for _, m := range []*models.TeamMember{member, gone} {
			if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
				t.Fatalf("%s has %d sessions after refusals", m.EmailAddress, n)
			}
		}

		// An allowed domain joins at first sign-in, with the group's role.
		p.idp.SignInAs(ssotest.User{Subject: "new", Email: "newcomer@acme.example", EmailVerified: true, Groups: []string{"audit"}})
		if r := p.signIn(t, p.Client(t), ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("allowed domain: %d %s", r.StatusCode, r.Body)
		}
		e, after := lastAudit(t, db, "team.create")
		if after["via"] != "oidc_allowed_domain" || after["role"] != "auditor" {
			t.Fatalf("team.create %v", after)
		}
		if m, err := db.MemberByID(context.Background(), e.TargetID); err != nil || m.Status != models.MemberActive || m.PasswordHash != "" {
			t.Fatalf("created member %+v, %v", m, err)
		}

		// The provider's own refusal.
		p.idp.Refuse("access_denied")
		r := p.signIn(t, p.Client(t), "")
		if got := refusal(t, r, http.StatusUnauthorized); got != "provider_refused" ||
			!strings.Contains(byTestID(r.Doc, "oidc-refused-message").Text(), "access_denied") {
			t.Fatalf("provider refusal shown as %q: %s", got, byTestID(r.Doc, "oidc-refused-message").Text())
		}
	})
}

func TestOIDC_TheProviderCannotDemoteTheLastActiveAdmin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		p.mapGroups(t, staffMapping())
		admin, _ := p.Member(t, models.RoleAdmin)
		p.idp.SignInAs(ssotest.User{Subject: "adm", Email: admin.EmailAddress, EmailVerified: true, Groups: []string{"audit"}})
		if r := p.signIn(t, p.Client(t), ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d %s", r.StatusCode, r.Body)
		}
		if m, _ := db.MemberByID(context.Background(), admin.ID); m.Role != models.RoleAdmin {
			t.Fatalf("the last admin became %s", m.Role)
		}
		if _, after := lastAudit(t, db, "auth.login"); after["role_kept"] != "last_active_admin" {
			t.Fatalf("auth.login %v", after)
		}
	})
}

func TestOIDC_SSORequiredTurnsPasswordsOffButTheBreakGlassAdmins(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		c, admin := p.SignIn(t, models.RoleAdmin)
		other, otherPW := p.Member(t, models.RoleCompliance)
		_ = other

		// Without a break-glass admin or an admin group, nothing is saved.
		r := c.Post("/settings/sso", url.Values{"sso_required": {"on"}, "role_map": {"risk = compliance\nbad line"}, "allowed_domains": {"acme.example, not a domain"}}, webtest.HTMX...)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422\n%s", r.StatusCode, r.Body)
		}
		if msg := byTestID(r.Doc, "error-role_map").Text(); !strings.Contains(msg, "Line 2") {
			t.Fatalf("role map error %q", msg)
		}
		if got := r.Doc.Find("#f-role_map").Text(); got != "risk = compliance\nbad line" {
			t.Fatalf("the mapping was not kept: %q", got)
		}
		r = c.Post("/settings/sso", url.Values{"sso_required": {"on"}, "role_map": {"risk = compliance"}}, webtest.HTMX...)
		if r.StatusCode != http.StatusUnprocessableEntity || byTestID(r.Doc, "error-break_glass").Length() != 1 {
			t.Fatalf("SSO required without a break-glass admin: %d\n%s", r.StatusCode, r.Body)
		}
		if s, _ := db.Settings(context.Background()); s.SSO.Required {
			t.Fatal("a refused form turned SSO on")
		}
		r = c.Post("/settings/sso", url.Values{"sso_required": {"on"}, "role_map": {"ledgerdesk-admins = admin\nrisk = compliance"},
			"break_glass": {admin.ID}, "allowed_domains": {"acme.example"}}, webtest.HTMX...)
		if r.StatusCode != http.StatusOK || byTestID(r.Doc, "settings-sso-done").Text() != "SSO settings saved." {
			t.Fatalf("saving: %d\n%s", r.StatusCode, r.Body)
		}
		if e, after := lastAudit(t, db, "settings.sso_update"); e.ActorID != admin.ID || after["sso_required"] != true {
			t.Fatalf("settings.sso_update %+v %v", e, after)
		}

		// A right password is refused for everyone else.
		login := p.Client(t).Post("/login", url.Values{"email": {other.EmailAddress}, "password": {otherPW}})
		if login.StatusCode != http.StatusForbidden || !strings.Contains(byTestID(login.Doc, "login-error").Text(), "turned off") {
			t.Fatalf("password while SSO is required: %d %s", login.StatusCode, byTestID(login.Doc, "login-error").Text())
		}
		if byTestID(login.Doc, "login-sso-required").Length() != 1 {
			t.Fatal("the sign-in page does not say passwords are off")
		}
		if n := len(sessionRowsOf(t, db, other.ID)); n != 0 {
			t.Fatalf("%d sessions for a refused password", n)
		}
		if _, after := lastAudit(t, db, "auth.login_failed"); after["reason"] != "sso_required" {
			t.Fatalf("audited as %v", after)
		}

		// The break-glass admin's works, and is audited as such.
		_, pw := p.Member(t, models.RoleAdmin) // not break-glass: refused too
		_ = pw
		var bgPassword string
		bg, bgPassword := p.Member(t, models.RoleAdmin)
		if _, err := db.UpdateSSOSettings(context.Background(), models.Origin{Actor: admin.AsActor()}, models.SSOSettings{
			Required: true, BreakGlassMemberID: bg.ID, RoleMap: staffMapping().RoleMap}, true); err != nil {
			t.Fatal(err)
		}
		p.Client(t).Login(bg.EmailAddress, bgPassword)
		if e, after := lastAudit(t, db, "auth.break_glass"); e.TargetID != bg.ID || after["method"] != "password" {
			t.Fatalf("auth.break_glass %+v %v", e, after)
		}
		if r := p.Client(t).Post("/login", url.Values{"email": {admin.EmailAddress}, "password": {"wrong-password-1"}}); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong password while SSO is required: %d, want the usual 401", r.StatusCode)
		}
	})
}

func TestOIDC_SSOCannotBeRequiredWithoutAProvider(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		page := c.Get("/settings")
		if byTestID(page.Doc, "settings-sso-unconfigured").Length() != 1 {
			t.Fatal("the settings page does not say no provider is configured")
		}
		if byTestID(h.Client(t).Get("/login").Doc, "login-oidc").Length() != 0 {
			t.Fatal("a sign-in button without a provider")
		}
		r := c.Post("/settings/sso", url.Values{"sso_required": {"on"}, "role_map": {"a = admin"}, "break_glass": {admin.ID}})
		if r.StatusCode != http.StatusUnprocessableEntity || byTestID(r.Doc, "error-sso_required").Length() != 1 {
			t.Fatalf("status %d\n%s", r.StatusCode, r.Body)
		}
		if byTestID(r.Doc, "settings-form").Length() != 1 {
			t.Fatal("without htmx the 422 is not the whole settings page")
		}
		if r := h.Client(t).Get("/login/oidc"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Fatalf("/login/oidc without a provider: %d to %q, want back to the sign-in page", r.StatusCode, r.Header.Get("Location"))
		}
		// Others may not change it at all.
		aud, _ := h.SignIn(t, models.RoleAuditor)
		if r := aud.Post("/settings/sso", url.Values{"role_map": {"a = admin"}}); r.StatusCode != http.StatusForbidden {
			t.Fatalf("an auditor posting SSO settings: %d", r.StatusCode)
		}
		if r := c.PostRaw("/settings/sso", url.Values{"role_map": {"a = admin"}}); r.StatusCode != http.StatusForbidden {
			t.Fatalf("SSO settings without a CSRF token: %d", r.StatusCode)
		}
	})
}

func TestOIDC_AFailedWriteSignsNobodyIn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		p := newOIDCPortal(t, db)
		p.mapGroups(t, staffMapping())
		m, _ := p.Member(t, models.RoleCompliance)
		p.idp.SignInAs(ssotest.User{Subject: "x", Email: m.EmailAddress, EmailVerified: true, Groups: []string{"risk"}})

		stop := testdb.FailOn(t, db, testdb.Create, "oidc_states")
		if r := p.Client(t).Get("/login/oidc"); r.StatusCode != http.StatusInternalServerError {
			t.Fatalf("a failed state insert: %d", r.StatusCode)
		}
		stop()
		stop = testdb.FailOn(t, db, testdb.Create, "oidc_identities")
		c := p.Client(t)
		if r := p.signIn(t, c, ""); r.StatusCode != http.StatusInternalServerError {
			t.Fatalf("a failed link: %d", r.StatusCode)
		}
		stop()
		if n := len(sessionRowsOf(t, db, m.ID)); n != 0 {
			t.Fatalf("%d sessions after a failed write", n)
		}
	})
}

func TestOIDC_TheCallbackIsUnderTheCredentialLimit(t *testing.T) {
	for _, r := range web.Routes() {
		if strings.HasPrefix(r.Path, "/login/oidc") && !r.ChecksCredentials {
			t.Errorf("%s %s is not under the per-address credential limit", r.Method, r.Path)
		}
	}
}
