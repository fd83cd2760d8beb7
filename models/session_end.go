package models

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// isHandle reports whether s has the form of a Handle: 20 hex digits.
func isHandle(s string) bool {
	if len(s) != 20 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Handle names a session in pages and forms. It is derived from the id
// hash, not the hash itself, so a page never shows the key a session row
// is found by.
func (s *Session) Handle() string { return HashToken("session-handle:" + s.IDHash)[:20] }

// Device describes the browser and system a session signed in from, read
// from its user agent. The common browsers are told apart by their
// product tokens, checked in an order where the later tokens are the ones
// others imitate (Edge and Opera also say Chrome, Chrome also says Safari).
func (s *Session) Device() string { return DeviceOf(s.UserAgent) }

// DeviceOf names the browser and system in a user agent, e.g.
// "Firefox on Linux"; "Unknown device" when it says nothing useful.
func DeviceOf(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	return "Unknown device"
}

// SessionEnd says whose session to end, and which.
type SessionEnd struct {
	MemberID string // the session's owner
	Handle   string // Session.Handle
	// Current is the id hash of the session making the request: it is
	// never ended here (signing out does that).
	Current string
}

// ErrCurrentSession refuses to end the session in use from the sessions
// list; signing out ends it.
var ErrCurrentSession = &Error{Kind: KindConflict, Message: "That is the session you are using now. Sign out to end it."}

// EndSession ends one session of a member, audited as session.end. It
// returns false, and changes nothing, when the session had already ended.
// A handle that breaks the text rule names no session that ever was: not
// found.
func (db *DB) EndSession(ctx context.Context, o Origin, e SessionEnd) (bool, error) {
	if !isHandle(e.Handle) {
		return false, notFound("No such session.")
	}
	sessions, err := db.SessionsOfMember(ctx, e.MemberID)
	if err != nil {
		return false, err
	}
	var target *Session
	for i := range sessions {
		if sessions[i].Handle() == e.Handle {
			target = &sessions[i]
		}
	}
	if target == nil {
		return false, nil
	}
	if target.IDHash == e.Current {
		return false, ErrCurrentSession
	}
	ended := false
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		r := tx.Where("id_hash = ? AND member_id = ?", target.IDHash, e.MemberID).Delete(&Session{})
		if r.Error != nil {
			return Change{}, fmt.Errorf("end session: %w", r.Error)
		}
		ended = r.RowsAffected == 1
		return Change{Action: "session.end", Target: Target{Type: "team_member", ID: e.MemberID},
			After: map[string]any{"session": e.Handle, "device": target.Device(), "sessions_ended": r.RowsAffected}}, nil
	})
	return ended, err
}

// EndOtherSessions ends every session of a member but the current one,
// audited as session.end_others.
func (db *DB) EndOtherSessions(ctx context.Context, o Origin, memberID, currentIDHash string) (int64, error) {
	var ended int64
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		r := tx.Where("member_id = ? AND id_hash <> ?", memberID, currentIDHash).Delete(&Session{})
		if r.Error != nil {
			return Change{}, fmt.Errorf("end other sessions: %w", r.Error)
		}
		ended = r.RowsAffected
		return Change{Action: "session.end_others", Target: Target{Type: "team_member", ID: memberID},
			After: map[string]any{"sessions_ended": ended}}, nil
	})
	return ended, err
}
