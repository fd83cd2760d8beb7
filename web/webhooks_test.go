package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
	"ledgerdesk/webhooks"
)

// publicURL is a destination on a public address that needs no DNS.
const publicURL = "https://93.184.216.34/ledgerdesk"

func webhookForm(u string, events ...string) url.Values {
	return url.Values{"url": {u}, "events": events, "enabled": {"1"}}
}

// createdSecret reads the signing secret a creation shows, and checks it is
// shown exactly once.
func createdSecret(t *testing.T, r *webtest.Response) string {
	t.Helper()
	sel := byTestID(r.Doc, "webhook-secret")
	if sel.Length() != 1 {
		t.Fatalf("%d webhook-secret elements, want 1:\n%s", sel.Length(), r.Body)
	}
	secret, _ := sel.Attr("value")
	webtest.Sensitive(secret)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	if n := strings.Count(r.Body, secret); n != 1 {
		t.Fatalf("the secret appears %d times in the answer, want once", n)
	}
	return secret
}

func onlyEndpoint(t *testing.T, db *models.DB) models.WebhookEndpointSummary {
	t.Helper()
	eps, err := db.WebhookEndpoints(context.Background())
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints: %d, %v", len(eps), err)
	}
	return eps[0]
}

func TestWebhookCreate_ShowsTheSecretOnceAndAuditsTheMember(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)

		form := c.Get("/webhooks/new")
		wantStatus(t, form, http.StatusOK)
		if byTestID(form.Doc, "event-USER_CREATED").Is(":checked") != true {
			t.Fatal("USER_CREATED is not preselected")
		}
		r := c.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated, models.EventUserDeleted))
		wantStatus(t, r, http.StatusCreated)
		secret := createdSecret(t, r)

		ep := onlyEndpoint(t, db)
		if ep.URL != publicURL || !ep.Enabled || len(ep.Events) != 2 {
			t.Fatalf("saved %+v", ep)
		}
		if opened, err := db.WebhookSecret(&ep.WebhookEndpoint); err != nil || opened != secret {
			t.Fatalf("stored secret opens to %q, %v", opened, err)
		}
		// Never again: not on the endpoint's page, not in the list.
		for _, path := range []string{"/webhooks/" + strconv.FormatInt(ep.ID, 10), "/webhooks"} {
			page := c.Get(path)
			wantStatus(t, page, http.StatusOK)
			if strings.Contains(page.Body, secret) {
				t.Fatalf("%s shows the secret again", path)
			}
		}
		list := c.Get("/webhooks")
		if byTestID(list.Doc, "webhook-row").Length() != 1 || byTestID(list.Doc, "nav-/webhooks").Length() != 1 {
			t.Fatalf("list:\n%s", list.Body)
		}
		es := auditEntries(t, db, "webhook.create")
		if len(es) != 1 || es[0].ActorID != admin.ID || strings.Contains(es[0].Diff, secret) {
			t.Fatalf("webhook.create entries %+v", es)
		}

		// htmx: the panel as a fragment, the address moved to the endpoint.
		hx := c.Post("/webhooks", webhookForm(publicURL+"/2", models.EventUserDeleted), webtest.HTMX...)
		wantStatus(t, hx, http.StatusCreated)
		createdSecret(t, hx)
		if !isFragment(hx.Body) || !strings.HasPrefix(hx.Header.Get("HX-Push-Url"), "/webhooks/") {
			t.Fatalf("htmx create: push %q, fragment %v", hx.Header.Get("HX-Push-Url"), isFragment(hx.Body))
		}
	})
}

func TestWebhookCreate_InvalidInputIs422BesideTheFieldsAndKeepsValues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		cases := []struct {
			name   string
			form   url.Values
			errors map[string]string
		}{
			{"nothing", url.Values{}, map[string]string{"url": "Enter the URL", "events": "at least one event"}},
			{"not a URL", webhookForm("hooks.example.com", models.EventUserCreated), map[string]string{"url": "full URL"}},
			{"other scheme", webhookForm("ftp://93.184.216.34/x", models.EventUserCreated), map[string]string{"url": "https://"}},
			{"unknown event", webhookForm(publicURL, "USER_SYNCED"), map[string]string{"events": "Unknown event"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := c.Post("/webhooks", tc.form)
				wantStatus(t, r, http.StatusUnprocessableEntity)
				for field, want := range tc.errors {
					if got := byTestID(r.Doc, "error-"+field).Text(); !strings.Contains(got, want) {
						t.Errorf("%s: message %q, want %q", field, got, want)
					}
				}
				if got, _ := r.Doc.Find(`input[name="url"]`).Attr("value"); got != tc.form.Get("url") {
					t.Errorf("URL not kept: %q", got)
				}
			})
		}
		hx := c.Post("/webhooks", webhookForm("", models.EventUserCreated), webtest.HTMX...)
		wantStatus(t, hx, http.StatusUnprocessableEntity)
		if !isFragment(hx.Body) || byTestID(hx.Doc, "webhook-form").Length() != 1 || !byTestID(hx.Doc, "event-USER_CREATED").Is(":checked") {
			t.Fatalf("htmx 422 is not the form with the values kept:\n%s", hx.Body)
		}
		if n, _ := db.WebhookEndpoints(context.Background()); len(n) != 0 {
			t.Fatalf("%d endpoints saved from invalid input", len(n))
		}
	})
}

// resolver answers names from a table.
type resolver map[string]string

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return nil, errors.New("no such host")
}

func TestWebhookCreate_PrivateDestinationsAreRefused(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db, func(cfg *web.Config) {
			cfg.WebhookGuard = &webhooks.Guard{Resolver: resolver{"hooks.example.com": "93.184.216.34", "intranet.example.com": "10.1.2.3"}}
		})
		c, _ := h.SignIn(t, models.RoleAdmin)
		for _, u := range []string{"http://127.0.0.1:8080/x", "http://[::1]/x", "http://10.0.0.8/x", "http://192.168.1.20/x",
			"http://169.254.169.254/latest/meta-data", "https://intranet.example.com/x", "http://0.0.0.0/",
			// IPv4-compatible, 6to4 of a private address, Teredo, site-local.
			"http://[::127.0.0.1]/", "http://[2002:a00:1::1]/", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://[fec0::1]/"} {
			r := c.Post("/webhooks", webhookForm(u, models.EventUserCreated))
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := byTestID(r.Doc, "error-url").Text(); !strings.Contains(got, "not a public address") {
				t.Errorf("%s: message %q", u, got)
			}
		}
		r := c.Post("/webhooks", webhookForm("https://nowhere.example.com/x", models.EventUserCreated))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := byTestID(r.Doc, "error-url").Text(); !strings.Contains(got, "could not resolve") {
			t.Errorf("unresolvable host: %q", got)
		}
		if eps, _ := db.WebhookEndpoints(context.Background()); len(eps) != 0 {
			t.Fatalf("%d private endpoints saved", len(eps))
		}
		// Updating an endpoint to a private address is refused the same way.
		wantStatus(t, c.Post("/webhooks", webhookForm("https://hooks.example.com/x", models.EventUserCreated)), http.StatusCreated)
		ep := onlyEndpoint(t, db)
		up := c.Post("/webhooks/"+strconv.FormatInt(ep.ID, 10), webhookForm("http://10.9.9.9/", models.EventUserCreated))
		wantStatus(t, up, http.StatusUnprocessableEntity)
		if onlyEndpoint(t, db).URL != "https://hooks.example.com/x" {
			t.Fatal("the endpoint moved to a private address")
		}

		// Allowed by configuration (LEDGERDESK_WEBHOOK_ALLOW_PRIVATE).
		open := webtest.New(t, db, func(cfg *web.Config) { cfg.WebhookGuard = &webhooks.Guard{AllowPrivate: true} })
		oc, _ := open.SignIn(t, models.RoleAdmin)
		wantStatus(t, oc.Post("/webhooks", webhookForm("http://127.0.0.1:8080/x", models.EventUserCreated)), http.StatusCreated)
		// Link-local (cloud metadata), unspecified and tunnelled addresses stay refused.
		for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://0.0.0.0/", "http://[2002:a00:1::1]/"} {
			wantStatus(t, oc.Post("/webhooks", webhookForm(u, models.EventUserCreated)), http.StatusUnprocessableEntity)
		}
	})
}

func TestWebhookUpdate_DisablesAndDeleteRemovesAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		wantStatus(t, c.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)), http.StatusCreated)
		ep := onlyEndpoint(t, db)
		path := "/webhooks/" + strconv.FormatInt(ep.ID, 10)

		r := c.Post(path, url.Values{"url": {publicURL + "/v2"}, "events": {models.EventUserDeleted}}) // enabled unchecked
		wantRedirect(t, r, path)
		page := c.Get(path)
		if state, _ := byTestID(page.Doc, "webhook-state").Attr("data-state"); state != "disabled" {
			t.Fatalf("state %q after unchecking enabled", state)
		}
		if byTestID(page.Doc, "flash").Length() != 1 {
			t.Fatal("no confirmation after saving")
		}
		if got := onlyEndpoint(t, db); got.URL != publicURL+"/v2" || got.Enabled || got.Events[0] != models.EventUserDeleted {
			t.Fatalf("after update %+v", got)
		}
		wantRedirect(t, c.Post(path+"/delete", nil), "/webhooks")
		wantStatus(t, c.Get(path), http.StatusNotFound)
		for _, action := range []string{"webhook.update", "webhook.delete"} {
			if es := auditEntries(t, db, action); len(es) != 1 || es[0].TargetID != strconv.FormatInt(ep.ID, 10) {
				t.Fatalf("%s entries: %+v", action, es)
			}
		}
		// A state change without the CSRF token is refused.
		wantStatus(t, c.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)), http.StatusCreated)
		again := onlyEndpoint(t, db)
		refused := c.PostRaw("/webhooks/"+strconv.FormatInt(again.ID, 10)+"/delete", url.Values{})
		wantStatus(t, refused, http.StatusForbidden)
		onlyEndpoint(t, db)
	})
}

func statusOfDelivery(t *testing.T, db *models.DB, id string) models.WebhookDelivery {
	t.Helper()
	var d models.WebhookDelivery
	if err := db.Gorm().Where("id = ?", id).Take(&d).Error; err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWebhooks_OnlyAdminsSeeTheNavigationEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		for _, role := range models.Roles {
			c, _ := h.SignIn(t, role)
			home := c.Get("/")
			want := 0
			if role == models.RoleAdmin {
				want = 1
			}
			if got := byTestID(home.Doc, "nav-/webhooks").Length(); got != want {
				t.Errorf("%s sees %d Webhooks entries, want %d", role, got, want)
			}
		}
	})
}

func TestWebhookRotateSecret_ShowsTheNewSecretOnceAndAuditsIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, admin := h.SignIn(t, models.RoleAdmin)
		old := createdSecret(t, c.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)))
		ep := onlyEndpoint(t, db)
		path := "/webhooks/" + strconv.FormatInt(ep.ID, 10)

		page := c.Get(path)
		wantStatus(t, page, http.StatusOK)
		if byTestID(page.Doc, "webhook-rotate-form").Length() != 1 || byTestID(page.Doc, "secret-overlap").Length() != 0 {
			t.Fatalf("endpoint page before a rotation:\n%s", page.Body)
		}

		// A plain form: the endpoint's page, with the new secret in it.
		r := c.Post(path+"/rotate-secret", nil)
		wantStatus(t, r, http.StatusOK)
		if isFragment(r.Body) {
			t.Fatal("a plain form got a fragment")
		}
		first := createdSecret(t, r)
		if first == old {
			t.Fatal("the secret did not change")
		}
		if until := byTestID(r.Doc, "secret-overlap").Find("time"); !strings.HasSuffix(utcTitle(until), " UTC") || until.AttrOr("datetime", "") == "" {
			t.Fatalf("no overlap shown after a rotation:\n%s", r.Body)
		}
		if stored, _ := db.WebhookEndpointByID(context.Background(), ep.ID); stored == nil {
			t.Fatal("endpoint gone")
		} else if opened, err := db.WebhookSecret(stored); err != nil || opened != first {
			t.Fatalf("stored secret %q, %v", opened, err)
		}

		// Never shown again; the overlap is.
		page = c.Get(path)
		if strings.Contains(page.Body, first) || strings.Contains(page.Body, old) {
			t.Fatal("the endpoint page shows a secret")
		}
		if byTestID(page.Doc, "secret-overlap").Length() != 1 {
			t.Fatalf("the endpoint page does not show the overlap:\n%s", page.Body)
		}

		// htmx: the updated section alone.
		hx := c.Post(path+"/rotate-secret", nil, webtest.HTMX...)
		wantStatus(t, hx, http.StatusOK)
		second := createdSecret(t, hx)
		if !isFragment(hx.Body) || byTestID(hx.Doc, "webhook-secret-section").Length() != 1 ||
			byTestID(hx.Doc, "webhook-rotate-form").Length() != 1 || byTestID(hx.Doc, "secret-overlap").Length() != 1 || second == first {
			t.Fatalf("htmx rotation is not the updated section:\n%s", hx.Body)
		}

		es := auditEntries(t, db, "webhook.rotate_secret")
		if len(es) != 2 || es[0].ActorID != admin.ID || es[0].TargetID != strconv.FormatInt(ep.ID, 10) {
			t.Fatalf("webhook.rotate_secret entries %+v", es)
		}
		for _, e := range es {
			for _, s := range []string{old, first, second} {
				if strings.Contains(e.Diff, strings.TrimPrefix(s, "whsec_")) {
					t.Fatalf("an audit entry holds a secret: %s", e.Diff)
				}
			}
		}
	})
}

func TestWebhookRotateSecret_NonAdminsGet403(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		secret := createdSecret(t, admin.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)))
		ep := onlyEndpoint(t, db)
		path := "/webhooks/" + strconv.FormatInt(ep.ID, 10) + "/rotate-secret"
		for _, role := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			c, _ := h.SignIn(t, role)
			for _, hx := range [][]string{nil, webtest.HTMX} {
				r := c.Post(path, nil, hx...)
				wantStatus(t, r, http.StatusForbidden)
				if strings.Contains(r.Body, "whsec_") {
					t.Fatalf("%s got a secret", role)
				}
			}
		}
		// Without the CSRF token, an admin is refused too.
		wantStatus(t, admin.PostRaw(path, url.Values{}), http.StatusForbidden)
		stored, err := db.WebhookEndpointByID(context.Background(), ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if opened, err := db.WebhookSecret(stored); err != nil || opened != secret || stored.PreviousSecretCipher != "" {
			t.Fatalf("the secret changed: %q, %v", opened, err)
		}
		if es := auditEntries(t, db, "webhook.rotate_secret"); len(es) != 0 {
			t.Fatalf("refused rotations were audited: %+v", es)
		}
	})
}
