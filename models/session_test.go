package models_test

import (
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var limits = models.SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

func storedSession(t *testing.T, db *models.DB, idHash string) models.Session {
	t.Helper()
	var s models.Session
	if err := db.Gorm().Where("id_hash = ?", idHash).Take(&s).Error; err != nil {
		t.Fatalf("read session: %v", err)
	}
	return s
}

func TestLoadSession_ReturnsLiveSessionWithItsMember(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		s := insertSession(t, db, m.ID, now.Add(-10*time.Minute), now.Add(time.Hour))
		got, err := db.LoadSession(ctx, s.IDHash, limits)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if got.Member.ID != m.ID || got.Session.IDHash != s.IDHash || !got.Session.LastSeenAt.Equal(s.LastSeenAt) {
			t.Errorf("loaded %+v", got)
		}
	})
}

func TestLoadSession_ReadsTheFieldPolicyAsStoredNow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		s := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		load := func() models.FieldPolicy {
			t.Helper()
			got, err := db.LoadSession(ctx, s.IDHash, limits)
			if err != nil {
				t.Fatal(err)
			}
			return got.FieldPolicy
		}
		if !load().Equal(models.DefaultFieldPolicy()) {
			t.Fatal("nothing stored: want the default policy")
		}
		next := models.DefaultFieldPolicy().With(models.RoleAuditor, models.PolicyNames, models.FieldVisible)
		if _, err := db.UpdateFieldPolicy(ctx, adminOrigin, next); err != nil {
			t.Fatal(err)
		}
		if !load().Equal(next) {
			t.Error("the session's next load kept the policy it had decoded before the change")
		}
		back := next.With(models.RoleAuditor, models.PolicyNames, models.FieldHidden)
		if _, err := db.UpdateFieldPolicy(ctx, adminOrigin, back); err != nil {
			t.Fatal(err)
		}
		if got := load(); !got.Equal(back) || got.State(models.RoleAuditor, models.PolicyNames) != models.FieldHidden {
			t.Error("a second change did not hold on the next load")
		}
	})
}

func TestLoadSession_RefusesUnknownExpiredIdleAndInactive(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		leaver := insertMember(t, db, "b@example.com", models.MemberActive, "")
		now := models.Now()
		cases := map[string]string{
			"unknown":          models.HashToken("no such session"),
			"absolute expired": insertSession(t, db, m.ID, now, now.Add(-time.Second)).IDHash,
			"idle":             insertSession(t, db, m.ID, now.Add(-limits.Idle-time.Second), now.Add(time.Hour)).IDHash,
			"member inactive":  insertSession(t, db, leaver.ID, now, now.Add(time.Hour)).IDHash,
		}
		// A live session of the same member still loads: the refusals
		// below are about each session, not the member.
		live := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		setMemberStatus(t, db, leaver.ID, models.MemberDeactivated)
		for name, idHash := range cases {
			got, err := db.LoadSession(ctx, idHash, limits)
			if models.ErrorKind(err) != models.KindNotFound || got != nil {
				t.Errorf("%s: got %v, %v; want not found", name, got, err)
			}
		}
		if _, err := db.LoadSession(ctx, live.IDHash, limits); err != nil {
			t.Errorf("live session: %v", err)
		}
	})
}

func TestTouchSession_WritesAtMostOncePerMinute(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		recent := insertSession(t, db, m.ID, now.Add(-30*time.Second), now.Add(time.Hour))
		stale := insertSession(t, db, m.ID, now.Add(-2*time.Minute), now.Add(time.Hour))

		s := recent
		if err := db.TouchSession(ctx, &s); err != nil {
			t.Fatal(err)
		}
		if got := storedSession(t, db, recent.IDHash).LastSeenAt; !got.Equal(recent.LastSeenAt) {
			t.Errorf("touched 30 s after the last write: last_seen_at %v → %v", recent.LastSeenAt, got)
		}

		s = stale
		before := models.Now()
		if err := db.TouchSession(ctx, &s); err != nil {
			t.Fatal(err)
		}
		got := storedSession(t, db, stale.IDHash).LastSeenAt
		if got.Before(before) || got.After(models.Now()) {
			t.Errorf("a stale session's last_seen_at became %v, want about now (%v)", got, before)
		}
		if !s.LastSeenAt.Equal(got) {
			t.Errorf("caller's copy says %v, row says %v", s.LastSeenAt, got)
		}
		// Touched just now: the next touch writes nothing.
		s2 := storedSession(t, db, stale.IDHash)
		exec(t, db, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, got.Add(-time.Hour), stale.IDHash)
		if err := db.TouchSession(ctx, &s2); err != nil {
			t.Fatal(err)
		}
		if v := storedSession(t, db, stale.IDHash).LastSeenAt; !v.Equal(got.Add(-time.Hour)) {
			t.Errorf("second touch within a minute wrote %v", v)
		}
	})
}

func TestSaveSessionData_StoresValues(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		s := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		if err := db.SaveSessionData(ctx, s.IDHash, `{"flash":"Saved."}`); err != nil {
			t.Fatal(err)
		}
		if d := storedSession(t, db, s.IDHash).Data; d != `{"flash":"Saved."}` {
			t.Errorf("data = %s", d)
		}
	})
}

func TestPurgeExpired_DeletesOnlyWhatCanNoLongerMatter(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		now := models.Now()
		live := insertSession(t, db, m.ID, now.Add(-time.Minute), now.Add(time.Hour))
		expired := insertSession(t, db, m.ID, now, now.Add(-time.Minute))
		idle := insertSession(t, db, m.ID, now.Add(-limits.Idle-time.Minute), now.Add(time.Hour))

		for _, f := range []models.LoginFailure{
			{AccountKey: models.HashToken("recent"), IP: "192.0.2.1", FailedAt: now.Add(-time.Minute)},
			{AccountKey: models.HashToken("old"), IP: "192.0.2.1", FailedAt: now.Add(-models.ThrottleWindow - time.Minute)},
		} {
			if err := db.Gorm().Create(&f).Error; err != nil {
				t.Fatal(err)
			}
		}

		n, err := db.PurgeExpired(ctx, limits)
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		if n != 2 {
			t.Errorf("purged %d sessions, want 2", n)
		}
		if !sessionExists(t, db, live.IDHash) || sessionExists(t, db, expired.IDHash) || sessionExists(t, db, idle.IDHash) {
			t.Error("wrong sessions purged")
		}
		var keys []string
		if err := db.Gorm().Raw(`SELECT account_key FROM login_failures`).Scan(&keys).Error; err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0] != models.HashToken("recent") {
			t.Errorf("login failures left: %v, want only the recent one", keys)
		}
	})
}

func TestSessionsOfMember_NewestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := insertMember(t, db, "a@example.com", models.MemberActive, "")
		other := insertMember(t, db, "b@example.com", models.MemberActive, "")
		now := models.Now()
		older := insertSession(t, db, m.ID, now.Add(-time.Hour), now.Add(time.Hour))
		newer := insertSession(t, db, m.ID, now, now.Add(time.Hour))
		insertSession(t, db, other.ID, now, now.Add(time.Hour))
		got, err := db.SessionsOfMember(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].IDHash != newer.IDHash || got[1].IDHash != older.IDHash {
			t.Errorf("sessions = %+v", got)
		}
	})
}

func TestSignIn_SessionTimesAreComparableWhateverTheirZone(t *testing.T) {
	// A session prepared with local times must expire on time: SQLite
	// compares stored times as text.
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "a@example.com")
		east := time.FixedZone("UTC+10", 10*3600)
		s := newSessionRow()
		past := models.Now().Add(-time.Minute).In(east)
		s.CreatedAt, s.LastSeenAt, s.ExpiresAt = past, past, past
		if _, err := db.SignIn(ctx, anonymousFrom("192.0.2.1"), "a@example.com", testPassword, s); err != nil {
			t.Fatal(err)
		}
		n, err := db.PurgeExpired(ctx, limits)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || sessionExists(t, db, s.IDHash) {
			t.Errorf("a session that expired a minute ago survived the purge (purged %d)", n)
		}
	})
}
