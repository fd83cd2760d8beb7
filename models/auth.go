package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// Sign-in throttling: past either limit within the window, attempts are
// refused until the oldest counted failure leaves the window.
const (
	ThrottleWindow     = 15 * time.Minute
	MaxAccountFailures = 5
	MaxIPFailures      = 20
)

// LoginFailure is one failed sign-in, kept for throttling. The account is
// stored as a hash of the typed email: what someone typed is not ours to
// keep, and may well be a password typed in the wrong field.
type LoginFailure struct {
	ID         int64 `gorm:"primaryKey"`
	AccountKey string
	IP         string
	FailedAt   time.Time
}

func (LoginFailure) TableName() string { return "login_failures" }

// ErrBadCredentials is the one answer for an unknown email, a wrong
// password and an inactive member alike.
var ErrBadCredentials = &Error{Kind: KindUnauthorized, Message: "Email or password is incorrect."}

func accountKey(email string) string {
	return HashToken("login:" + strings.ToLower(strings.TrimSpace(email)))
}

// SignIn checks a member's credentials and, when they are right, creates
// the session described by newSession, audited as auth.login. A member
// with two-step sign-in gets a session waiting for the code instead
// (auth.mfa_challenge; CompleteSignIn finishes it), and an admin who must
// set it up first one that reaches only the setup (auth.mfa_enrol_required).
// Failures are audited as auth.login_failed and counted for throttling.
func (db *DB) SignIn(ctx context.Context, o Origin, email, password string, newSession Session) (*TeamMember, error) {
	// Each way out says how the attempt ended; any other is an error.
	outcome := SignInFailed
	defer func() { db.observe().SignIn(SignInPassword, outcome) }()
	if !text.Line(MaxEmailLength).Valid(strings.TrimSpace(email)) {
		// No account has such an address, and the caller knows it: refused
		// before anything is counted, looked up or hashed.
		outcome = SignInUnknownAccount
		return nil, ErrBadCredentials
	}
	key := accountKey(email)
	// The attempt counts as a failure before its password is checked, so
	// that guesses sent in parallel cannot all pass the throttle before the
	// first of them is recorded. A success deletes it with the account's
	// other failures; a refused attempt withdraws it.
	attempt := LoginFailure{AccountKey: key, IP: o.IP, FailedAt: Now()}
	if err := db.gorm.WithContext(ctx).Create(&attempt).Error; err != nil {
		return nil, fmt.Errorf("sign in: record attempt: %w", err)
	}
	limits, err := db.throttled(ctx, key, o.IP)
	if err != nil {
		return nil, err
	}
	if limits.wait > 0 {
		if err := db.gorm.WithContext(ctx).Delete(&attempt).Error; err != nil {
			return nil, fmt.Errorf("sign in: withdraw refused attempt: %w", err)
		}
		if err := takeTimeOfPasswordCheck(ctx, limits.accountFailures); err != nil && err != ErrPasswordCheckBusy {
			return nil, err
		}
		minutes := int(math.Ceil(limits.wait.Minutes()))
		if err := db.recordFailedLogin(ctx, o, nil, "throttled"); err != nil {
			return nil, err
		}
		outcome = SignInThrottled
		return nil, &Error{Kind: KindThrottled, Message: fmt.Sprintf(
			"Too many failed sign-in attempts. Try again in %d minute%s.", minutes, plural(minutes))}
	}

	var m TeamMember
	err = db.gorm.WithContext(ctx).Where("email_address = ?", strings.ToLower(strings.TrimSpace(email))).Take(&m).Error
	found := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	ok := false
	if found && m.PasswordHash != "" {
		ok, err = verifyPassword(ctx, m.PasswordHash, password, limits.accountFailures)
	} else {
		// No such member, or one who has no password yet: take the time a
		// check takes, so the answer's timing does not tell them apart.
		err = takeTimeOfPasswordCheck(ctx, limits.accountFailures)
	}
	if err != nil {
		// Not checked (the server is at capacity, or the request ended):
		// the attempt does not count against the account.
		if derr := db.gorm.WithContext(context.WithoutCancel(ctx)).Delete(&attempt).Error; derr != nil {
			return nil, fmt.Errorf("sign in: withdraw unchecked attempt: %w", derr)
		}
		if err == ErrPasswordCheckBusy {
			outcome = SignInBusy
		}
		return nil, err
	}
	if !ok || m.Status != MemberActive {
		reason, refused := "unknown_account", SignInUnknownAccount
		switch {
		case found && !ok:
			reason, refused = "wrong_password", SignInWrongPassword
		case found:
			reason, refused = "member_"+string(m.Status), SignInInactive
		}
		var target *TeamMember
		if found {
			target = &m
		}
		if err := db.recordFailedLogin(ctx, o, target, reason); err != nil {
			return nil, err
		}
		outcome = refused
		return nil, ErrBadCredentials
	}

	allowed, breakGlass, err := db.ssoPasswordRule(ctx, &m)
	if err != nil {
		return nil, err
	}
	if !allowed {
		if err := db.recordFailedLogin(ctx, o, &m, "sso_required"); err != nil {
			return nil, err
		}
		outcome = SignInSSORequired
		return nil, ErrSSORequired
	}

	o.Actor = m.AsActor()
	stage, err := db.signInStage(ctx, &m)
	if err != nil {
		return nil, err
	}
	newSession.MemberID = m.ID
	newSession.MFAStage = stage
	if limit := newSession.CreatedAt.Add(PendingSignInLifetime); stage != SignedIn && limit.Before(newSession.ExpiresAt) {
		newSession.ExpiresAt = limit
	}
	// Stored in UTC, as SQLite compares times as text (PurgeExpired).
	newSession.CreatedAt = newSession.CreatedAt.UTC()
	newSession.LastSeenAt = newSession.LastSeenAt.UTC()
	newSession.ExpiresAt = newSession.ExpiresAt.UTC()
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := tx.Create(&newSession).Error; err != nil {
			return Change{}, fmt.Errorf("create session: %w", err)
		}
		if err := tx.Where("account_key = ?", key).Delete(&LoginFailure{}).Error; err != nil {
			return Change{}, err
		}
		if breakGlass {
			if _, err := appendAudit(tx, o, Change{Action: "auth.break_glass", Target: m.AuditTarget(),
				After: map[string]any{"method": "password", "sso_required": true}}); err != nil {
				return Change{}, err
			}
		}
		switch stage {
		case AwaitingSecondFactor:
			return Change{Action: "auth.mfa_challenge", Target: m.AuditTarget()}, nil
		case AwaitingEnrolment:
			return Change{Action: "auth.mfa_enrol_required", Target: m.AuditTarget()}, nil
		}
		return Change{Action: "auth.login", Target: m.AuditTarget(), After: map[string]any{"factor": "password"}}, nil
	})
	if err != nil {
		return nil, err
	}
	outcome = passwordAccepted(stage)
	return &m, nil
}

// passwordAccepted is the outcome of a right password that led to stage.
func passwordAccepted(stage SignInStage) SignInOutcome {
	switch stage {
	case AwaitingSecondFactor:
		return SignInCodeRequired
	case AwaitingEnrolment:
		return SignInEnrolRequired
	}
	return SignInSucceeded
}

// recordFailedLogin audits a refused sign-in; SignIn has already counted
// it for throttling.
func (db *DB) recordFailedLogin(ctx context.Context, o Origin, m *TeamMember, reason string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		c := Change{Action: "auth.login_failed", After: map[string]any{"reason": reason}}
		if m != nil {
			c.Target = m.AuditTarget()
		}
		return c, nil
	})
}

// throttle is what the recent failures say of an attempt: how long it
// stays refused, and how often its account failed before it.
type throttle struct {
	wait time.Duration
	// accountFailures ranks the attempt's password check: checks of
	// accounts that fail again and again wait behind the others.
	accountFailures int
}

// throttled returns how long sign-in stays refused for this account or IP,
// and the account's earlier failures. The attempt being decided is already
// among the failures, so a limit is passed when more than max are found.
func (db *DB) throttled(ctx context.Context, key, ip string) (throttle, error) {
	now := Now()
	since := now.Add(-ThrottleWindow)
	var t throttle
	for _, lim := range []struct {
		col, val string
		max      int
	}{{"account_key", key, MaxAccountFailures}, {"ip", ip, MaxIPFailures}} {
		var times []time.Time
		err := db.gorm.WithContext(ctx).Model(&LoginFailure{}).
			Where(lim.col+" = ? AND failed_at > ?", lim.val, since).
			Order("failed_at DESC").Limit(lim.max+1).Pluck("failed_at", &times).Error
		if err != nil {
			return throttle{}, fmt.Errorf("check sign-in throttle: %w", err)
		}
		if lim.col == "account_key" {
			t.accountFailures = max(0, len(times)-1)
		}
		if len(times) > lim.max {
			// Refused until the oldest of the last max failures before this
			// attempt ages out.
			if w := times[len(times)-1].Add(ThrottleWindow).Sub(now); w > t.wait {
				t.wait = w
			}
		}
	}
	return t, nil
}

// SignOut ends a session, audited as auth.logout.
func (db *DB) SignOut(ctx context.Context, o Origin, memberID, idHash string) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := tx.Where("id_hash = ?", idHash).Delete(&Session{}).Error; err != nil {
			return Change{}, fmt.Errorf("delete session: %w", err)
		}
		return Change{Action: "auth.logout", Target: Target{Type: "team_member", ID: memberID}}, nil
	})
}

// PasswordChange is the account page's form.
type PasswordChange struct {
	Current, New, Confirm string
}

// ChangePassword replaces a member's password after checking the current
// one, and ends every other session of the member, in one audited change.
func (db *DB) ChangePassword(ctx context.Context, o Origin, memberID, keepSessionHash string, in PasswordChange) (ended int64, err error) {
	m, err := db.MemberByID(ctx, memberID)
	if err != nil {
		return 0, err
	}
	fields, advice := FieldErrors{}, FieldAdvice{}
	if in.Current == "" {
		fields.Add("current", "Enter your current password.")
	} else if ok, err := VerifyPassword(ctx, m.PasswordHash, in.Current); err != nil {
		return 0, err
	} else if !ok {
		fields.Add("current", "That is not your current password.")
	}
	if r := CheckPassword(in.New, PasswordContext{Email: m.EmailAddress}); r != nil {
		r.addTo(fields, advice, "new")
	} else if in.New == in.Current {
		fields.Add("new", "Choose a password different from the current one.")
	}
	if in.Confirm != in.New {
		fields.Add("confirm", "The two new passwords do not match.")
	}
	if err := invalidWithAdvice(fields, advice); err != nil {
		return 0, err
	}
	hash, err := HashPassword(ctx, in.New)
	if err != nil {
		return 0, err
	}
	err = db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		if err := tx.Model(&TeamMember{}).Where("id = ?", m.ID).
			Updates(map[string]any{"password_hash": hash, "updated_at": Now()}).Error; err != nil {
			return Change{}, fmt.Errorf("update password: %w", err)
		}
		r := tx.Where("member_id = ? AND id_hash <> ?", m.ID, keepSessionHash).Delete(&Session{})
		if r.Error != nil {
			return Change{}, fmt.Errorf("end other sessions: %w", r.Error)
		}
		ended = r.RowsAffected
		return Change{Action: "auth.password_change", Target: m.AuditTarget(),
			Before: map[string]any{"password": "old"}, After: map[string]any{"password": "new", "other_sessions_ended": ended}}, nil
	})
	return ended, err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
