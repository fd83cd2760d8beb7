package models_test

import (
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func csrfValid(t *testing.T, db *models.DB, token string) bool {
	t.Helper()
	ok, err := db.CSRFTokenValid(ctx, token)
	if err != nil {
		t.Fatalf("check token: %v", err)
	}
	return ok
}

func TestCSRFToken_IssuedTokenIsValidUntilDeleted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		tok := models.RandomToken(32)
		if csrfValid(t, db, tok) {
			t.Fatal("token valid before it was issued")
		}
		if err := db.PutCSRFToken(ctx, tok, models.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !csrfValid(t, db, tok) {
			t.Fatal("issued token not valid")
		}
		if csrfValid(t, db, tok+"x") || csrfValid(t, db, "") {
			t.Error("a different token is valid")
		}
		if err := db.DeleteCSRFToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if csrfValid(t, db, tok) {
			t.Error("deleted token still valid")
		}
	})
}

func TestCSRFToken_ExpiryIsRespectedAndCanBeExtended(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		tok := models.RandomToken(32)
		if err := db.PutCSRFToken(ctx, tok, models.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if csrfValid(t, db, tok) {
			t.Error("expired token valid")
		}
		// Issuing it again extends it, without a second row.
		if err := db.PutCSRFToken(ctx, tok, models.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !csrfValid(t, db, tok) {
			t.Error("extended token not valid")
		}
		if n := countRows(t, db, "csrf_tokens"); n != 1 {
			t.Errorf("%d rows for one token", n)
		}
	})
}

func TestCSRFToken_ExpiryHoldsInAnyTimeZone(t *testing.T) {
	// Callers may pass local times; SQLite compares stored times as text,
	// so a zone offset must not move the expiry.
	east, west := time.FixedZone("UTC+10", 10*3600), time.FixedZone("UTC-8", -8*3600)
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for _, zone := range []*time.Location{east, west} {
			expired, live := models.RandomToken(16), models.RandomToken(16)
			if err := db.PutCSRFToken(ctx, expired, models.Now().Add(-time.Minute).In(zone)); err != nil {
				t.Fatal(err)
			}
			if err := db.PutCSRFToken(ctx, live, models.Now().Add(time.Hour).In(zone)); err != nil {
				t.Fatal(err)
			}
			if csrfValid(t, db, expired) {
				t.Errorf("%s: token that expired a minute ago is valid", zone)
			}
			if !csrfValid(t, db, live) {
				t.Errorf("%s: token valid for another hour is refused", zone)
			}
		}
	})
}

func TestCSRFToken_StoredOnlyAsAHash(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		tok := models.RandomToken(32)
		if err := db.PutCSRFToken(ctx, tok, models.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var rows []models.CSRFToken
		if err := db.Gorm().Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		if strings.Contains(rows[0].TokenHash, tok) || rows[0].TokenHash != models.HashToken(tok) {
			t.Errorf("stored %q for token %q, want its SHA-256", rows[0].TokenHash, tok)
		}
	})
}
