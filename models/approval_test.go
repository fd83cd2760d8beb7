package models_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// approvalCase is one action that can wait for approval: how to make its
// target, whether it was carried out, and how to change the target under
// a pending request.
type approvalCase struct {
	action string
	// executed is the audit action the approval runs.
	executed string
	setup    func(t *testing.T, f *approvalFixture) (targetID string, key models.NewAPIKey)
	// ran reports whether the action was carried out on the target.
	ran func(t *testing.T, f *approvalFixture, targetID string) bool
	// change alters the target as another admin would meanwhile, and
	// returns what the refused approval must name; nil when the action
	// has no target yet.
	change func(t *testing.T, f *approvalFixture, targetID string) string
}

type approvalFixture struct {
	db                *models.DB
	clock             *testClock
	alice, bob, carol *models.TeamMember
}

// decidable is how many requests the navigation shows as waiting for
// who: the count read with a session of theirs.
func (f *approvalFixture) decidable(t *testing.T, who *models.TeamMember) int64 {
	t.Helper()
	now := models.Now()
	s := insertSession(t, f.db, who.ID, now, now.Add(time.Hour))
	loaded, err := f.db.LoadSession(ctx, s.IDHash, limits)
	if err != nil {
		t.Fatalf("%s's session: %v", who.EmailAddress, err)
	}
	return loaded.WaitingApprovals
}

func newApprovalFixture(t *testing.T, db *models.DB) *approvalFixture {
	t.Helper()
	f := &approvalFixture{db: db, clock: setClock(db)}
	f.alice = activeMember(t, db, "alice@example.com")
	f.bob = activeMember(t, db, "bob@example.com")
	f.carol = activeMember(t, db, "carol@example.com")
	requireApprovals(t, db, true)
	return f
}

func requireApprovals(t testing.TB, db *models.DB, on bool) {
	t.Helper()
	if _, err := db.UpdateApprovalSettings(ctx, systemOrigin, models.ApprovalSettingsInput{Required: on, ExpiryHours: "72"}); err != nil {
		t.Fatalf("approval settings: %v", err)
	}
}

var approvalCases = []approvalCase{
	{action: models.ApproveUserRemove, executed: "user.remove",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			u := createUser(t, f.db, "remove-me-"+models.RandomHex(3), nil)
			return strconv.FormatInt(u.User.ID, 10), models.NewAPIKey{}
		},
		ran: func(t *testing.T, f *approvalFixture, id string) bool {
			n, _ := strconv.ParseInt(id, 10, 64)
			return reloadUser(t, f.db, n).Removed()
		},
		change: func(t *testing.T, f *approvalFixture, id string) string {
			n, _ := strconv.ParseInt(id, 10, 64)
			if _, err := f.db.RotateUserToken(ctx, memberOrigin(f.carol), n); err != nil {
				t.Fatal(err)
			}
			return "The end user changed since the request: last change was"
		}},
	{action: models.ApproveTokenRotate, executed: "user.token_rotate",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			u := createUser(t, f.db, "rotate-me-"+models.RandomHex(3), nil)
			return strconv.FormatInt(u.User.ID, 10), models.NewAPIKey{}
		},
		ran: func(t *testing.T, f *approvalFixture, id string) bool {
			return len(entriesWithAction(t, f.db, "user.token_rotate")) > 0
		},
		change: func(t *testing.T, f *approvalFixture, id string) string {
			n, _ := strconv.ParseInt(id, 10, 64)
			u := reloadUser(t, f.db, n)
			if err := f.db.RemoveEndUser(ctx, memberOrigin(f.carol), n, u.ClientUserID); err != nil {
				t.Fatal(err)
			}
			return "state was active, is now removed"
		}},
	{action: models.ApproveMakeAdmin, executed: "team.role_change",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			return withRole(t, f.db, "promote-"+models.RandomHex(3)+"@example.com", models.RoleCompliance).ID, models.NewAPIKey{}
		},
		ran: func(t *testing.T, f *approvalFixture, id string) bool {
			m, err := f.db.MemberByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return m.Role == models.RoleAdmin
		},
		change: func(t *testing.T, f *approvalFixture, id string) string {
			if _, err := f.db.ChangeMemberRole(ctx, memberOrigin(f.carol), id, models.RoleAuditor); err != nil {
				t.Fatal(err)
			}
			return "role was compliance, is now auditor"
		}},
	{action: models.ApproveMFAReset, executed: "team.mfa_reset",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			m := withRole(t, f.db, "lost-"+models.RandomHex(3)+"@example.com", models.RoleAuditor)
			enrol(t, f.db, f.clock, m)
			return m.ID, models.NewAPIKey{}
		},
		ran: func(t *testing.T, f *approvalFixture, id string) bool {
			at, err := f.db.MFAEnrolledAt(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return at == nil
		},
		change: func(t *testing.T, f *approvalFixture, id string) string {
			if _, err := f.db.ResetMemberMFA(ctx, memberOrigin(f.carol), id); err != nil {
				t.Fatal(err)
			}
			return "two-step sign-in was on since"
		}},
	{action: models.ApproveAPIKeyCreate, executed: "api_key.create",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			return "", models.NewAPIKey{Name: "billing " + models.RandomHex(3), Scope: models.ScopeWrite}
		},
		ran: func(t *testing.T, f *approvalFixture, _ string) bool {
			return countRows(t, f.db, "api_keys") > 0
		}},
	{action: models.ApproveWebhookDelete, executed: "webhook.delete",
		setup: func(t *testing.T, f *approvalFixture) (string, models.NewAPIKey) {
			return strconv.FormatInt(newEndpoint(t, f.db).Endpoint.ID, 10), models.NewAPIKey{}
		},
		ran: func(t *testing.T, f *approvalFixture, id string) bool {
			n, _ := strconv.ParseInt(id, 10, 64)
			_, err := f.db.WebhookEndpointByID(ctx, n)
			return models.ErrorKind(err) == models.KindNotFound
		},
		change: func(t *testing.T, f *approvalFixture, id string) string {
			n, _ := strconv.ParseInt(id, 10, 64)
			if _, err := f.db.UpdateWebhookEndpoint(ctx, memberOrigin(f.carol), n, models.WebhookEndpointInput{
				URL: "https://hooks.example.com/ledgerdesk", Events: models.WebhookEventTypes, Enabled: false}); err != nil {
				t.Fatal(err)
			}
			return "enabled was true, is now false"
		}},
}

// eachApprovalCase runs fn for every action on both databases.
func eachApprovalCase(t *testing.T, fn func(t *testing.T, f *approvalFixture, c approvalCase)) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newApprovalFixture(t, db)
		for _, c := range approvalCases {
			t.Run(c.action, func(t *testing.T) { fn(t, f, c) })
		}
	})
}

func (f *approvalFixture) request(t *testing.T, c approvalCase) (*models.ApprovalRequest, string) {
	t.Helper()
	id, key := c.setup(t, f)
	r, err := f.db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{
		Action: c.action, TargetID: id, Reason: "ticket OPS-17: the customer asked", Key: key})
	if err != nil {
		t.Fatalf("request %s: %v", c.action, err)
	}
	return r, id
}

// linked is the entries that name the request, oldest first.
func linked(t *testing.T, db *models.DB, id int64) []models.AuditEntry {
	t.Helper()
	var all []models.AuditEntry
	if err := db.Gorm().Order("seq").Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	var out []models.AuditEntry
	for _, e := range all {
		var d models.AuditDiff
		_ = json.Unmarshal([]byte(e.Diff), &d)
		if v, ok := d.After["approval_request"].(float64); ok && int64(v) == id {
			out = append(out, e)
		}
	}
	return out
}

func actions(es []models.AuditEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return strings.Join(out, ",")
}

func TestApproval_RequestedWaitsAndChangesNothing(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, id := f.request(t, c)
		if c.ran(t, f, id) {
			t.Fatal("asking for an approval carried the action out")
		}
		if r.State != models.ApprovalPending || r.RequestedBy != f.alice.ID || r.Reason != "ticket OPS-17: the customer asked" ||
			!r.ExpiresAt.Equal(f.clock.Now().Add(72*time.Hour)) {
			t.Fatalf("request %+v", r)
		}
		es := linked(t, f.db, r.ID)
		if actions(es) != models.ActionApprovalRequest || es[0].ActorID != f.alice.ID || es[0].Reason != r.Reason ||
			es[0].TargetType != r.TargetType || es[0].TargetID != id {
			t.Fatalf("entries of the request: %+v", es)
		}
		pending, err := f.db.PendingApprovals(ctx)
		if err != nil || len(pending) == 0 || pending[0].ID != r.ID {
			t.Fatalf("pending %+v, %v", pending, err)
		}
		// Others may decide it; the requester may not.
		if n := f.decidable(t, f.bob); n != int64(len(pending)) {
			t.Fatalf("bob may decide %d, want %d", n, len(pending))
		}
		if n := f.decidable(t, f.alice); n != 0 {
			t.Fatalf("alice may decide %d of her own requests", n)
		}
		// A second request for the same action waits on the first.
		if id != "" {
			_, err := f.db.RequestApproval(ctx, memberOrigin(f.carol), models.ApprovalInput{Action: c.action, TargetID: id, Reason: "again"})
			domainError(t, err, models.KindConflict)
		}
		// Close it so the next case counts from nothing.
		if _, err := f.db.DenyRequest(ctx, memberOrigin(f.bob), r.ID, "tidy"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestApproval_ApprovedByAnotherAdminRunsTheActionWithLinkedEntries(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, id := f.request(t, c)
		out, err := f.db.ApproveRequest(ctx, memberOrigin(f.bob), r.ID, "checked with the customer")
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if !c.ran(t, f, out.Request.TargetID) {
			t.Fatal("the approval did not carry the action out")
		}
		switch c.action {
		case models.ApproveTokenRotate:
			n, _ := strconv.ParseInt(id, 10, 64)
			if u, err := f.db.EndUserByToken(ctx, out.UserToken); err != nil || u.ID != n {
				t.Fatalf("the new token finds %+v, %v", u, err)
			}
		case models.ApproveAPIKeyCreate:
			if out.APIKey == nil || out.APIKey.Key.Scope != models.ScopeWrite || out.APIKey.Secret == "" ||
				out.Request.TargetID != strconv.FormatInt(out.APIKey.Key.ID, 10) {
				t.Fatalf("created key %+v for %+v", out.APIKey, out.Request)
			}
			id = out.Request.TargetID
		}
		got, err := f.db.ApprovalByID(ctx, r.ID)
		if err != nil || got.State != models.ApprovalApproved || got.DecidedBy != f.bob.ID || got.Comment != "checked with the customer" {
			t.Fatalf("after approval %+v, %v", got, err)
		}
		es := linked(t, f.db, r.ID)
		if actions(es) != models.ActionApprovalRequest+","+models.ActionApprovalApprove+","+c.executed {
			t.Fatalf("linked entries %s", actions(es))
		}
		approve, run := es[1], es[2]
		if run.Seq != approve.Seq+1 || approve.ActorID != f.bob.ID || run.ActorID != f.bob.ID ||
			approve.TargetID != id || run.TargetID != id || approve.Reason != "checked with the customer" {
			t.Fatalf("approval %+v and action %+v are not one linked pair", approve, run)
		}
		if d := approve.DecodeDiff(); d.After["requested_by"] != f.alice.ID {
			t.Fatalf("approval diff %+v", d)
		}
		// Decided once.
		_, err = f.db.ApproveRequest(ctx, memberOrigin(f.carol), r.ID, "")
		domainError(t, err, models.KindConflict)
	})
}

func TestApproval_DeniedChangesNothing(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, id := f.request(t, c)
		before := countRows(t, f.db, "audit_entries")
		_, err := f.db.DenyRequest(ctx, memberOrigin(f.bob), r.ID, "  ")
		if e := domainError(t, err, models.KindInvalid); e.Fields["comment"] == "" {
			t.Fatalf("a denial without a comment: %+v", e)
		}
		if n := countRows(t, f.db, "audit_entries"); n != before {
			t.Fatal("a refused denial wrote an entry")
		}
		if _, err := f.db.DenyRequest(ctx, memberOrigin(f.bob), r.ID, "no ticket for this"); err != nil {
			t.Fatalf("deny: %v", err)
		}
		if c.ran(t, f, id) {
			t.Fatal("a denied request was carried out")
		}
		es := linked(t, f.db, r.ID)
		if actions(es) != models.ActionApprovalRequest+","+models.ActionApprovalDeny || es[1].ActorID != f.bob.ID ||
			es[1].Reason != "no ticket for this" {
			t.Fatalf("linked entries %+v", es)
		}
		_, err = f.db.ApproveRequest(ctx, memberOrigin(f.carol), r.ID, "")
		domainError(t, err, models.KindConflict)
		if c.ran(t, f, id) {
			t.Fatal("a denied request was carried out by a later approval")
		}
	})
}

func TestApproval_ExpiredIsRefusedAndMayBeAskedAgain(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, id := f.request(t, c)
		f.clock.Advance(72 * time.Hour)
		if got, _ := f.db.ApprovalByID(ctx, r.ID); got.StateAt(f.db.ApprovalNow()) != models.ApprovalExpired {
			t.Fatalf("state after 72 h: %s", got.StateAt(f.db.ApprovalNow()))
		}
		_, err := f.db.ApproveRequest(ctx, memberOrigin(f.bob), r.ID, "")
		if e := domainError(t, err, models.KindConflict); !strings.Contains(e.Message, "expired") {
			t.Fatalf("approving an expired request: %v", e)
		}
		_, err = f.db.DenyRequest(ctx, memberOrigin(f.bob), r.ID, "late")
		domainError(t, err, models.KindConflict)
		if c.ran(t, f, id) {
			t.Fatal("an expired request was carried out")
		}
		if n := f.decidable(t, f.bob); n != 0 {
			t.Fatalf("%d expired requests counted as pending", n)
		}
		if id != "" {
			again, err := f.db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: c.action, TargetID: id, Reason: "again"})
			if err != nil {
				t.Fatalf("asking again after expiry: %v", err)
			}
			if old, _ := f.db.ApprovalByID(ctx, r.ID); old.State != models.ApprovalExpired {
				t.Fatalf("the expired request's row says %s", old.State)
			}
			if _, err := f.db.DenyRequest(ctx, memberOrigin(f.bob), again.ID, "tidy"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestApproval_TheRequesterCannotDecideTheirOwn(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, id := f.request(t, c)
		before := countRows(t, f.db, "audit_entries")
		_, err := f.db.ApproveRequest(ctx, memberOrigin(f.alice), r.ID, "fine by me")
		domainError(t, err, models.KindForbidden)
		_, err = f.db.DenyRequest(ctx, memberOrigin(f.alice), r.ID, "never mind")
		domainError(t, err, models.KindForbidden)
		if c.ran(t, f, id) {
			t.Fatal("a self-approval carried the action out")
		}
		if got, _ := f.db.ApprovalByID(ctx, r.ID); got.State != models.ApprovalPending {
			t.Fatalf("state %s after a refused self-approval", got.State)
		}
		if n := countRows(t, f.db, "audit_entries"); n != before {
			t.Fatal("a refused self-approval wrote an entry")
		}
		if _, err := f.db.DenyRequest(ctx, memberOrigin(f.bob), r.ID, "tidy"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestApproval_ConcurrentApprovalsRunTheActionExactlyOnce(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		r, _ := f.request(t, c)
		approvers := []*models.TeamMember{f.bob, f.carol, f.bob, f.carol, f.bob, f.carol}
		errs := race(len(approvers), func(i int) error {
			_, err := f.db.ApproveRequest(ctx, memberOrigin(approvers[i]), r.ID, "go")
			return err
		})
		ok := 0
		for _, err := range errs {
			switch models.ErrorKind(err) {
			case 0:
				ok++
			case models.KindConflict:
			default:
				t.Fatalf("an approval failed otherwise: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d approvals succeeded, want exactly 1: %v", ok, errs)
		}
		es := linked(t, f.db, r.ID)
		if actions(es) != models.ActionApprovalRequest+","+models.ActionApprovalApprove+","+c.executed {
			t.Fatalf("linked entries %s", actions(es))
		}
	})
}

func TestApproval_TargetChangedSinceTheRequestFailsWithWhatChanged(t *testing.T) {
	eachApprovalCase(t, func(t *testing.T, f *approvalFixture, c approvalCase) {
		if c.change == nil {
			return // a key to create has no target until it runs
		}
		r, id := f.request(t, c)
		want := c.change(t, f, id)
		ran := c.ran(t, f, id)
		_, err := f.db.ApproveRequest(ctx, memberOrigin(f.bob), r.ID, "")
		if e := domainError(t, err, models.KindConflict); !strings.Contains(e.Message, want) {
			t.Fatalf("message %q does not say %q", e.Message, want)
		}
		if c.ran(t, f, id) != ran || len(entriesWithAction(t, f.db, models.ActionApprovalApprove)) != 0 {
			t.Fatal("a refused approval changed something")
		}
		got, _ := f.db.ApprovalByID(ctx, r.ID)
		if got.State != models.ApprovalFailed || !strings.Contains(got.Comment, want) {
			t.Fatalf("request after the refused approval: %+v", got)
		}
		if es := linked(t, f.db, r.ID); actions(es) != models.ActionApprovalRequest+","+models.ActionApprovalFail {
			t.Fatalf("linked entries %s", actions(es))
		}
	})
}

func TestRequestApproval_NeedsAReasonAndApprovalsOn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		f := newApprovalFixture(t, db)
		u := createUser(t, db, "reasonless", nil)
		id := strconv.FormatInt(u.User.ID, 10)
		for _, reason := range []string{"", "   ", "bad\x00byte", "\xff\xfe", strings.Repeat("x", 501)} {
			_, err := db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: models.ApproveUserRemove, TargetID: id, Reason: reason})
			if e := domainError(t, err, models.KindInvalid); e.Fields["reason"] == "" {
				t.Fatalf("reason %q: %+v", reason, e)
			}
		}
		_, err := db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: models.ApproveAPIKeyCreate, Reason: "x",
			Key: models.NewAPIKey{Name: "", Scope: "admin"}})
		if e := domainError(t, err, models.KindInvalid); e.Fields["name"] == "" || e.Fields["scope"] == "" {
			t.Fatalf("a key without a name or scope: %+v", e)
		}
		_, err = db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: "user.update", TargetID: id, Reason: "x"})
		domainError(t, err, models.KindInvalid)
		_, err = db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: models.ApproveMFAReset, TargetID: f.alice.ID, Reason: "x"})
		domainError(t, err, models.KindForbidden)
		requireApprovals(t, db, false)
		_, err = db.RequestApproval(ctx, memberOrigin(f.alice), models.ApprovalInput{Action: models.ApproveUserRemove, TargetID: id, Reason: "x"})
		domainError(t, err, models.KindConflict)
		if n := countRows(t, db, "approval_requests"); n != 0 {
			t.Fatalf("%d refused requests written", n)
		}
	})
}

func TestUpdateApprovalSettings_OffByDefaultCheckedAndAudited(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		s, err := db.Settings(ctx)
		if err != nil || s.ApprovalsRequired || s.ApprovalExpiry != 72*time.Hour {
			t.Fatalf("defaults %+v, %v", s, err)
		}
		for _, bad := range []string{"", "0", "721", "1.5", "abc", "9999999", "\x00"} {
			_, err := db.UpdateApprovalSettings(ctx, systemOrigin, models.ApprovalSettingsInput{Required: true, ExpiryHours: bad})
			if e := domainError(t, err, models.KindInvalid); e.Fields["expiry_hours"] == "" {
				t.Fatalf("expiry %q: %+v", bad, e)
			}
		}
		changed, err := db.UpdateApprovalSettings(ctx, systemOrigin, models.ApprovalSettingsInput{Required: true, ExpiryHours: " 24 "})
		if err != nil || !changed {
			t.Fatalf("update: %v, %v", changed, err)
		}
		if s, _ := db.Settings(ctx); !s.ApprovalsRequired || s.ApprovalExpiry != 24*time.Hour {
			t.Fatalf("after update %+v", s)
		}
		if changed, err := db.UpdateApprovalSettings(ctx, systemOrigin, models.ApprovalSettingsInput{Required: true, ExpiryHours: "24"}); err != nil || changed {
			t.Fatalf("same again: %v, %v", changed, err)
		}
		es := entriesWithAction(t, db, "settings.update")
		if len(es) != 1 || !strings.Contains(es[0].Diff, `"approvals_required":true`) {
			t.Fatalf("settings.update entries %+v", es)
		}
		// The two-step setting keeps its own section: saving it leaves
		// the approval settings as they are.
		if _, err := db.UpdateSettings(ctx, systemOrigin, models.Settings{MFARequiredForAdmins: true}); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.Settings(ctx); !s.ApprovalsRequired || !s.MFARequiredForAdmins {
			t.Fatalf("after the two-step setting %+v", s)
		}
	})
}

func TestStartBatch_RemovalIsRefusedWhileApprovalsAreRequired(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		requireApprovals(t, db, true)
		u := createUser(t, db, "batch-me", nil)
		_, err := db.StartBatch(ctx, adminOrigin, models.BatchRequest{Action: models.BatchRemove,
			Selection: models.UserSelection{IDs: []int64{u.User.ID}}, Expect: 1, Confirm: "1"})
		domainError(t, err, models.KindConflict)
		if reloadUser(t, db, u.User.ID).Removed() || countRows(t, db, "batch_jobs") != 0 {
			t.Fatal("a refused batch removal changed something")
		}
	})
}
