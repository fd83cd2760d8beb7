package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var (
	cliKeyA = bytes.Repeat([]byte{0x1A}, 32)
	cliKeyB = bytes.Repeat([]byte{0x2B}, 32)
	cliKeyC = bytes.Repeat([]byte{0x3C}, 32)
)

// withKeys is an environment with current as the field key and older as
// the retired ones, plus kv.
func withKeys(current []byte, older [][]byte, kv ...string) func(string) string {
	var old []string
	for _, k := range older {
		old = append(old, hex.EncodeToString(k))
	}
	return env(append([]string{"LEDGERDESK_FIELD_KEY", hex.EncodeToString(current),
		"LEDGERDESK_FIELD_KEYS_OLD", strings.Join(old, ",")}, kv...)...)
}

func TestKeysReseal_CLIEmbeddedMovesEveryValueToTheNewKey(t *testing.T) {
	data := t.TempDir()
	if r := ledgerdesk(t, withKeys(cliKeyA, nil), "seed", "--users", "60", "--data", data); r.code != 0 {
		t.Fatalf("seed exited %d: %s", r.code, r.stderr)
	}
	rotated := withKeys(cliKeyB, [][]byte{cliKeyA})
	st := ledgerdesk(t, rotated, "keys", "status", "--data", data)
	if st.code != 0 || !strings.Contains(st.stdout, "Current field key: "+models.KeyID(cliKeyB)) ||
		!regexp.MustCompile(`end_users\s+ssn\s+`+models.KeyID(cliKeyA)+` old\s+\d+`).MatchString(st.stdout) ||
		!strings.Contains(st.stdout, "Old key "+models.KeyID(cliKeyA)+" still seals") {
		t.Fatalf("status before resealing exited %d:\n%s%s", st.code, st.stdout, st.stderr)
	}

	r := ledgerdesk(t, rotated, "keys", "reseal", "--batch-size", "7", "--data", data)
	if r.code != 0 {
		t.Fatalf("reseal exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	total := regexp.MustCompile(`Resealing (\d+) values not under the current key`).FindStringSubmatch(r.stdout)
	if total == nil || !strings.Contains(r.stdout, total[1]+"/"+total[1]+" values") ||
		!strings.Contains(r.stdout, "Resealed "+total[1]+" values under key "+models.KeyID(cliKeyB)) ||
		strings.Contains(r.stdout, "\r") {
		t.Fatalf("reseal output (not a terminal: plain lines, no bar):\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "Old key "+models.KeyID(cliKeyA)+" seals nothing") {
		t.Errorf("reseal does not say the old key seals nothing now:\n%s", r.stdout)
	}

	// Key A can go: the status with B alone shows only B.
	st = ledgerdesk(t, withKeys(cliKeyB, nil), "keys", "status", "--data", data)
	if st.code != 0 || strings.Contains(st.stdout, models.KeyID(cliKeyA)) || !strings.Contains(st.stdout, models.KeyID(cliKeyB)+" current") {
		t.Fatalf("status with key B alone exited %d:\n%s", st.code, st.stdout)
	}
	// The seed, the reseal's start and its summary: three entries, intact.
	v := ledgerdesk(t, withKeys(cliKeyB, nil), "audit", "verify", "--data", data)
	if m := intact.FindStringSubmatch(v.stdout); v.code != 0 || m == nil || m[1] != "3" {
		t.Fatalf("audit verify after the reseal: exit %d, %q", v.code, v.stdout)
	}
	again := ledgerdesk(t, withKeys(cliKeyB, nil), "keys", "reseal", "--data", data)
	if again.code != 0 || !strings.Contains(again.stdout, "Nothing to reseal") {
		t.Fatalf("second reseal exited %d:\n%s%s", again.code, again.stdout, again.stderr)
	}
}

func TestKeysReseal_CLIValuesUnderAMissingKeyAreNamedAndExit1(t *testing.T) {
	data := t.TempDir()
	if r := ledgerdesk(t, withKeys(cliKeyC, nil), "seed", "--users", "5", "--data", data); r.code != 0 {
		t.Fatalf("seed exited %d: %s", r.code, r.stderr)
	}
	// C was lost; B is current and A an old key that seals nothing.
	lost := withKeys(cliKeyB, [][]byte{cliKeyA})
	st := ledgerdesk(t, lost, "keys", "status", "--data", data)
	if st.code != 0 || !regexp.MustCompile(`end_users\s+ssn\s+`+models.KeyID(cliKeyC)+` NOT CONFIGURED\s+\d+`).MatchString(st.stdout) ||
		!strings.Contains(st.stdout, "Key "+models.KeyID(cliKeyC)+" seals") || !strings.Contains(st.stdout, "Old key "+models.KeyID(cliKeyA)+" seals nothing") {
		t.Fatalf("status with a missing key exited %d:\n%s", st.code, st.stdout)
	}
	r := ledgerdesk(t, lost, "keys", "reseal", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "did not open and were left as they are") ||
		!strings.Contains(r.stdout, "sealed with key "+models.KeyID(cliKeyC)+", which is not configured") ||
		!strings.Contains(r.stdout, "Resealed 0 values") {
		t.Fatalf("reseal with a missing key exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Nothing was changed: with C back, every value opens and moves.
	back := withKeys(cliKeyB, [][]byte{cliKeyC})
	if r := ledgerdesk(t, back, "keys", "reseal", "--data", data); r.code != 0 {
		t.Fatalf("reseal with the key back exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestKeysCommands_RefuseToRunWithoutAnExistingFieldKey(t *testing.T) {
	data := t.TempDir()
	for _, cmd := range []string{"status", "reseal"} {
		r := ledgerdesk(t, env(), "keys", cmd, "--data", data)
		if r.code != 2 || !strings.Contains(r.stderr, "no field key: set LEDGERDESK_FIELD_KEY") {
			t.Errorf("keys %s without a key exited %d: %s", cmd, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "secrets.json")); !os.IsNotExist(err) {
		t.Errorf("a keys command made a secrets file: %v", err)
	}
	if r := ledgerdesk(t, env(), "keys"); r.code != 2 || !strings.Contains(r.stderr, "ledgerdesk keys reseal") {
		t.Errorf("keys without a subcommand exited %d: %s", r.code, r.stderr)
	}
	if r := ledgerdesk(t, withKeys(cliKeyA, nil), "keys", "reseal", "--batch-size", "0", "--data", data); r.code != 2 || !strings.Contains(r.stderr, "--batch-size") {
		t.Errorf("--batch-size 0 exited %d: %s", r.code, r.stderr)
	}
}

// On PostgreSQL the keys commands run as the portal's role: what the
// reseal writes, the portal may write.
func TestKeysReseal_CLIPostgresAsThePortalsRole(t *testing.T) {
	dsn := testdb.EmptyPostgres(t)
	data := t.TempDir()
	owner := withKeys(cliKeyA, nil, "DATABASE_URL", dsn)
	if r := ledgerdesk(t, owner, "migrate", "--data", data, "--grant-to", testdb.AppRole); r.code != 0 {
		t.Fatalf("migrate exited %d: %s", r.code, r.stderr)
	}
	if r := ledgerdesk(t, owner, "seed", "--users", "40", "--data", data); r.code != 0 {
		t.Fatalf("seed exited %d: %s", r.code, r.stderr)
	}
	app := withKeys(cliKeyB, [][]byte{cliKeyA}, "DATABASE_URL", testdb.AppDSN(t, dsn))
	r := ledgerdesk(t, app, "keys", "reseal", "--batch-size", "9", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "Old key "+models.KeyID(cliKeyA)+" seals nothing") {
		t.Fatalf("reseal as the portal's role exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	st := ledgerdesk(t, app, "keys", "status", "--data", data)
	if st.code != 0 || strings.Contains(st.stdout, models.KeyID(cliKeyA)+" old") {
		t.Fatalf("status after the reseal exited %d:\n%s", st.code, st.stdout)
	}
	v := ledgerdesk(t, app, "audit", "verify", "--data", data)
	if m := intact.FindStringSubmatch(v.stdout); v.code != 0 || m == nil || m[1] != "3" {
		t.Fatalf("audit verify after the reseal: exit %d, %q", v.code, v.stdout)
	}
}
