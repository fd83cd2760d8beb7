package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models/text"
)

// OIDCStateLifetime is how long a sign-in sent to the provider may take
// to come back.
const OIDCStateLifetime = 10 * time.Minute

// oidcState is a sign-in sent to the provider and not back yet.
type oidcState struct {
	StateHash   string `gorm:"primaryKey"`
	BrowserHash string
	NextPath    string `gorm:"column:next_path"`
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func (oidcState) TableName() string { return "oidc_states" }

// ErrOIDCState refuses an answer from the provider whose state is unknown,
// used already, expired or started in another browser: the page says to
// start again.
var ErrOIDCState = &Error{Kind: KindInvalid, Message: "This sign-in expired or was already used. Start again."}

// BeginOIDCSignIn records a sign-in about to be sent to the provider:
// state goes in the URL, browser is the random value in the browser's
// cookie, next the page to land on. Expired ones are cleared on the way.
// It is not audited: nothing is decided until the answer comes back.
func (db *DB) BeginOIDCSignIn(ctx context.Context, state, browser, next string) error {
	now := db.now()
	g := db.gorm.WithContext(ctx)
	if err := g.Where("expires_at < ?", now).Delete(&oidcState{}).Error; err != nil {
		return fmt.Errorf("clear expired sign-ins: %w", err)
	}
	row := oidcState{StateHash: HashToken(state), BrowserHash: HashToken(browser), NextPath: text.Clean(next, 2048),
		CreatedAt: now, ExpiresAt: now.Add(OIDCStateLifetime)}
	if err := g.Create(&row).Error; err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	return nil
}

// ClaimOIDCState takes the sign-in a provider's answer names, once: the
// row is deleted whether or not the answer goes on to succeed, so a state
// seen twice is refused the second time. It returns the page to land on;
// ErrOIDCState when the state is unknown, used, expired or was begun by
// another browser.
func (db *DB) ClaimOIDCState(ctx context.Context, state, browser string) (next string, err error) {
	if state == "" || browser == "" || !text.Key.Valid(state) || !text.Key.Valid(browser) {
		return "", ErrOIDCState
	}
	g := db.gorm.WithContext(ctx)
	var row oidcState
	err = g.Where("state_hash = ?", HashToken(state)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrOIDCState
	}
	if err != nil {
		return "", fmt.Errorf("read sign-in state: %w", err)
	}
	// Only one of two requests racing with the same state deletes the row.
	r := g.Where("state_hash = ?", row.StateHash).Delete(&oidcState{})
	if r.Error != nil {
		return "", fmt.Errorf("claim sign-in state: %w", r.Error)
	}
	if r.RowsAffected != 1 || row.BrowserHash != HashToken(browser) || !db.now().Before(row.ExpiresAt) {
		return "", ErrOIDCState
	}
	return row.NextPath, nil
}
