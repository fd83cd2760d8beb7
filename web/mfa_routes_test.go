package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// enrolMember turns two-step sign-in on for m (whose password is pw)
// directly through the models and returns the secret.
func enrolMember(t *testing.T, h *webtest.Harness, clock *mfaClock, m *models.TeamMember, pw string) string {
	t.Helper()
	o := models.Origin{Actor: m.AsActor()}
	if err := h.DB.StartMFASetup(context.Background(), o, m, models.MFASetupProof{Password: pw}); err != nil {
		t.Fatal(err)
	}
	st, err := h.DB.MFAStatusOf(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	webtest.Sensitive(st.Setup.Secret)
	codes, err := h.DB.ConfirmMFA(context.Background(), o, m, clock.code(t, st.Setup.Secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		webtest.Sensitive(c)
	}
	return st.Setup.Secret
}

// walkAtStage visits every route with a session whose sign-in stopped at
// stage. Routes open to that stage answer; every other route that is not
// public sends the session to step (the code, or the setup) and does
// nothing else, even given a form it would accept. form fills in the POSTs
// the stage may send.
func walkAtStage(t *testing.T, h *webtest.Harness, m *models.TeamMember, password string, stage models.SignInStage, step string,
	form func(web.Route) url.Values) {
	t.Helper()
	signIn := func(t *testing.T) *webtest.Client {
		c := h.Client(t)
		c.Login(m.EmailAddress, password)
		// A browser at this stage holds the step's page and its CSRF token.
		wantStatus(t, c.Get(step), http.StatusOK)
		if rows := sessionRowsOf(t, h.DB, m.ID); len(rows) == 0 || rows[0].MFAStage != stage {
			t.Fatalf("sign-in did not stop at stage %q: %+v", stage, rows)
		}
		return c
	}
	shared := signIn(t)
	wm := &walkMember{role: m.Role, member: m, password: password, client: shared}

	for _, r := range web.Routes() {
		// The JSON API never reads a session: the API walk covers it.
		if r.Access.IsPublic() || r.Access.IsAPI() {
			continue
		}
		path, u := examplePath(t, h, r)
		t.Run(string(m.Role)+" "+string(stage)+" "+r.Method+" "+r.Path, func(t *testing.T) {
			c := shared
			if r.Method != http.MethodGet {
				c = signIn(t)
			}
			send := func(headers ...string) *webtest.Response {
				if r.Method == http.MethodGet {
					return c.Get(path, headers...)
				}
				f, _ := validForm(r, wm, u)
				if r.Access.AllowsStage(stage) && form != nil {
					f = form(r)
				}
				return c.Post(path, f, headers...)
			}
			if r.Access.AllowsStage(stage) {
				got := send()
				if !succeeded(got.StatusCode) {
					t.Fatalf("a session at stage %q may use %s %s, got %d:\n%s", stage, r.Method, r.Path, got.StatusCode, got.Body)
				}
				return
			}
			wantRedirect(t, send(), step)
			hx := send(webtest.HTMX...)
			wantStatus(t, hx, http.StatusUnauthorized)
			if got := hx.Header.Get("HX-Redirect"); !strings.HasPrefix(got, step) {
				t.Fatalf("htmx: HX-Redirect %q, want %s…", got, step)
			}
		})
	}

	// Nothing but sign-in steps was done in the member's name.
	var acted []string
	h.DB.Gorm().Model(&models.AuditEntry{}).Where("actor_id = ? AND action NOT LIKE 'auth.%'", m.ID).Pluck("action", &acted)
	if len(acted) > 0 {
		t.Fatalf("a session at stage %q changed things: %v", stage, acted)
	}
}

func TestRoutes_ASessionWaitingForItsCodeReachesOnlyTheCodeStep(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := passkeyHarness(t, db)
		clock := newMFAClock(h)
		for _, role := range models.Roles {
			m, pw := h.Member(t, role)
			secret := enrolMember(t, h, clock, m, pw)
			walkAtStage(t, h, m, pw, models.AwaitingSecondFactor, "/login/mfa", func(r web.Route) url.Values {
				if r.Path == "/login/mfa" {
					clock.Step()
					return url.Values{"code": {clock.code(t, secret)}}
				}
				return url.Values{}
			})
		}
	})
}

func TestRoutes_AnAdminWhoMustEnrolReachesOnlyTheSetup(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		if _, err := db.UpdateSettings(context.Background(), models.Origin{Actor: models.SystemActor},
			models.Settings{MFARequiredForAdmins: true}); err != nil {
			t.Fatal(err)
		}
		m, pw := h.Member(t, models.RoleAdmin)
		walkAtStage(t, h, m, pw, models.AwaitingEnrolment, "/account/mfa", nil)
	})
}
