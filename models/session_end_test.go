package models_test

import (
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestEndSession_OwnOthersAndTheCurrentOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		me := activeMember(t, db, "me@example.com")
		var mine []models.Session
		for i := 0; i < 3; i++ {
			_, s, err := signIn(db, "198.51.100.4", me.EmailAddress, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, s)
		}
		current := mine[0]
		o := memberOrigin(me)

		_, err := db.EndSession(ctx, o, models.SessionEnd{MemberID: me.ID, Handle: current.Handle(), Current: current.IDHash})
		domainError(t, err, models.KindConflict)
		ended, err := db.EndSession(ctx, o, models.SessionEnd{MemberID: me.ID, Handle: mine[1].Handle(), Current: current.IDHash})
		if err != nil || !ended || sessionExists(t, db, mine[1].IDHash) {
			t.Fatalf("end one: ended=%v err=%v", ended, err)
		}
		// Ending it again changes nothing and writes nothing.
		before := countRows(t, db, "audit_entries")
		if ended, err := db.EndSession(ctx, o, models.SessionEnd{MemberID: me.ID, Handle: mine[1].Handle(), Current: current.IDHash}); err != nil || ended {
			t.Fatalf("end twice: ended=%v err=%v", ended, err)
		}
		if countRows(t, db, "audit_entries") != before {
			t.Fatal("ending an ended session was audited")
		}
		es := entriesWithAction(t, db, "session.end")
		if len(es) != 1 || es[0].TargetID != me.ID || !strings.Contains(es[0].Diff, mine[1].Handle()) || strings.Contains(es[0].Diff, mine[1].IDHash) {
			t.Fatalf("session.end entries %+v", es)
		}

		// Another member's handle does not reach my sessions.
		other := activeMember(t, db, "other@example.com")
		if ended, _ := db.EndSession(ctx, memberOrigin(other), models.SessionEnd{MemberID: other.ID, Handle: mine[2].Handle()}); ended {
			t.Fatal("a handle ended a session of another member")
		}

		n, err := db.EndOtherSessions(ctx, o, me.ID, current.IDHash)
		if err != nil || n != 1 || !sessionExists(t, db, current.IDHash) || sessionExists(t, db, mine[2].IDHash) {
			t.Fatalf("end others: %d, %v", n, err)
		}
		if es := entriesWithAction(t, db, "session.end_others"); len(es) != 1 || !strings.Contains(es[0].Diff, `"sessions_ended":1`) {
			t.Fatalf("session.end_others entries %+v", es)
		}
	})
}

func TestDeviceOf_NamesBrowserAndSystem(t *testing.T) {
	cases := map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0":               "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                            "Chrome on Android",
		"curl/8.5.0": "curl",
		"":           "Unknown device",
	}
	for ua, want := range cases {
		if got := models.DeviceOf(ua); got != want {
			t.Errorf("DeviceOf(%q) = %q, want %q", ua, got, want)
		}
	}
}
