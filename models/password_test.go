package models_test

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var phcArgon2id = regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

func TestHashPassword_IsArgon2idPHCWithRandomSalt(t *testing.T) {
	// The tests hash at a lower cost (testdb); production's is checked.
	defer models.SetPasswordCost(models.ProductionPasswordCost)()
	h1, err := models.HashPassword(context.Background(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := models.HashPassword(context.Background(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := phcArgon2id.FindStringSubmatch(h1), phcArgon2id.FindStringSubmatch(h2)
	if m1 == nil || m2 == nil {
		t.Fatalf("not argon2id PHC strings:\n%s\n%s", h1, h2)
	}
	if h1 == h2 || m1[1] == m2[1] {
		t.Error("two hashes of one password share their salt")
	}
	for _, m := range [][]string{m1, m2} {
		salt, _ := base64.RawStdEncoding.DecodeString(m[1])
		key, _ := base64.RawStdEncoding.DecodeString(m[2])
		if len(salt) != 16 || len(key) != 32 {
			t.Errorf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
		}
	}
	if !testdb.PasswordMatches(t, h2, testPassword) {
		t.Error("second hash does not verify")
	}
}

func TestVerifyPassword_AcceptsOnlyTheRightPassword(t *testing.T) {
	h := testPasswordHash(t)
	if !testdb.PasswordMatches(t, h, testPassword) {
		t.Fatal("right password refused")
	}
	for _, wrong := range []string{"", "correct horse battery stapl", testPassword + " ", strings.ToUpper(testPassword)} {
		if testdb.PasswordMatches(t, h, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
}

func TestVerifyPassword_RejectsMalformedHashesWithoutPanicking(t *testing.T) {
	h := testPasswordHash(t)
	parts := strings.Split(h, "$") // "", argon2id, v=19, m=…,t=…,p=…, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	malformed := map[string]string{
		"empty":          "",
		"garbage":        "not a hash",
		"bcrypt":         "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":        with(1, "argon2i"),
		"other version":  with(2, "v=16"),
		"missing params": with(3, ""),
		"bad salt":       with(4, "!!!"),
		"empty key":      with(5, ""),
		"bad key":        with(5, "***"),
		"extra part":     h + "$extra",
		"zero passes":    with(3, "m=65536,t=0,p=2"),
		"zero lanes":     with(3, "m=65536,t=2,p=0"),
		"absurd memory":  with(3, "m=4294967295,t=2,p=2"),
		"absurd passes":  with(3, "m=65536,t=4294967295,p=2"),
		"no salt":        with(4, ""),
		"truncated":      h[:len(h)-10],
	}
	for name, enc := range malformed {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("VerifyPassword panicked: %v", r)
				}
			}()
			if testdb.PasswordMatches(t, enc, testPassword) {
				t.Errorf("malformed hash %q accepted the password", enc)
			}
		})
	}
}

func TestVerifyPassword_BusyWhenEverySlotIsTaken(t *testing.T) {
	h := testPasswordHash(t)
	release := models.HoldPasswordHashSlots(50 * time.Millisecond)
	hashes := models.PasswordHashesComputed()
	ok, err := models.VerifyPassword(context.Background(), h, testPassword)
	if ok || err != models.ErrPasswordCheckBusy || models.ErrorKind(err) != models.KindBusy {
		t.Fatalf("with every slot taken: %v, %v; want ErrPasswordCheckBusy", ok, err)
	}
	if _, err := models.HashPassword(context.Background(), testPassword); err != models.ErrPasswordCheckBusy {
		t.Fatalf("HashPassword with every slot taken: %v", err)
	}
	if n := models.PasswordHashesComputed() - hashes; n != 0 {
		t.Fatalf("%d hashes computed while every slot was taken", n)
	}
	release()
	if ok, err := models.VerifyPassword(context.Background(), h, testPassword); !ok || err != nil {
		t.Fatalf("after the slots freed: %v, %v", ok, err)
	}
}

func TestSignIn_BusyDoesNotCountAgainstTheAccount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "admin@example.com")
		release := models.HoldPasswordHashSlots(20 * time.Millisecond)
		for i := 0; i < accountLimit+2; i++ {
			if _, _, err := signIn(db, "198.51.100.7", "admin@example.com", testPassword); err != models.ErrPasswordCheckBusy {
				release()
				t.Fatalf("attempt %d while busy: %v, want ErrPasswordCheckBusy", i+1, err)
			}
		}
		release()
		if n := countRows(t, db, "login_failures"); n != 0 {
			t.Fatalf("%d failures counted for attempts never checked", n)
		}
		if _, _, err := signIn(db, "198.51.100.7", "admin@example.com", testPassword); err != nil {
			t.Fatalf("the right password once the server is free: %v", err)
		}
	})
}
