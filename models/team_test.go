package models_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// memberOrigin is a change made by the signed-in member m.
func memberOrigin(m *models.TeamMember) models.Origin {
	return models.Origin{Actor: m.AsActor(), RequestID: "req-team", IP: "192.0.2.9", UserAgent: "models-test"}
}

// withRole inserts an active member with role and testPassword.
func withRole(t testing.TB, db *models.DB, email string, role models.Role) *models.TeamMember {
	t.Helper()
	m := activeMember(t, db, email)
	if role != models.RoleAdmin {
		if err := db.Gorm().Exec(`UPDATE team_members SET role = ? WHERE id = ?`, string(role), m.ID).Error; err != nil {
			t.Fatal(err)
		}
		m.Role = role
	}
	return m
}

func reloadMember(t testing.TB, db *models.DB, id string) *models.TeamMember {
	t.Helper()
	m, err := db.MemberByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func invite(t testing.TB, db *models.DB, by *models.TeamMember, email string, role models.Role) *models.IssuedInvitation {
	t.Helper()
	inv, err := db.InviteMember(ctx, memberOrigin(by), models.NewInvitee{Email: email, Role: role})
	if err != nil {
		t.Fatalf("invite %s: %v", email, err)
	}
	return inv
}

const goodPassword = "violet anchor tramway 42"

func TestInviteMember_IssuesAHashedLinkAndAuditsIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, " Reviewer@Example.com ", models.RoleCompliance)
		m := reloadMember(t, db, inv.Member.ID)
		if m.Status != models.MemberInvited || m.Role != models.RoleCompliance || m.EmailAddress != "reviewer@example.com" || m.PasswordHash != "" {
			t.Fatalf("invited member %+v", m)
		}
		if len(m.ID) != 24 {
			t.Fatalf("member id %q, want 24 hex characters", m.ID)
		}
		if d := inv.ExpiresAt.Sub(models.Now()); d < 71*time.Hour || d > 72*time.Hour {
			t.Fatalf("the link expires in %s, want 72h", d)
		}
		rows := rawRows(t, db, `SELECT token_hash FROM team_invitations`)
		if len(rows) != 1 || text(rows[0]["token_hash"]) != models.HashToken(inv.Token) {
			t.Fatalf("stored invitations %v, want only the token's hash", rows)
		}
		open, err := db.InvitationByToken(ctx, inv.Token)
		if err != nil || open.Member.ID != m.ID {
			t.Fatalf("the new link does not open: %v", err)
		}
		es := entriesWithAction(t, db, "team.invite")
		if len(es) != 1 || es[0].ActorID != admin.ID || es[0].TargetID != m.ID || strings.Contains(es[0].Diff, inv.Token) {
			t.Fatalf("team.invite entries %+v", es)
		}

		before := countRows(t, db, "team_members")
		_, err = db.InviteMember(ctx, memberOrigin(admin), models.NewInvitee{Email: "REVIEWER@example.com", Role: models.RoleAuditor})
		if e := domainError(t, err, models.KindConflict); !strings.Contains(e.Fields["email"], "already on the team") {
			t.Fatalf("duplicate invite: %+v", e)
		}
		_, err = db.InviteMember(ctx, memberOrigin(admin), models.NewInvitee{Email: "nope", Role: "boss"})
		if e := domainError(t, err, models.KindInvalid); e.Fields["email"] == "" || e.Fields["role"] == "" {
			t.Fatalf("bad invite: %+v", e)
		}
		if countRows(t, db, "team_members") != before {
			t.Fatal("a refused invitation added a member")
		}
	})
}

func TestAcceptInvitation_WorksOnceThenNotAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "new@example.com", models.RoleAuditor)
		m, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, goodPassword, goodPassword)
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		got := reloadMember(t, db, m.ID)
		if got.Status != models.MemberActive || !testdb.PasswordMatches(t, storedHash(t, db, m.ID), goodPassword) {
			t.Fatalf("after accepting: %+v", got)
		}
		es := entriesWithAction(t, db, "team.accept")
		if len(es) != 1 || es[0].ActorID != m.ID || es[0].TargetID != m.ID || strings.Contains(es[0].Diff, goodPassword) {
			t.Fatalf("team.accept entries %+v", es)
		}
		if _, _, err := signIn(db, "198.51.100.4", "new@example.com", goodPassword); err != nil {
			t.Fatalf("the invitee cannot sign in: %v", err)
		}
		_, err = db.AcceptInvitation(ctx, anonymousFrom("198.51.100.5"), inv.Token, "another long passphrase", "another long passphrase")
		if e := domainError(t, err, models.KindNotFound); !strings.Contains(e.Message, "already used") {
			t.Fatalf("second use: %v", e)
		}
		if !testdb.PasswordMatches(t, storedHash(t, db, m.ID), goodPassword) {
			t.Fatal("the second use changed the password")
		}
	})
}

func TestAcceptInvitation_RefusedAfterExpiry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "late@example.com", models.RoleAuditor)
		past := models.Now().Add(-time.Minute)
		if err := db.Gorm().Exec(`UPDATE team_invitations SET expires_at = ?`, past).Error; err != nil {
			t.Fatal(err)
		}
		_, err := db.InvitationByToken(ctx, inv.Token)
		if e := domainError(t, err, models.KindNotFound); !strings.Contains(e.Message, "expired") {
			t.Fatalf("open expired: %v", e)
		}
		_, err = db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, goodPassword, goodPassword)
		domainError(t, err, models.KindNotFound)
		if m := reloadMember(t, db, inv.Member.ID); m.Status != models.MemberInvited || m.PasswordHash != "" {
			t.Fatalf("an expired link changed the member: %+v", m)
		}
		if n := len(entriesWithAction(t, db, "team.accept")); n != 0 {
			t.Fatalf("%d team.accept entries", n)
		}
	})
}

func TestAcceptInvitation_AppliesThePasswordPolicy(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "policy.person@example.com", models.RoleAuditor)
		for _, c := range []struct{ pw, confirm, field string }{
			{"short", "short", "password"},
			{"1qaz2wsx3edc", "1qaz2wsx3edc", "password"},
			{"policy.person@example.com", "policy.person@example.com", "password"},
			{goodPassword, goodPassword + "x", "confirm"},
		} {
			_, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, c.pw, c.confirm)
			if e := domainError(t, err, models.KindInvalid); e.Fields[c.field] == "" {
				t.Errorf("%q: fields %v, want a message for %s", c.pw, e.Fields, c.field)
			}
		}
		// Refused attempts leave the link usable.
		if _, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, goodPassword, goodPassword); err != nil {
			t.Fatalf("accept after refused attempts: %v", err)
		}
	})
}

func TestResendInvitation_OldLinkStopsWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		first := invite(t, db, admin, "again@example.com", models.RoleCompliance)
		second, err := db.ResendInvitation(ctx, memberOrigin(admin), first.Member.ID)
		if err != nil {
			t.Fatal(err)
		}
		if second.Token == first.Token {
			t.Fatal("resend issued the same token")
		}
		_, err = db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), first.Token, goodPassword, goodPassword)
		if e := domainError(t, err, models.KindNotFound); !strings.Contains(e.Message, "newer one") {
			t.Fatalf("old link: %v", e)
		}
		if _, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), second.Token, goodPassword, goodPassword); err != nil {
			t.Fatalf("new link: %v", err)
		}
		if n := len(entriesWithAction(t, db, "team.invite_resend")); n != 1 {
			t.Fatalf("%d team.invite_resend entries", n)
		}
		_, err = db.ResendInvitation(ctx, memberOrigin(admin), first.Member.ID)
		domainError(t, err, models.KindConflict)
	})
}

func TestRevokeInvitation_LinkStopsAndMemberCanBeInvitedAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "revoked@example.com", models.RoleAuditor)
		if err := db.RevokeInvitation(ctx, memberOrigin(admin), inv.Member.ID); err != nil {
			t.Fatal(err)
		}
		m := reloadMember(t, db, inv.Member.ID)
		if m.Status != models.MemberDeactivated || !m.CanResendInvitation() || m.CanReactivate() {
			t.Fatalf("after revoking: %+v", m)
		}
		_, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, goodPassword, goodPassword)
		domainError(t, err, models.KindNotFound)
		if n := len(entriesWithAction(t, db, "team.invite_revoke")); n != 1 {
			t.Fatalf("%d team.invite_revoke entries", n)
		}
		domainError(t, db.RevokeInvitation(ctx, memberOrigin(admin), inv.Member.ID), models.KindConflict)
		domainError(t, db.ReactivateMember(ctx, memberOrigin(admin), inv.Member.ID), models.KindConflict)
		again, err := db.ResendInvitation(ctx, memberOrigin(admin), inv.Member.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m := reloadMember(t, db, inv.Member.ID); m.Status != models.MemberInvited {
			t.Fatalf("invited again: status %s", m.Status)
		}
		if _, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), again.Token, goodPassword, goodPassword); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLastAdmin_CanBeNeitherDemotedNorDeactivated(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		other := withRole(t, db, "other@example.com", models.RoleCompliance)
		// A deactivated admin does not count.
		gone := activeMember(t, db, "gone@example.com")
		setMemberStatus(t, db, gone.ID, models.MemberDeactivated)
		before := snapshot(t, db)
		_, err := db.ChangeMemberRole(ctx, memberOrigin(other), admin.ID, models.RoleAuditor)
		if e := domainError(t, err, models.KindConflict); !strings.Contains(e.Message, "last active admin") || !strings.Contains(e.Message, "Nothing was changed") {
			t.Fatalf("demote the last admin: %v", e)
		}
		_, err = db.DeactivateMember(ctx, memberOrigin(other), admin.ID)
		domainError(t, err, models.KindConflict)
		assertUnchanged(t, db, before, "refused changes to the last admin")
		if m := reloadMember(t, db, admin.ID); m.Role != models.RoleAdmin || m.Status != models.MemberActive {
			t.Fatalf("the last admin became %+v", m)
		}

		// With a second admin, either may be demoted, but not both.
		if _, err := db.ChangeMemberRole(ctx, memberOrigin(admin), other.ID, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ChangeMemberRole(ctx, memberOrigin(other), admin.ID, models.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		_, err = db.ChangeMemberRole(ctx, memberOrigin(other), other.ID, models.RoleCompliance)
		domainError(t, err, models.KindConflict)
		es := entriesWithAction(t, db, "team.role_change")
		if len(es) != 2 || !strings.Contains(es[1].Diff, `"role":"auditor"`) {
			t.Fatalf("team.role_change entries %+v", es)
		}
	})
}

func TestLastAdmin_ConcurrentDemotionsLeaveOneAdmin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if db.Dialect == models.Postgres {
			warmPool(t, db, 4)
		}
		for round := 0; round < 5; round++ {
			a := activeMember(t, db, "a"+models.RandomHex(3)+"@example.com")
			b := activeMember(t, db, "b"+models.RandomHex(3)+"@example.com")
			// Only a and b are active admins this round.
			if err := db.Gorm().Exec(`UPDATE team_members SET status = 'deactivated' WHERE id NOT IN (?, ?)`, a.ID, b.ID).Error; err != nil {
				t.Fatal(err)
			}
			pair := []*models.TeamMember{a, b}
			errs := race(2, func(i int) error {
				me, them := pair[i], pair[1-i]
				if round%2 == 0 {
					_, err := db.ChangeMemberRole(ctx, memberOrigin(me), them.ID, models.RoleCompliance)
					return err
				}
				_, err := db.DeactivateMember(ctx, memberOrigin(me), them.ID)
				return err
			})
			failed := 0
			for _, err := range errs {
				if err != nil {
					domainError(t, err, models.KindConflict)
					failed++
				}
			}
			var admins int64
			if err := db.Gorm().Model(&models.TeamMember{}).Where("role = 'admin' AND status = 'active'").Count(&admins).Error; err != nil {
				t.Fatal(err)
			}
			if admins != 1 || failed != 1 {
				t.Fatalf("round %d: %d active admins and %d refusals, want 1 and 1 (errors %v)", round, admins, failed, errs)
			}
		}
	})
}

func TestDeactivateMember_EndsEverySessionAtOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		leaver := withRole(t, db, "leaver@example.com", models.RoleCompliance)
		var sessions []models.Session
		for i := 0; i < 3; i++ {
			_, s, err := signIn(db, "198.51.100.4", leaver.EmailAddress, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, s)
		}
		_, keep, err := signIn(db, "198.51.100.4", admin.EmailAddress, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		limits := models.SessionLimits{Idle: time.Hour, Absolute: 12 * time.Hour}
		ended, err := db.DeactivateMember(ctx, memberOrigin(admin), leaver.ID)
		if err != nil || ended != 3 {
			t.Fatalf("deactivate: ended %d, %v", ended, err)
		}
		for _, s := range sessions {
			if _, err := db.LoadSession(ctx, s.IDHash, limits); models.ErrorKind(err) != models.KindNotFound {
				t.Fatalf("a session of the deactivated member still loads: %v", err)
			}
		}
		if _, err := db.LoadSession(ctx, keep.IDHash, limits); err != nil {
			t.Fatalf("the admin's session was ended too: %v", err)
		}
		es := entriesWithAction(t, db, "team.deactivate")
		if len(es) != 1 || !strings.Contains(es[0].Diff, `"sessions_ended":3`) {
			t.Fatalf("team.deactivate entries %+v", es)
		}
		_, _, err = signIn(db, "198.51.100.4", leaver.EmailAddress, testPassword)
		wantBadCredentials(t, err, "sign in while deactivated")

		// Self-deactivation is refused; so is deactivating twice.
		_, err = db.DeactivateMember(ctx, memberOrigin(admin), admin.ID)
		domainError(t, err, models.KindForbidden)
		_, err = db.DeactivateMember(ctx, memberOrigin(admin), leaver.ID)
		domainError(t, err, models.KindConflict)

		if err := db.ReactivateMember(ctx, memberOrigin(admin), leaver.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(entriesWithAction(t, db, "team.reactivate")); n != 1 {
			t.Fatalf("%d team.reactivate entries", n)
		}
		if _, _, err := signIn(db, "198.51.100.4", leaver.EmailAddress, testPassword); err != nil {
			t.Fatalf("sign in after reactivation: %v", err)
		}
	})
}

func TestListMembers_KeysetPagesFiltersAndSearch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		base := models.Now().Add(-time.Hour)
		roles := []models.Role{models.RoleAdmin, models.RoleCompliance, models.RoleAuditor}
		const n = 27
		for i := 0; i < n; i++ {
			m := withRole(t, db, fmt.Sprintf("person%02d@example.com", i), roles[i%3])
			// Pairs share a creation time: the id breaks the tie.
			at := base.Add(time.Duration(i/2) * time.Minute)
			if err := db.Gorm().Exec(`UPDATE team_members SET created_at = ? WHERE id = ?`, at, m.ID).Error; err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				setMemberStatus(t, db, m.ID, models.MemberDeactivated)
			}
		}

		var seen []models.TeamMember
		var sizes []int
		var last *models.MemberPage
		cursor := ""
		for {
			if len(sizes) > 5 {
				t.Fatal("the cursor never ends")
			}
			p, err := db.ListMembers(ctx, models.MemberPageRequest{Limit: 25, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if (cursor == "") != (p.Prev == "") {
				t.Fatalf("page %d: Prev %q", len(sizes), p.Prev)
			}
			seen = append(seen, p.Members...)
			sizes = append(sizes, len(p.Members))
			last = p
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if fmt.Sprint(sizes) != "[25 2]" {
			t.Fatalf("page sizes %v, want [25 2] and an empty next_cursor at the end", sizes)
		}
		// Back from the last page: the first page again, which leads on
		// to the last and back to nothing newer.
		back, err := db.ListMembers(ctx, models.MemberPageRequest{Limit: 25, Cursor: last.Prev})
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Members) != 25 || back.Members[0].ID != seen[0].ID || back.Members[24].ID != seen[24].ID ||
			back.Prev != "" || back.Next == "" {
			t.Fatalf("back from the last page: %d members from %v, cursors %+v", len(back.Members), back.Members[0].ID, back.PageCursors)
		}
		if again, err := db.ListMembers(ctx, models.MemberPageRequest{Limit: 25, Cursor: back.Next}); err != nil ||
			len(again.Members) != 2 || again.Members[1].ID != seen[26].ID {
			t.Fatalf("on again from the first page: %v %+v", err, again)
		}
		ids := map[string]bool{}
		for i, m := range seen {
			ids[m.ID] = true
			if i > 0 {
				a := seen[i-1]
				if a.CreatedAt.Before(m.CreatedAt) || a.CreatedAt.Equal(m.CreatedAt) && a.ID < m.ID {
					t.Fatalf("not newest first at %d", i)
				}
			}
		}
		if len(ids) != n {
			t.Fatalf("paged through %d distinct members, want %d", len(ids), n)
		}

		p, err := db.ListMembers(ctx, models.MemberPageRequest{Filter: models.MemberFilter{Role: "admin", Status: "active"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Members {
			if m.Role != models.RoleAdmin || m.Status != models.MemberActive {
				t.Fatalf("filter let through %+v", m)
			}
		}
		if len(p.Members) != 8 || p.Next != "" {
			t.Fatalf("%d active admins, cursor %q; want 8 and none", len(p.Members), p.Next)
		}
		p, err = db.ListMembers(ctx, models.MemberPageRequest{Filter: models.MemberFilter{Search: "Person13"}})
		if err != nil || len(p.Members) != 1 || p.Members[0].EmailAddress != "person13@example.com" {
			t.Fatalf("search: %v %+v", err, p)
		}
		p, err = db.ListMembers(ctx, models.MemberPageRequest{Filter: models.MemberFilter{Search: "%"}})
		if err != nil || len(p.Members) != 0 {
			t.Fatalf("a %% search matched %d members", len(p.Members))
		}
		_, err = db.ListMembers(ctx, models.MemberPageRequest{Cursor: "not-a-cursor"})
		domainError(t, err, models.KindInvalid)
	})
}

func TestMemberActivity_ListsEntriesByAndAboutTheMember(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		admin := activeMember(t, db, "admin@example.com")
		other := activeMember(t, db, "other@example.com")
		inv := invite(t, db, admin, "x@example.com", models.RoleAuditor)
		if _, err := db.ChangeMemberRole(ctx, memberOrigin(other), admin.ID, models.RoleCompliance); err != nil {
			t.Fatal(err)
		}
		es, err := db.MemberActivity(ctx, admin.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es {
			actions = append(actions, e.Action+":"+e.ActorID[:4]+">"+e.TargetID[:4])
		}
		want := []string{"team.role_change:" + other.ID[:4] + ">" + admin.ID[:4], "team.invite:" + admin.ID[:4] + ">" + inv.Member.ID[:4]}
		if strings.Join(actions, " ") != strings.Join(want, " ") {
			t.Fatalf("activity %v, want %v", actions, want)
		}
	})
}

func TestAcceptInvitation_TwoAtOnceOnlyOneWins(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if db.Dialect == models.Postgres {
			warmPool(t, db, 4)
		}
		admin := activeMember(t, db, "admin@example.com")
		inv := invite(t, db, admin, "twice@example.com", models.RoleAuditor)
		passwords := []string{goodPassword, "another quite long passphrase"}
		errs := race(2, func(i int) error {
			_, err := db.AcceptInvitation(ctx, anonymousFrom("198.51.100.4"), inv.Token, passwords[i], passwords[i])
			return err
		})
		won := -1
		for i, err := range errs {
			if err == nil {
				won = i
			} else {
				domainError(t, err, models.KindNotFound)
			}
		}
		if won < 0 || errs[1-won] == nil {
			t.Fatalf("errors %v, want exactly one acceptance", errs)
		}
		if !testdb.PasswordMatches(t, storedHash(t, db, inv.Member.ID), passwords[won]) {
			t.Fatal("the stored password is not the winner's")
		}
		if n := len(entriesWithAction(t, db, "team.accept")); n != 1 {
			t.Fatalf("%d team.accept entries", n)
		}
	})
}
