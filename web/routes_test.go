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
// "{user}" stands for a fresh end user made for each request.
var routeExamples = map[string]string{
	"/static/*":                    "/static/css/app.css",
	"/users/:id<int>":              "/users/{user}",
	"/users/:id<int>/edit":         "/users/{user}/edit",
	"/users/:id<int>/remove":       "/users/{user}/remove",
	"/users/:id<int>/reveal":       "/users/{user}/reveal",
	"/users/:id<int>/reset-login":  "/users/{user}/reset-login",
	"/users/:id<int>/rotate-token": "/users/{user}/rotate-token",
	"/audit/:seq<int>/diff":        "/audit/1/diff",
	"/audit/checkpoints/:id<int>":  "/audit/checkpoints/{checkpoint}",
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
	if strings.Contains(p, "{checkpoint}") {
		cp, err := h.DB.CreateCheckpoint(context.Background(), models.Origin{Actor: models.SystemActor}, testSigningKey)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(p, "{checkpoint}", strconv.FormatInt(cp.ID, 10)), nil
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

// walkMember is a signed-in member during the walk, with the password it
// has now (the walk may change it).
type walkMember struct {
	role     models.Role
	member   *models.TeamMember
	password string
	client   *webtest.Client
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
	case "POST /users/:id<int>/remove":
		return url.Values{"confirm": {u.ClientUserID}}, nil
	case "POST /users/:id<int>/reveal":
		return url.Values{"field": {"ssn"}, "reason": {"support ticket 4711: identity check"}}, nil
	case "POST /audit/export":
		return url.Values{"format": {"csv"}}, nil
	case "POST /login":
		return url.Values{"email": {m.member.EmailAddress}, "password": {m.password}}, nil
	case "POST /account/password":
		next := "new-" + models.RandomToken(12)
		webtest.Sensitive(next)
		return url.Values{"current": {m.password}, "new": {next}, "confirm": {next}}, func() { m.password = next }
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
		for _, r := range table {
			path, u := examplePath(t, h, r)
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
		h := webtest.New(t, db)
		walkRoutes(t, h, web.Routes())
	})
}

func TestRoutes_RoleRestrictedRoutesAre403ForOtherRoles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		walkRoutes(t, newProbeHarness(t, db), probeRoutes())
	})
}
