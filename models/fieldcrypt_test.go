package models_test

import (
	"bytes"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var (
	keyA = bytes.Repeat([]byte{0xA1}, 32)
	keyB = bytes.Repeat([]byte{0xB2}, 32)
)

func fieldCipher(t testing.TB, current []byte, older ...[]byte) *models.FieldCipher {
	t.Helper()
	fc, err := models.NewFieldCipher(current, older...)
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func TestFieldCipher_SealsWithAFreshNonceAndOpensOnlyInItsContext(t *testing.T) {
	t.Parallel()
	fc := fieldCipher(t, keyA)
	a, b := fc.Seal("123-45-6789", "end_user:u1:ssn"), fc.Seal("123-45-6789", "end_user:u1:ssn")
	if a == b {
		t.Error("two seals of one value are identical: the nonce is not fresh")
	}
	if strings.Contains(a, "6789") && strings.Contains(a, "123") {
		t.Errorf("sealed value looks like the plaintext: %q", a)
	}
	if got, err := fc.Open(a, fc.CurrentKeyID(), "end_user:u1:ssn"); err != nil || got != "123-45-6789" {
		t.Errorf("open = %q, %v", got, err)
	}
	for _, ctxt := range []string{"end_user:u2:ssn", "end_user:u1:date_of_birth", ""} {
		if got, err := fc.Open(a, fc.CurrentKeyID(), ctxt); err == nil {
			t.Errorf("opened in context %q: %q", ctxt, got)
		}
	}
	if got, err := fc.Open(a[:len(a)-2]+"AA", fc.CurrentKeyID(), "end_user:u1:ssn"); err == nil {
		t.Errorf("tampered value opened: %q", got)
	}
	if _, err := fc.Open("not base64!", fc.CurrentKeyID(), "end_user:u1:ssn"); err == nil {
		t.Error("garbage opened")
	}
	if _, err := fc.Open(a, models.KeyID(keyB), "end_user:u1:ssn"); err == nil {
		t.Error("opened with a key id that is not configured")
	}
	if fc.Seal("", "x") != "" {
		t.Error("an empty value is sealed to something")
	}
	if got, err := fc.Open("", fc.CurrentKeyID(), "x"); err != nil || got != "" {
		t.Errorf("open of empty = %q, %v", got, err)
	}
}

func TestFieldCipher_RefusesKeysThatAreNot32Bytes(t *testing.T) {
	t.Parallel()
	for _, k := range [][]byte{nil, make([]byte, 16), make([]byte, 31), make([]byte, 33)} {
		if _, err := models.NewFieldCipher(k); err == nil {
			t.Errorf("key of %d bytes accepted", len(k))
		}
		if _, err := models.NewFieldCipher(keyA, k); err == nil {
			t.Errorf("older key of %d bytes accepted", len(k))
		}
	}
	if models.KeyID(keyA) == models.KeyID(keyB) {
		t.Errorf("key ids %q %q", models.KeyID(keyA), models.KeyID(keyB))
	}
}

func TestEndUser_SealedValueCopiedToAnotherUserDoesNotOpen(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		victim := createUser(t, db, "victim", carmen())
		other := carmen()
		other.SSNFull, other.DateOfBirth = "987-65-4321", "1990-05-05"
		thief := createUser(t, db, "thief", other)
		// Someone with write access to the table copies the victim's sealed
		// values into another row, hoping to read them through that user.
		exec(t, db, `UPDATE end_users SET ssn_cipher = (SELECT ssn_cipher FROM end_users WHERE id = ?),
			dob_cipher = (SELECT dob_cipher FROM end_users WHERE id = ?) WHERE id = ?`,
			victim.User.ID, victim.User.ID, thief.User.ID)
		if id, err := db.Identity(reloadUser(t, db, thief.User.ID)); err == nil {
			t.Errorf("copied values opened for another user: ssn %q dob %q", id.SSNFull, id.DateOfBirth)
		}
		_, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, thief.User.ID, models.RevealSSN, "checking the copied value")
		if err == nil {
			t.Error("reveal of a copied value succeeded")
		}
		if n := len(entriesWithAction(t, db, "user.pii_reveal")); n != 0 {
			t.Errorf("%d reveal entries for a reveal that failed", n)
		}
		// Swapping fields within one user does not open either.
		exec(t, db, `UPDATE end_users SET dob_cipher = ssn_cipher WHERE id = ?`, victim.User.ID)
		if id, err := db.Identity(reloadUser(t, db, victim.User.ID)); err == nil {
			t.Errorf("ssn sealed value opened as date of birth: %q", id.DateOfBirth)
		}
	})
}

func TestEndUser_KeyRotationKeepsOldValuesReadable(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyA), "sandbox")
		old := createUser(t, db, "sealed-with-a", carmen())
		if old.User.PIIKeyID != models.KeyID(keyA) {
			t.Fatalf("pii_key_id %q, want key A's %q", old.User.PIIKeyID, models.KeyID(keyA))
		}

		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")
		if id := openIdentity(t, db, reloadUser(t, db, old.User.ID)); id.SSNFull != "123-45-6789" || id.DateOfBirth != "1987-01-31" {
			t.Errorf("value sealed with A after rotation: %+v", id)
		}
		if v, err := db.RevealPII(ctx, adminOrigin, models.RoleAdmin, old.User.ID, models.RevealSSN, "after key rotation"); err != nil || v != "123-45-6789" {
			t.Errorf("reveal after rotation = %q, %v", v, err)
		}
		fresh := createUser(t, db, "sealed-with-b", carmen())
		if fresh.User.PIIKeyID != models.KeyID(keyB) {
			t.Errorf("new user's pii_key_id %q, want key B's %q", fresh.User.PIIKeyID, models.KeyID(keyB))
		}
		// An update re-seals the old user's values with the current key.
		changed := carmen()
		changed.FirstName = "Carmy"
		u, err := db.UpdateEndUser(ctx, adminOrigin, old.User.ID, old.User.Version, changed)
		if err != nil {
			t.Fatal(err)
		}
		if u.PIIKeyID != models.KeyID(keyB) {
			t.Errorf("updated user's pii_key_id %q, want key B's", u.PIIKeyID)
		}

		// Once A is retired, everything still opens: nothing is sealed with it.
		db.Configure(fieldCipher(t, keyB), "sandbox")
		for _, id := range []int64{old.User.ID, fresh.User.ID} {
			if got := openIdentity(t, db, reloadUser(t, db, id)); got.SSNFull != "123-45-6789" {
				t.Errorf("user %d: ssn %q with key B alone", id, got.SSNFull)
			}
		}
		// Without B, values sealed with it do not open, and say so.
		db.Configure(fieldCipher(t, keyA), "sandbox")
		if _, err := db.Identity(reloadUser(t, db, fresh.User.ID)); err == nil {
			t.Error("value sealed with B opened with A alone")
		}
	})
}
