package models_test

import (
	"errors"
	"fmt"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestErrorKind_OnlyNilIsZero(t *testing.T) {
	domain := &models.Error{Kind: models.KindNotFound, Message: "no such user"}
	for _, tc := range []struct {
		err  error
		want models.Kind
	}{
		{nil, 0},
		{errors.New("pq: invalid byte sequence"), models.KindInternal},
		{fmt.Errorf("sign in: %w", errors.New("connection reset")), models.KindInternal},
		{domain, models.KindNotFound},
		{fmt.Errorf("wrapped: %w", domain), models.KindNotFound},
	} {
		if got := models.ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestIsUniqueViolation_ReadsTheEnginesCodeNotItsWording(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		insert := func(value any) error {
			return db.Gorm().Exec(`INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)`,
				"unique-violation-probe", value, models.Now()).Error
		}
		if err := insert("first"); err != nil {
			t.Fatal(err)
		}
		dup := insert("second")
		if dup == nil || !models.IsUniqueViolation(dup) || !models.IsUniqueViolation(fmt.Errorf("store setting: %w", dup)) {
			t.Errorf("a second row with the same key: %v, not a unique violation", dup)
		}
		// Another constraint, and a message that only quotes the wording.
		if err := db.Gorm().Exec(`INSERT INTO settings (name, value, updated_at) VALUES (?, NULL, ?)`,
			"not-null-probe", models.Now()).Error; err == nil || models.IsUniqueViolation(err) {
			t.Errorf("a NULL value: %v, taken for a unique violation", err)
		}
		for _, err := range []error{errors.New("UNIQUE constraint failed: settings.name"), errors.New("SQLSTATE 23505")} {
			if models.IsUniqueViolation(err) {
				t.Errorf("%q taken for the engine's refusal", err)
			}
		}
	})
}
