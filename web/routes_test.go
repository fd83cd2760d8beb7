package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// routeExamples gives a concrete path for each route pattern with a
// parameter or wildcard. A new pattern must be added here, or the walk
// fails: every route in the table is visited.
// "{user}" stands for a fresh end user made for each request, "{webhook}"
// for a fresh webhook endpoint and "{delivery}" for a delivery to it.
var routeExamples = map[string]string{
	"/static/*":                    "/static/css/app.css",
	"/users/:id<int>":              "/users/{user}",
	"/users/:id<int>/edit":         "/users/{user}/edit",
	"/users/:id<int>/access":       "/users/{user}/access",
	"/users/:id<int>/remove":       "/users/{user}/remove",
	"/users/:id<int>/reveal":       "/users/{user}/reveal",
	"/users/:id<int>/reset-login":  "/users/{user}/reset-login",
	"/users/:id<int>/rotate-token": "/users/{user}/rotate-token",

	"/webhooks/:id<int>":                                 "/webhooks/{webhook}",
	"/webhooks/:id<int>/delete":                          "/webhooks/{webhook}/delete",
	"/webhooks/:id<int>/rotate-secret":                   "/webhooks/{webhook}/rotate-secret",
	"/webhooks/:id<int>/test-event":                      "/webhooks/{webhook}/test-event",
	"/webhooks/:id<int>/deliveries":                      "/webhooks/{webhook}/deliveries",
	"/webhooks/:id<int>/deliveries/:delivery<int>/retry": "/webhooks/{webhook}/deliveries/{delivery}/retry",
	"/account/sessions/:session/end":                     "/account/sessions/{session}/end",
	"/account/passkeys/:id<int>/remove":                  "/account/passkeys/1/remove",
	"/team/:id<len(24)>":                                 "/team/{member}",
	"/team/:id<len(24)>/role":                            "/team/{member}/role",
	"/team/:id<len(24)>/deactivate":                      "/team/{member}/deactivate",
	"/team/:id<len(24)>/reactivate":                      "/team/{deactivated}/reactivate",
	"/team/:id<len(24)>/invite/resend":                   "/team/{invited}/invite/resend",
	"/team/:id<len(24)>/invite/revoke":                   "/team/{invited}/invite/revoke",
	"/team/:id<len(24)>/sessions/:session/end":           "/team/{member}/sessions/{session}/end",
	"/team/:id<len(24)>/mfa-reset":                       "/team/{enrolled}/mfa-reset",
	"/invite/:token":                                     "/invite/{invitation}",
	"/api-keys/:id<int>":                                 "/api-keys/{apikey}",
	"/api-keys/:id<int>/revoke":                          "/api-keys/{apikey}/revoke",
	"/2.0/users/:id":                                     "/2.0/users/{user}",
	"/audit/:seq<int>/diff":                              "/audit/1/diff",
	"/audit/checkpoints/:id<int>":                        "/audit/checkpoints/{checkpoint}",
	"/batches/:id<int>":                                  "/batches/{batch}",
	"/batches/:id<int>/cancel":                           "/batches/{batch}/cancel",
	"/approvals/:id<int>/approve":                        "/approvals/{approval}/approve",
	"/approvals/:id<int>/deny":                           "/approvals/{approval}/deny",
}

// teamPlaceholders make the team members a walk's request needs: an
// active member signed in once ({member}, whose session is {session}), one
// with two-step sign-in on ({enrolled}), a deactivated one, and an open invitation ({invited} is the invitee,
// {invitation} the link's token).
func teamPlaceholders(t *testing.T, h *webtest.Harness, p string) string {
	t.Helper()
	ctx := context.Background()
	if strings.Contains(p, "{member}") {
		m, pw := h.Member(t, models.RoleCompliance)
		c := h.Client(t)
		c.Login(m.EmailAddress, pw)
		rows := sessionRowsOf(t, h.DB, m.ID)
		p = strings.ReplaceAll(strings.ReplaceAll(p, "{member}", m.ID), "{session}", rows[0].Handle())
	}
	// An own session that is not the walking client's: ending it is
	// answered like any other (already ended, as it names nobody's).
	p = strings.ReplaceAll(p, "{session}", models.RandomHex(10))
	if strings.Contains(p, "{enrolled}") {
		// A member with two-step sign-in on, as far as a reset can tell:
		// the reset removes the rows without opening the secret.
		m, _ := h.Member(t, models.RoleCompliance)
		now := models.Now()
		if err := h.DB.Gorm().Create(&models.MemberMFA{MemberID: m.ID, SecretCipher: "walk", KeyID: "walk",
			ConfirmedAt: &now, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
			t.Fatal(err)
		}
		p = strings.ReplaceAll(p, "{enrolled}", m.ID)
	}
	if strings.Contains(p, "{deactivated}") {
		m, _ := h.Member(t, models.RoleAuditor)
		if _, err := h.DB.DeactivateMember(ctx, models.Origin{Actor: models.SystemActor}, m.ID); err != nil {
			t.Fatal(err)
		}
		p = strings.ReplaceAll(p, "{deactivated}", m.ID)
	}
	if strings.Contains(p, "{invited}") || strings.Contains(p, "{invitation}") {
		inv, err := h.DB.InviteMember(ctx, models.Origin{Actor: models.SystemActor},
			models.NewInvitee{Email: "walk-" + models.RandomHex(4) + "@example.com", Role: models.RoleAuditor})
		if err != nil {
			t.Fatal(err)
		}
		webtest.Sensitive(inv.Token)
		p = strings.ReplaceAll(strings.ReplaceAll(p, "{invited}", inv.Member.ID), "{invitation}", inv.Token)
	}
	return p
}

// examplePath is a concrete path for the route, and the end user it names
// (made for this request) if any.
func examplePath(t *testing.T, h *webtest.Harness, r web.Route) (string, *models.EndUser) {
	t.Helper()
	if !strings.ContainsAny(r.Path, ":*+") {
		return r.Path, nil
	}
	p, ok := routeExamples[r.Path]
	if !ok {
		t.Fatalf("route %s %s has parameters: give it an example path in routeExamples", r.Method, r.Path)
	}
	if strings.Contains(p, "{apikey}") {
		k := newKey(t, h.DB, models.ScopeRead)
		return strings.ReplaceAll(p, "{apikey}", strconv.FormatInt(k.Key.ID, 10)), nil
	}
	if strings.Contains(p, "{webhook}") {
		p = webhookExamplePath(t, h, p)
	}
	p = teamPlaceholders(t, h, p)
	if strings.Contains(p, "{checkpoint}") {
		cp, err := h.DB.CreateCheckpoint(context.Background(), models.Origin{Actor: models.SystemActor}, testSigningKey)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(p, "{checkpoint}", strconv.FormatInt(cp.ID, 10)), nil
	}
	if strings.Contains(p, "{approval}") {
		return strings.ReplaceAll(p, "{approval}", strconv.FormatInt(newApprovalRequest(t, h).ID, 10)), nil
	}
	if strings.Contains(p, "{batch}") {
		return strings.ReplaceAll(p, "{batch}", strconv.FormatInt(newBatchJob(t, h).ID, 10)), nil
	}
	if !strings.Contains(p, "{user}") {
		return p, nil
	}
	u := newEndUser(t, h)
	return strings.ReplaceAll(p, "{user}", strconv.FormatInt(u.ID, 10)), u
}

// newEndUser creates an end user with an identity (SSN and date of birth
// included) for a request of the walk.
func newEndUser(t *testing.T, h *webtest.Harness) *models.EndUser {
	t.Helper()
	created, err := h.DB.CreateEndUser(context.Background(), models.Origin{Actor: models.SystemActor}, models.EndUserInput{
		ClientUserID: "walk-" + models.RandomHex(6),
		Identity: &models.Identity{FirstName: "Carmen", LastName: "Berzatto", PhoneNumbers: []string{"+13125551212"},
			Emails: []string{"carmy@example.com"}, SSNFull: "123-45-6789", DateOfBirth: "1987-01-31",
			Address: models.Address{Street: "3200 W Armitage Ave", City: "Chicago", Region: "IL", PostalCode: "60657", Country: "US"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return created.User
}

// newBatchJob is a queued batch job, asked by a fresh admin, to reset the
// login of a fresh end user.
func newBatchJob(t *testing.T, h *webtest.Harness) *models.BatchJob {
	t.Helper()
	m, _ := h.Member(t, models.RoleAdmin)
	u := newEndUser(t, h)
	j, err := h.DB.StartBatch(context.Background(), models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: m.ID}},
		models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: []int64{u.ID}}, Expect: 1})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// webhookExamplePath fills p with a fresh endpoint and, if p names one, a
// delivery to it.
func webhookExamplePath(t *testing.T, h *webtest.Harness, p string) string {
	t.Helper()
	created, err := h.DB.CreateWebhookEndpoint(context.Background(), models.Origin{Actor: models.SystemActor},
		models.WebhookEndpointInput{URL: "https://93.184.216.34/walk", Events: models.WebhookEventTypes, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	p = strings.ReplaceAll(p, "{webhook}", strconv.FormatInt(created.Endpoint.ID, 10))
	if strings.Contains(p, "{delivery}") {
		newEndUser(t, h)
		var id int64
		if err := h.DB.Gorm().Model(&models.WebhookDelivery{}).Where("endpoint_id = ?", created.Endpoint.ID).
			Select("MAX(id)").Scan(&id).Error; err != nil || id == 0 {
			t.Fatalf("no delivery to the example endpoint: %v", err)
		}
		// Failing, as if its first attempt had been answered 500, so a
		// retry applies.
		if err := h.DB.Gorm().Model(&models.WebhookDelivery{}).Where("id = ?", id).
			Updates(map[string]any{"attempts": 1, "last_status_code": 500, "last_error": "HTTP 500"}).Error; err != nil {
			t.Fatal(err)
		}
		p = strings.ReplaceAll(p, "{delivery}", strconv.FormatInt(id, 10))
	}
	return p
}

// walkMember is a signed-in member during the walk, with the password it
// has now (the walk may change it).
type walkMember struct {
	role     models.Role
	member   *models.TeamMember
	password string
	client   *webtest.Client
	// relogin gives client a fresh session, after a POST that ended the
	// member's other sessions.
	relogin func()
}

// validForm is a form the route accepts, for the POST routes the walk
// knows; any other POST is sent empty and may answer 422. after runs once
// the route accepted the form.
func validForm(r web.Route, m *walkMember, u *models.EndUser) (form url.Values, after func()) {
	switch r.Method + " " + r.Path {
	case "POST /users":
		return url.Values{"client_user_id": {"walk-new-" + models.RandomHex(6)}}, nil
	case "POST /users/:id<int>":
		return url.Values{"version": {strconv.Itoa(u.Version)}, "first_name": {"Carmen"}, "last_name": {"Berzatto"},
			"phone_numbers": {"+13125551212"}, "emails": {"carmy@example.com"}, "street": {"1 Main St"},
			"city": {"Chicago"}, "region": {"IL"}, "postal_code": {"60657"}, "country": {"US"}}, nil
	case "POST /api-keys":
		return url.Values{"name": {"walk key"}, "scope": {"read"}}, nil
	case "POST /users/:id<int>/remove":
		return url.Values{"confirm": {u.ClientUserID}}, nil
	case "POST /users/:id<int>/reveal":
		return url.Values{"field": {"ssn"}, "reason": {"support ticket 4711: identity check"}}, nil
	case "POST /webhooks", "POST /webhooks/:id<int>":
		return url.Values{"url": {"https://93.184.216.34/walk"}, "events": {"USER_CREATED"}, "enabled": {"1"}}, nil
	case "POST /audit/export":
		return url.Values{"format": {"csv"}}, nil
	case "POST /login":
		return url.Values{"email": {m.member.EmailAddress}, "password": {m.password}}, nil
	case "POST /team/invite":
		return url.Values{"email": {"walk-invite-" + models.RandomHex(4) + "@example.com"}, "role": {"auditor"}}, nil
	case "POST /team/:id<len(24)>/role":
		return url.Values{"role": {"auditor"}}, nil
	case "POST /invite/:token":
		pw := "walk " + models.RandomToken(12)
		webtest.Sensitive(pw)
		return url.Values{"password": {pw}, "confirm": {pw}}, nil
	case "POST /account/password":
		next := "new-" + models.RandomToken(12)
		webtest.Sensitive(next)
		return url.Values{"current": {m.password}, "new": {next}, "confirm": {next}}, func() { m.password = next; m.relogin() }
	case "POST /account/sessions/end-others":
		return url.Values{}, func() { m.relogin() }
	}
	return url.Values{}, nil
}

func succeeded(status int) bool {
	return status >= 200 && status < 400 || status == http.StatusUnprocessableEntity
}

// walkRoutes sends every route of table to h as an anonymous visitor and
// as each role, and checks the answer against the route's Access.
func walkRoutes(t *testing.T, h *webtest.Harness, table []web.Route) {
	if len(table) == 0 {
		t.Fatal("empty route table")
	}
	anonMember, anonPassword := h.Member(t, models.RoleAuditor)
	anon := &walkMember{member: anonMember, password: anonPassword}

	for _, r := range table {
		path, u := examplePath(t, h, r)
		if r.Access.IsAPI() {
			t.Run("anonymous "+r.Method+" "+r.Path, func(t *testing.T) {
				wantAPIRefused(t, r, sendWalkAPI(t, h, h.Client(t), r, path, u, nil))
			})
			continue
		}
		t.Run("anonymous "+r.Method+" "+r.Path, func(t *testing.T) {
			send := func(headers ...string) *webtest.Response {
				c := h.Client(t)
				if r.Method == http.MethodGet {
					return c.Get(path, headers...)
				}
				form, _ := validForm(r, anon, u)
				return c.Post(path, form, headers...)
			}
			if r.Access.IsPublic() {
				if got := send(); !succeeded(got.StatusCode) {
					t.Fatalf("public route answered %d to a visitor; body:\n%s", got.StatusCode, got.Body)
				}
				return
			}
			wantRedirect(t, send(), "/login")
			hx := send(webtest.HTMX...)
			wantStatus(t, hx, http.StatusUnauthorized)
			if got := hx.Header.Get("HX-Redirect"); !strings.HasPrefix(got, "/login") {
				t.Fatalf("htmx request without a session: HX-Redirect %q, want /login…", got)
			}
		})
	}

	for _, role := range models.Roles {
		m, password := h.Member(t, role)
		wm := &walkMember{role: role, member: m, password: password, client: h.Client(t)}
		wm.client.Login(m.EmailAddress, password)
		wm.relogin = func() {
			wm.client = h.Client(t)
			wm.client.Login(wm.member.EmailAddress, wm.password)
		}
		for _, r := range table {
			path, u := examplePath(t, h, r)
			if r.Access.IsAPI() {
				// A member's session cookie (and CSRF token) is no API
				// credential, whatever the role.
				t.Run(string(role)+" "+r.Method+" "+r.Path, func(t *testing.T) {
					before := stateOf(t, h.DB)
					wantAPIRefused(t, r, sendWalkAPI(t, h, wm.client, r, path, u, nil, "X-CSRF-Token", wm.client.CSRF))
					wantUnchanged(t, h.DB, before)
				})
				continue
			}
			t.Run(string(role)+" "+r.Method+" "+r.Path, func(t *testing.T) {
				client := wm.client
				if r.Method != http.MethodGet {
					// A POST may end the session (logout): use a session
					// of its own.
					client = h.Client(t)
					client.Login(wm.member.EmailAddress, wm.password)
				}
				var got *webtest.Response
				var after func()
				if r.Method == http.MethodGet {
					got = client.Get(path)
				} else {
					var form url.Values
					form, after = validForm(r, wm, u)
					got = client.Post(path, form)
				}
				if !r.Access.AllowsStage(models.SignedIn) {
					// A step of sign-in (the code) sends a member who has
					// completed it on, whatever the role.
					wantRedirect(t, got, "/")
					return
				}
				if !r.Access.Allows(role) {
					wantStatus(t, got, http.StatusForbidden)
					if byTestID(got.Doc, "error-page").Length() != 1 {
						t.Fatalf("403 without the error page:\n%s", got.Body)
					}
					return
				}
				if !succeeded(got.StatusCode) {
					t.Fatalf("%s may use %s %s (access %s), got %d; body:\n%s",
						role, r.Method, r.Path, r.Access, got.StatusCode, got.Body)
				}
				if loc := got.Header.Get("Location"); loc == "/login" || strings.HasPrefix(loc, "/login?next=") {
					t.Fatalf("%s was sent to sign in by %s %s", role, r.Method, r.Path)
				}
				if after != nil && got.StatusCode < 400 {
					after()
				}
			})
		}
	}
}

func TestRoutes_EveryRouteAnswersEachRoleAsItsAccessSays(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// With a public URL, so the passkey routes are on.
		h := passkeyHarness(t, db)
		walkRoutes(t, h, web.Routes())
		walkAPIKeys(t, h, web.Routes())
	})
}

func TestRoutes_RoleRestrictedRoutesAre403ForOtherRoles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		walkRoutes(t, newProbeHarness(t, db), probeRoutes())
	})
}

// newApprovalRequest is a pending request, by an admin of its own, to
// remove a fresh end user. Approvals are on only while it is asked, so the
// rest of the walk finds the actions as they are by default.
func newApprovalRequest(t *testing.T, h *webtest.Harness) *models.ApprovalRequest {
	t.Helper()
	ctx := context.Background()
	set := func(on bool) {
		if _, err := h.DB.UpdateApprovalSettings(ctx, system, models.ApprovalSettingsInput{Required: on, ExpiryHours: "72"}); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	defer set(false)
	m, _ := h.Member(t, models.RoleAdmin)
	u := newEndUser(t, h)
	r, err := h.DB.RequestApproval(ctx, models.Origin{Actor: m.AsActor()}, models.ApprovalInput{
		Action: models.ApproveUserRemove, TargetID: strconv.FormatInt(u.ID, 10), Reason: "walk"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
