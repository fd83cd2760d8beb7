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
	"ledgerdesk/web/webtest"
)

// approvalsOn turns four-eyes approvals on through the settings form.
func approvalsOn(t *testing.T, admin *webtest.Client) {
	t.Helper()
	wantRedirect(t, admin.Post("/settings/approvals", url.Values{"approvals_required": {"on"}, "expiry_hours": {"72"}}), "/settings")
}

func approvalUser(t *testing.T, db *models.DB) *models.EndUser {
	t.Helper()
	c, err := db.CreateEndUser(context.Background(), system, models.EndUserInput{ClientUserID: "four-eyes-" + letters(6)})
	if err != nil {
		t.Fatal(err)
	}
	webtest.Sensitive(c.UserToken)
	return c.User
}

// onlyPending is the one pending request, or fails.
func onlyPending(t *testing.T, db *models.DB) models.ApprovalRequest {
	t.Helper()
	rs, err := db.PendingApprovals(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("pending requests %+v, %v; want one", rs, err)
	}
	return rs[0]
}

func approvePath(r models.ApprovalRequest, verb string) string {
	return "/approvals/" + strconv.FormatInt(r.ID, 10) + "/" + verb
}

func TestSettingsApprovals_OffByDefaultSavedAuditedAndBadExpiryIs422(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		admin, _ := h.SignIn(t, models.RoleAdmin)
		r := admin.Get("/settings")
		wantStatus(t, r, http.StatusOK)
		if _, on := byTestID(r.Doc, "approvals-required").Attr("checked"); on {
			t.Fatal("approvals are on by default")
		}
		if v := r.Doc.Find(`input[name="expiry_hours"]`).AttrOr("value", ""); v != "72" {
			t.Fatalf("expiry shown as %q, want 72", v)
		}
		r = admin.Post("/settings/approvals", url.Values{"approvals_required": {"on"}, "expiry_hours": {"0"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if byTestID(r.Doc, "error-expiry_hours").Length() != 1 || r.Doc.Find(`input[name="expiry_hours"]`).AttrOr("value", "") != "0" {
			t.Fatalf("422 without the message beside the kept value:\n%s", r.Body)
		}
		if s, _ := db.Settings(context.Background()); s.ApprovalsRequired {
			t.Fatal("a refused form turned approvals on")
		}
		approvalsOn(t, admin)
		if s, _ := db.Settings(context.Background()); !s.ApprovalsRequired {
			t.Fatal("approvals not saved")
		}
		if es := auditEntries(t, db, "settings.update"); len(es) != 1 || !strings.Contains(es[0].Diff, "approvals_required") {
			t.Fatalf("settings.update entries %+v", es)
		}
		compliance, _ := h.SignIn(t, models.RoleCompliance)
		wantStatus(t, compliance.Post("/settings/approvals", url.Values{"expiry_hours": {"72"}}), http.StatusForbidden)
	})
}

func TestApprovals_RemovalRequestedByOneAdminApprovedByAnother(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		alice, _ := h.SignIn(t, models.RoleAdmin)
		bob, _ := h.SignIn(t, models.RoleAdmin)
		approvalsOn(t, alice)
		u := approvalUser(t, db)
		userPath := "/users/" + strconv.FormatInt(u.ID, 10)

		page := alice.Get(userPath)
		wantStatus(t, page, http.StatusOK)
		dialog := wantConfirmDialog(t, page.Doc, "user-remove", userPath+"/remove", u.ClientUserID)
		if dialog.Find(`textarea[name="reason"]`).Length() != 1 || dialog.Find(`input[name="confirm"]`).Length() != 0 {
			t.Fatal("the removal dialog does not ask for a reason")
		}
		wantConfirmDialog(t, page.Doc, "user-rotate-token", userPath+"/rotate-token", u.ClientUserID)

		// No reason: 422, the form again with the message beside it.
		r := alice.Post(userPath+"/remove", url.Values{"reason": {"  "}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if byTestID(r.Doc, "error-reason").Length() != 1 || byTestID(r.Doc, "approval-request-form").AttrOr("action", "") != userPath+"/remove" {
			t.Fatalf("422 without the reason's message:\n%s", r.Body)
		}
		if n := countTable(t, db, "approval_requests"); n != 0 {
			t.Fatal("a request without a reason was written")
		}
		wantRedirect(t, alice.Post(userPath+"/remove", url.Values{"reason": {"customer asked, ticket 42"}}), userPath)
		if reloadUser(t, db, u.ID).Removed() {
			t.Fatal("asking removed the user")
		}
		req := onlyPending(t, db)

		// The requester sees it waiting on the user's page, and may not
		// decide it; the other admin has it counted in the navigation.
		page = alice.Get(userPath)
		if byTestID(page.Doc, "approval-state").AttrOr("data-state", "") != models.ApprovalPending {
			t.Fatalf("the user's page does not show the pending request:\n%s", page.Body)
		}
		mine := alice.Get("/approvals")
		if byTestID(mine.Doc, "approval-mine").Length() != 1 || byTestID(mine.Doc, "approval-approve").Length() != 0 {
			t.Fatal("the requester is offered to decide their own request")
		}
		if byTestID(mine.Doc, "nav-count-/approvals").Length() != 0 {
			t.Fatal("the requester's own request is counted for them")
		}
		theirs := bob.Get("/approvals")
		if got := text(byTestID(theirs.Doc, "nav-count-/approvals")); !strings.HasPrefix(got, "1") || strings.Contains(got, "11") {
			t.Fatalf("navigation count %q", text(byTestID(theirs.Doc, "nav-count-/approvals")))
		}
		if text(byTestID(theirs.Doc, "approval-reason")) != "customer asked, ticket 42" {
			t.Fatal("the approver does not see the reason")
		}
		wantConfirmDialog(t, theirs.Doc, "approval-approve", approvePath(req, "approve"), u.ClientUserID)
		wantConfirmDialog(t, theirs.Doc, "approval-deny", approvePath(req, "deny"), u.ClientUserID)

		wantStatus(t, alice.Post(approvePath(req, "approve"), nil), http.StatusForbidden)
		if reloadUser(t, db, u.ID).Removed() {
			t.Fatal("a self-approval removed the user")
		}
		wantRedirect(t, bob.Post(approvePath(req, "approve"), url.Values{"comment": {"checked"}}), "/approvals")
		if !reloadUser(t, db, u.ID).Removed() {
			t.Fatal("the approval did not remove the user")
		}
		r = bob.Post(approvePath(req, "approve"), nil)
		wantStatus(t, r, http.StatusConflict)

		history := alice.Get("/audit?target_type=end_user&target_id=" + strconv.FormatInt(u.ID, 10))
		wantStatus(t, history, http.StatusOK)
		for _, a := range []string{"approval.request", "approval.approve", "user.remove"} {
			if !strings.Contains(history.Body, a) {
				t.Errorf("the user's audit history lacks %s", a)
			}
		}
	})
}

func TestApprovals_DenyNeedsACommentThenChangesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		alice, _ := h.SignIn(t, models.RoleAdmin)
		bob, _ := h.SignIn(t, models.RoleAdmin)
		approvalsOn(t, alice)
		u := approvalUser(t, db)
		userPath := "/users/" + strconv.FormatInt(u.ID, 10)
		wantRedirect(t, alice.Post(userPath+"/rotate-token", url.Values{"reason": {"token leaked in a log"}}), userPath)
		req := onlyPending(t, db)

		r := bob.Post(approvePath(req, "deny"), url.Values{"comment": {""}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if byTestID(r.Doc, "error-comment").Length() != 1 {
			t.Fatalf("422 without the comment's message:\n%s", r.Body)
		}
		wantRedirect(t, bob.Post(approvePath(req, "deny"), url.Values{"comment": {"rotate it from the API"}}), "/approvals")
		if es := auditEntries(t, db, "user.token_rotate"); len(es) != 0 {
			t.Fatal("a denied rotation ran")
		}
		page := alice.Get(userPath)
		if byTestID(page.Doc, "approval-state").AttrOr("data-state", "") != models.ApprovalDenied ||
			text(byTestID(page.Doc, "approval-comment")) != "rotate it from the API" {
			t.Fatalf("the requester does not see the denial:\n%s", page.Body)
		}
	})
}

func TestApprovals_TargetChangedSinceTheRequestIs409SayingWhat(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		alice, _ := h.SignIn(t, models.RoleAdmin)
		bob, _ := h.SignIn(t, models.RoleAdmin)
		approvalsOn(t, alice)
		m, _ := h.Member(t, models.RoleCompliance)
		wantRedirect(t, alice.Post("/team/"+m.ID+"/role", url.Values{"role": {"admin"}, "reason": {"covers the night shift"}}), "/team/"+m.ID)
		req := onlyPending(t, db)
		// Meanwhile another role is given directly (not an admin's: no
		// approval needed).
		wantRedirect(t, bob.Post("/team/"+m.ID+"/role", url.Values{"role": {"auditor"}}), "/team/"+m.ID)
		r := bob.Post(approvePath(req, "approve"), nil)
		wantStatus(t, r, http.StatusConflict)
		if !strings.Contains(r.Body, "role was compliance, is now auditor") {
			t.Fatalf("the 409 does not say what changed:\n%s", r.Body)
		}
		if got, _ := db.MemberByID(context.Background(), m.ID); got.Role != models.RoleAuditor {
			t.Fatalf("role %s after a refused approval", got.Role)
		}
	})
}

// TestApprovals_EveryActionWaitsForASecondAdmin asks for each action
// through its own form and approves it as another admin.
func TestApprovals_EveryActionWaitsForASecondAdmin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		clock := newMFAClock(h)
		alice, _ := h.SignIn(t, models.RoleAdmin)
		bob, _ := h.SignIn(t, models.RoleAdmin)
		approvalsOn(t, alice)
		ctx := context.Background()

		cases := []struct {
			name string
			ask  func() (path string, form url.Values, back string)
			done func() bool
			// secret is what the approval shows once, if anything.
			secret bool
		}{
			{name: "rotate token", secret: true, ask: func() (string, url.Values, string) {
				u := approvalUser(t, db)
				p := "/users/" + strconv.FormatInt(u.ID, 10)
				return p + "/rotate-token", url.Values{}, p
			}, done: func() bool { return len(auditEntries(t, db, "user.token_rotate")) == 1 }},
			{name: "make admin", ask: func() (string, url.Values, string) {
				m, _ := h.Member(t, models.RoleAuditor)
				return "/team/" + m.ID + "/role", url.Values{"role": {"admin"}}, "/team/" + m.ID
			}, done: func() bool { return len(auditEntries(t, db, "team.role_change")) == 1 }},
			{name: "reset two-step sign-in", ask: func() (string, url.Values, string) {
				m, pw := h.Member(t, models.RoleAuditor)
				enrolMember(t, h, clock, m, pw)
				return "/team/" + m.ID + "/mfa-reset", url.Values{}, "/team/" + m.ID
			}, done: func() bool { return len(auditEntries(t, db, "team.mfa_reset")) == 1 }},
			{name: "create read-write key", secret: true, ask: func() (string, url.Values, string) {
				return "/api-keys", url.Values{"name": {"billing"}, "scope": {"write"}}, "/api-keys"
			}, done: func() bool { return len(auditEntries(t, db, "api_key.create")) == 1 }},
			{name: "delete webhook endpoint", ask: func() (string, url.Values, string) {
				e, err := db.CreateWebhookEndpoint(ctx, system, models.WebhookEndpointInput{URL: "https://hooks.example.com/x",
					Events: models.WebhookEventTypes, Enabled: true})
				if err != nil {
					t.Fatal(err)
				}
				webtest.Sensitive(e.Secret)
				p := "/webhooks/" + strconv.FormatInt(e.Endpoint.ID, 10)
				return p + "/delete", url.Values{}, p
			}, done: func() bool { return len(auditEntries(t, db, "webhook.delete")) == 1 }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path, form, back := c.ask()
				r := alice.Post(path, form)
				if r.StatusCode != http.StatusUnprocessableEntity || byTestID(r.Doc, "error-reason").Length() != 1 {
					t.Fatalf("without a reason: status %d, body:\n%s", r.StatusCode, r.Body)
				}
				form.Set("reason", "ticket OPS-"+letters(4))
				wantRedirect(t, alice.Post(path, form), back)
				if c.done() {
					t.Fatal("asking carried the action out")
				}
				req := onlyPending(t, db)
				r = bob.Post(approvePath(req, "approve"), nil)
				if c.secret {
					wantStatus(t, r, http.StatusOK)
					secret := text(byTestID(r.Doc, "approved-secret-value"))
					if secret == "" {
						t.Fatalf("the approval does not show the new secret:\n%s", r.Body)
					}
					webtest.Sensitive(secret)
				} else {
					wantRedirect(t, r, "/approvals")
				}
				if !c.done() {
					t.Fatal("the approval did not carry the action out")
				}
			})
		}
	})
}

func TestApprovals_AdminsOnlyAndTheJSONAPINeverWaits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		alice, _ := h.SignIn(t, models.RoleAdmin)
		approvalsOn(t, alice)
		u := approvalUser(t, db)
		wantRedirect(t, alice.Post("/users/"+strconv.FormatInt(u.ID, 10)+"/remove", url.Values{"reason": {"duplicate"}}), "/users/")
		req := onlyPending(t, db)
		for _, role := range []models.Role{models.RoleCompliance, models.RoleAuditor} {
			c, _ := h.SignIn(t, role)
			wantStatus(t, c.Get("/approvals"), http.StatusForbidden)
			wantStatus(t, c.Post(approvePath(req, "approve"), nil), http.StatusForbidden)
			wantStatus(t, c.Post(approvePath(req, "deny"), url.Values{"comment": {"no"}}), http.StatusForbidden)
		}
		// Read-only keys are made at once; the API removes at once.
		r := alice.Post("/api-keys", url.Values{"name": {"reports"}, "scope": {"read"}})
		wantStatus(t, r, http.StatusCreated)
		webtest.Sensitive(text(byTestID(r.Doc, "api-key-secret")))
		key := newKey(t, db, models.ScopeWrite)
		other, err := db.CreateEndUser(context.Background(), system, models.EndUserInput{ClientUserID: "api-" + letters(6)})
		if err != nil {
			t.Fatal(err)
		}
		webtest.Sensitive(other.UserToken)
		wantOK(t, plaid(t, h.Client(t), "/user/remove", key.creds(map[string]any{"user_token": other.UserToken})))
		if !reloadUser(t, db, other.User.ID).Removed() {
			t.Fatal("the API's removal waited for an approval")
		}
	})
}
