package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// wantConfirmDialog checks that the button (or link) marked opener asks in
// a <dialog> before posting to action: both sit in the form that posts
// there, the dialog's question names every one of names, Cancel only
// closes it, and its one submit button sends the form. It returns the
// dialog.
func wantConfirmDialog(t *testing.T, doc *goquery.Document, opener, action string, names ...string) *goquery.Selection {
	t.Helper()
	open := byTestID(doc, opener).First()
	if open.Length() == 0 {
		t.Fatalf("no %s on the page", opener)
	}
	ref := open.AttrOr("data-dialog-open", "")
	dialog := doc.Find(ref)
	if !strings.HasPrefix(ref, "#") || dialog.Length() != 1 || goquery.NodeName(dialog) != "dialog" {
		t.Fatalf("%s opens %q, which is not one <dialog>", opener, ref)
	}
	form := dialog.Closest("form")
	if form.AttrOr("action", "") != action || form.AttrOr("method", "") != "post" {
		t.Fatalf("%s's dialog is in a form posting to %q, want %s", opener, form.AttrOr("action", ""), action)
	}
	if !open.Closest("form").IsSelection(form) {
		t.Errorf("%s is not in the form its dialog submits", opener)
	}
	if form.Find(`input[name="_csrf"]`).Length() != 1 {
		t.Errorf("%s's form has no CSRF token", opener)
	}
	question := dialog.Find("#" + dialog.AttrOr("aria-labelledby", "-"))
	if question.Length() != 1 {
		t.Fatalf("%s's dialog is not labelled by its question", opener)
	}
	for _, name := range names {
		if !strings.Contains(text(question), name) {
			t.Errorf("%s asks %q, which does not name %q", opener, text(question), name)
		}
	}
	if dialog.Find("#"+dialog.AttrOr("aria-describedby", "-")).Length() != 1 {
		t.Errorf("%s's dialog has no description", opener)
	}
	cancel := dialog.Find("[data-dialog-close]")
	if cancel.Length() != 1 || cancel.AttrOr("type", "") != "button" {
		t.Errorf("%s's dialog has no Cancel button that only closes it", opener)
	}
	if n := dialog.Find(`button[type="submit"]`).Length(); n != 1 {
		t.Errorf("%s's dialog has %d submit buttons, want the one that confirms", opener, n)
	}
	return dialog
}

// wantNoNativeConfirm fails on a page that still asks with confirm().
func wantNoNativeConfirm(t *testing.T, what string, r *webtest.Response) {
	t.Helper()
	if n := r.Doc.Find("[hx-confirm], [data-hx-confirm]").Length(); n != 0 || strings.Contains(r.Body, "confirm(") {
		t.Errorf("%s still asks with confirm() (%d hx-confirm)", what, n)
	}
}

func TestDialogs_EveryOneWayActionAsksInADialogNamingItsTarget(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		page := func(path string) *webtest.Response {
			t.Helper()
			r := admin.Get(path)
			wantStatus(t, r, http.StatusOK)
			wantNoNativeConfirm(t, path, r)
			wantNoInlineCode(t, path, r.Doc)
			return r
		}

		id := sampleIdentity()
		u := createUser(t, db, id).User
		user := userPath(u.ID)
		r := page(user)
		who := "end user " + strconv.FormatInt(u.ID, 10)
		wantConfirmDialog(t, r.Doc, "user-rotate-token", user+"/rotate-token", who, id.FirstName+" "+id.LastName, id.Emails[0])
		wantConfirmDialog(t, r.Doc, "user-reset-login", user+"/reset-login", who, id.LastName)
		remove := wantConfirmDialog(t, r.Doc, "user-remove", user+"/remove", who, id.LastName)
		// The removal still asks for the client_user_id, in the dialog;
		// without script its link leads to the page that asks.
		if remove.Find(`input[name="confirm"][required]`).Length() != 1 || !strings.Contains(text(remove), u.ClientUserID) {
			t.Errorf("the removal dialog does not ask to type the client_user_id:\n%s", text(remove))
		}
		if href := byTestID(r.Doc, "user-remove").AttrOr("href", ""); href != user+"/remove" {
			t.Errorf("Remove… links to %q without script", href)
		}

		key := newKey(t, db, models.ScopeRead)
		keyPath := "/api-keys/" + strconv.FormatInt(key.Key.ID, 10)
		wantConfirmDialog(t, page(keyPath).Doc, "api-key-revoke", keyPath+"/revoke", key.Key.Name, key.Key.ClientID)

		wantStatus(t, admin.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)), http.StatusCreated)
		var ep models.WebhookEndpoint
		if err := db.Gorm().Where("url = ?", publicURL).First(&ep).Error; err != nil {
			t.Fatal(err)
		}
		hook := "/webhooks/" + strconv.FormatInt(ep.ID, 10)
		r = page(hook)
		wantConfirmDialog(t, r.Doc, "webhook-delete", hook+"/delete", publicURL)
		wantConfirmDialog(t, r.Doc, "webhook-rotate-secret", hook+"/rotate-secret", publicURL)

		_, reviewer := h.SignIn(t, models.RoleCompliance)
		member := "/team/" + reviewer.ID
		r = page(member)
		wantConfirmDialog(t, r.Doc, "member-deactivate", member+"/deactivate", reviewer.EmailAddress)
		handle := byTestID(r.Doc, "session-row").AttrOr("data-session", "")
		wantConfirmDialog(t, r.Doc, "session-end", member+"/sessions/"+handle+"/end", reviewer.EmailAddress+"’s session", webtest.ClientIP)
		invited := insertTeam(t, db, "dialog-invited", 2)[1]
		if invited.Status != models.MemberInvited {
			t.Fatalf("insertTeam's second member is %s", invited.Status)
		}
		wantConfirmDialog(t, page("/team/"+invited.ID).Doc, "invite-revoke", "/team/"+invited.ID+"/invite/revoke", invited.EmailAddress)

		// The member's own sessions: one other, ended alone or with the rest.
		m, pw := h.Member(t, models.RoleAuditor)
		here, phone := h.Client(t), h.Client(t)
		here.Login(m.EmailAddress, pw)
		phoneUA := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
		wantStatus(t, phone.Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "User-Agent", phoneUA), http.StatusSeeOther)
		r = here.Get("/account/sessions")
		wantStatus(t, r, http.StatusOK)
		wantNoNativeConfirm(t, "own sessions", r)
		other := r.Doc.Find(`[data-testid="session-row"]:not(:has([data-testid="session-current"]))`)
		handle = other.AttrOr("data-session", "")
		wantConfirmDialog(t, r.Doc, "session-end", "/account/sessions/"+handle+"/end", "your session", "Safari on iPhone", webtest.ClientIP)
		wantConfirmDialog(t, r.Doc, "sessions-end-others", "/account/sessions/end-others", "your 1 other session")
	})
}

// Without script the opener submits the form it sits in: the action runs
// as before, so the dialog costs nothing to a browser that cannot show it.
func TestDialogs_WithoutScriptTheFormStillPosts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		wantStatus(t, admin.Post("/webhooks", webhookForm(publicURL, models.EventUserCreated)), http.StatusCreated)
		var ep models.WebhookEndpoint
		if err := db.Gorm().Where("url = ?", publicURL).First(&ep).Error; err != nil {
			t.Fatal(err)
		}
		hook := "/webhooks/" + strconv.FormatInt(ep.ID, 10)
		r := admin.Get(hook)
		opener := byTestID(r.Doc, "webhook-delete")
		if goquery.NodeName(opener) != "button" || opener.AttrOr("type", "") != "submit" {
			t.Fatalf("the opener is a <%s type=%q>, not a submit button", goquery.NodeName(opener), opener.AttrOr("type", ""))
		}
		wantRedirect(t, admin.Post(hook+"/delete", nil), "/webhooks")
		wantStatus(t, admin.Get(hook), http.StatusNotFound)
	})
}
