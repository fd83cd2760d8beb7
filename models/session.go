package models

import (
	"context"
	"fmt"
	"time"
)

// Session is a signed-in browser. The cookie carries a random id; the row is
// keyed by its hash, so the table alone cannot be replayed as cookies.
type Session struct {
	IDHash     string `gorm:"primaryKey"`
	MemberID   string
	IP         string
	UserAgent  string
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // the absolute limit; the idle limit is LastSeenAt + idle
	// MFAStage is how far sign-in got: only SignedIn reaches the portal.
	MFAStage SignInStage `gorm:"column:mfa_stage"`
}

func (Session) TableName() string { return "sessions" }

// SessionLimits are the idle and absolute lifetimes of a session.
type SessionLimits struct {
	Idle     time.Duration
	Absolute time.Duration
}

// ActiveAt reports whether the session is still valid at t.
func (s *Session) ActiveAt(t time.Time, l SessionLimits) bool {
	return t.Before(s.ExpiresAt) && t.Before(s.LastSeenAt.Add(l.Idle))
}

// SessionWithMember is a session row and its (active) member, read
// together with what every page of theirs needs from the database.
type SessionWithMember struct {
	Session Session
	Member  TeamMember
	// FieldPolicy is the field policy as stored when the session was read:
	// a change holds from the next request on, in every process.
	FieldPolicy FieldPolicy
	// WaitingApprovals is, for an admin, how many approval requests wait
	// for their decision (asked by someone else, not expired), as the
	// navigation shows; 0 for the other roles.
	WaitingApprovals int64
}

// sessionByIDHash reads a session, its member, the stored field policy
// (empty when none is stored) and an admin's waiting approvals in one round
// trip: each was a statement of its own on every page.
var sessionByIDHash = newStatement("SELECT " + sessionColumns.String() +
	", COALESCE((SELECT value FROM settings WHERE name = '" + settingFieldPolicy + "'), '')" +
	", CASE WHEN m.role = '" + string(RoleAdmin) + "' THEN (SELECT COUNT(*) FROM approval_requests" +
	" WHERE " + decidableBy + "m.id) ELSE 0 END" +
	" FROM sessions s JOIN team_members m ON m.id = s.member_id WHERE s.id_hash = ?")

// sessionRead is a row of sessionByIDHash.
type sessionRead struct {
	SessionWithMember
	policy string
}

var sessionReads = fastRows[sessionRead]{sessionColumns, func(r *sessionRead) []any {
	return append(sessionWithMemberFields(&r.SessionWithMember), &r.policy, &r.WaitingApprovals)
}}

// LoadSession returns the session with the given id hash and its member, or
// a not-found error when there is none, it expired, or the member is no
// longer active.
func (db *DB) LoadSession(ctx context.Context, idHash string, l SessionLimits) (*SessionWithMember, error) {
	// The member's password hash is not read; nothing downstream needs it.
	read, err := sessionReads.one(ctx, db, sessionByIDHash, db.now(), idHash)
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if read == nil {
		return nil, notFound("session not found")
	}
	out := &read.SessionWithMember
	s, m := &out.Session, &out.Member
	if !s.ActiveAt(Now(), l) {
		return nil, notFound("session expired")
	}
	if m.Status != MemberActive {
		return nil, notFound("member not active")
	}
	if out.FieldPolicy, err = db.decodedFieldPolicy(read.policy); err != nil {
		return nil, err
	}
	return out, nil
}

// touchEvery is how stale last_seen_at may get before a request writes it;
// it bounds the idle timeout's precision and spares a write per request.
const touchEvery = time.Minute

// MinIdleTimeout is the shortest idle timeout that never ends a session in
// use: last_seen_at may lag a request by up to touchEvery.
const MinIdleTimeout = 2 * touchEvery

// TouchSession records activity, at most once per touchEvery.
func (db *DB) TouchSession(ctx context.Context, s *Session) error {
	now := Now()
	if now.Sub(s.LastSeenAt) < touchEvery {
		return nil
	}
	s.LastSeenAt = now
	return db.gorm.WithContext(ctx).Model(&Session{}).Where("id_hash = ?", s.IDHash).
		Update("last_seen_at", now).Error
}

// SaveSessionData stores the session's values (flash messages and the like).
func (db *DB) SaveSessionData(ctx context.Context, idHash, data string) error {
	return db.gorm.WithContext(ctx).Model(&Session{}).Where("id_hash = ?", idHash).
		Update("data", data).Error
}

// PurgeExpired deletes sessions and sign-in failures that can
// no longer matter. It is housekeeping, not a change anyone made, so it is
// not audited.
func (db *DB) PurgeExpired(ctx context.Context, l SessionLimits) (int64, error) {
	now := Now()
	g := db.gorm.WithContext(ctx)
	r := g.Where("expires_at < ? OR last_seen_at < ?", now, now.Add(-l.Idle)).Delete(&Session{})
	if r.Error != nil {
		return 0, fmt.Errorf("purge sessions: %w", r.Error)
	}
	if err := g.Where("failed_at < ?", now.Add(-ThrottleWindow)).Delete(&LoginFailure{}).Error; err != nil {
		return r.RowsAffected, fmt.Errorf("purge login failures: %w", err)
	}
	return r.RowsAffected, nil
}

// SessionsOfMember lists a member's sessions, newest first.
func (db *DB) SessionsOfMember(ctx context.Context, memberID string) ([]Session, error) {
	var out []Session
	err := db.gorm.WithContext(ctx).Where("member_id = ?", memberID).Order("created_at DESC").Find(&out).Error
	return out, err
}
