package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

var publicKeyLine = regexp.MustCompile(`public key: (\S+)`)

// forgeChain rewrites entry 2 and re-links and re-hashes everything after
// it, as someone with the database file and the hashing scheme could: the
// chain stays consistent in itself.
func forgeChain(t *testing.T, dbPath string) {
	t.Helper()
	db, err := models.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := db.Gorm()
	for _, s := range []string{`DROP TRIGGER audit_entries_no_update`, `DROP TRIGGER audit_entries_no_delete`} {
		if err := g.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	var es []models.AuditEntry
	if err := g.Order("seq").Find(&es).Error; err != nil {
		t.Fatal(err)
	}
	prev := es[0].Hash
	for _, e := range es[1:] {
		if e.Seq == 2 {
			e.ActorID = "someone-else"
		}
		e.PrevHash = prev
		e.Hash = testdb.AuditHash(e)
		prev = e.Hash
		if err := g.Model(&models.AuditEntry{}).Where("seq = ?", e.Seq).
			Updates(map[string]any{"actor_id": e.ActorID, "prev_hash": e.PrevHash, "hash": e.Hash}).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Exec(`UPDATE audit_chain_head SET hash = ?`, prev).Error; err != nil {
		t.Fatal(err)
	}
}

func TestAuditCheckpoint_VerifyProvesTheChainAgainstASignedCheckpoint(t *testing.T) {
	data := t.TempDir()
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if r := ledgerdesk(t, env(), "admin", "create", "--data", data, "--email", email, "--role", "auditor"); r.code != 0 {
			t.Fatalf("admin create: %d %s", r.code, r.stderr)
		}
	}
	r := ledgerdesk(t, env(), "audit", "checkpoint", "--data", data)
	if r.code != 0 {
		t.Fatalf("audit checkpoint exited %d: %s", r.code, r.stderr)
	}
	m := publicKeyLine.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "seq 3") {
		t.Fatalf("audit checkpoint printed %q", r.stdout)
	}
	pub := m[1]
	// The key was generated once into the secrets file, next to the others.
	raw, _ := os.ReadFile(filepath.Join(data, "secrets.json"))
	var keys map[string]string
	json.Unmarshal(raw, &keys)
	if len(keys["audit_signing_key"]) != 64 || strings.Contains(r.stdout+r.stderr, keys["audit_signing_key"]) {
		t.Fatal("the signing key is missing from secrets.json or was printed")
	}

	// Download the checkpoint as the integrity page would give it.
	db, err := models.OpenSQLite(filepath.Join(data, "ledgerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	cps, err := db.ListCheckpoints(ctx(t), 1)
	db.Close()
	if err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints: %v %v", cps, err)
	}
	file := filepath.Join(t.TempDir(), "checkpoint.json")
	b, _ := json.Marshal(cps[0].File())
	os.WriteFile(file, b, 0o600)

	// More entries after the checkpoint do not matter.
	ledgerdesk(t, env(), "admin", "create", "--data", data, "--email", "d@example.com", "--role", "auditor")
	r = ledgerdesk(t, env(), "audit", "verify", "--data", data, "--checkpoint", file, "--public-key", pub)
	if r.code != 0 || !strings.Contains(r.stdout, "checkpoint matches") {
		t.Fatalf("intact chain against its checkpoint exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	other := ledgerdesk(t, env(), "audit", "checkpoint", "--data", t.TempDir())
	otherKey := publicKeyLine.FindStringSubmatch(other.stdout)[1]
	r = ledgerdesk(t, env(), "audit", "verify", "--data", data, "--checkpoint", file, "--public-key", otherKey)
	if r.code != 1 || !strings.Contains(r.stdout, "checkpoint REJECTED") {
		t.Fatalf("checkpoint with another key exited %d:\n%s", r.code, r.stdout)
	}

	// Rewrite the whole chain consistently: the chain alone verifies, the
	// older checkpoint does not.
	forgeChain(t, filepath.Join(data, "ledgerdesk.db"))
	r = ledgerdesk(t, env(), "audit", "verify", "--data", data)
	if r.code != 0 {
		t.Fatalf("the forged chain should pass on its own:\n%s", r.stdout)
	}
	r = ledgerdesk(t, env(), "audit", "verify", "--data", data, "--checkpoint", file, "--public-key", pub)
	if r.code != 1 || !strings.Contains(r.stdout, "checkpoint MISMATCH at seq 3") {
		t.Fatalf("rewritten chain against the checkpoint exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := ledgerdesk(t, env(), "audit", "verify", "--data", data, "--checkpoint", file); r.code != 2 {
		t.Errorf("--checkpoint without --public-key exited %d", r.code)
	}
}

func TestAuditCheckpoint_SigningKeyFromTheEnvironment(t *testing.T) {
	seed := strings.Repeat("ab", 32)
	r := ledgerdesk(t, env("LEDGERDESK_AUDIT_SIGNING_KEY", seed), "audit", "checkpoint", "--data", t.TempDir())
	if r.code != 0 {
		t.Fatalf("exited %d: %s", r.code, r.stderr)
	}
	// ed25519 public key of the seed 0xabab…
	if m := publicKeyLine.FindStringSubmatch(r.stdout); m == nil || m[1] != expectedPublicKey(seed) {
		t.Fatalf("printed %q", r.stdout)
	}
	if r := ledgerdesk(t, env("LEDGERDESK_AUDIT_SIGNING_KEY", "short"), "audit", "checkpoint", "--data", t.TempDir()); r.code == 0 {
		t.Error("a bad signing key was accepted")
	}
}

func expectedPublicKey(seedHex string) string {
	seed, _ := hex.DecodeString(seedHex)
	return models.EncodePublicKey(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestServe_SignsCheckpointsPeriodically(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, env("LEDGERDESK_AUDIT_CHECKPOINT_EVERY", "100ms"), "--data", data, "--no-demo-data")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.stderr.String(), "audit checkpoint signed") {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint signed:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Idle: the head only moved by the checkpoint's own entry, so no
	// second checkpoint follows.
	time.Sleep(500 * time.Millisecond)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	db, err := models.OpenSQLite(filepath.Join(data, "ledgerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cps, err := db.ListCheckpoints(ctx(t), 10)
	if err != nil || len(cps) != 1 {
		t.Fatalf("%d checkpoints (%v), want 1 on an idle portal", len(cps), err)
	}
}

func TestAuditCheckpoint_OlderSecretsFileGetsASigningKey(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, "secrets.json")
	old := `{"session_key":"` + strings.Repeat("1", 64) + `","field_key":"` + strings.Repeat("2", 64) + `"}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := ledgerdesk(t, env(), "audit", "checkpoint", "--data", data); r.code != 0 {
		t.Fatalf("exited %d: %s", r.code, r.stderr)
	}
	raw, _ := os.ReadFile(path)
	var keys map[string]string
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	if keys["session_key"] != strings.Repeat("1", 64) || keys["field_key"] != strings.Repeat("2", 64) || len(keys["audit_signing_key"]) != 64 {
		t.Fatalf("secrets.json is now %v", keys)
	}
	webtest.Sensitive(keys["audit_signing_key"])
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets.json mode %#o", fi.Mode().Perm())
	}
	// The key stays: a second checkpoint is signed by the same key.
	a := ledgerdesk(t, env(), "audit", "checkpoint", "--data", data)
	b := ledgerdesk(t, env(), "audit", "checkpoint", "--data", data)
	if publicKeyLine.FindStringSubmatch(a.stdout)[1] != publicKeyLine.FindStringSubmatch(b.stdout)[1] {
		t.Fatal("the signing key changed between runs")
	}
}
