package models_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var (
	signingKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	signingPub = signingKey.Public().(ed25519.PublicKey)
	otherPub   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
)

func checkpoint(t *testing.T, db *models.DB) models.AuditCheckpoint {
	t.Helper()
	cp, err := db.CreateCheckpoint(ctx, systemOrigin, signingKey)
	if err != nil {
		t.Fatal(err)
	}
	return *cp
}

func verifyCheckpoint(t *testing.T, db *models.DB, cp models.AuditCheckpoint, pub ed25519.PublicKey) models.CheckpointResult {
	t.Helper()
	res, err := db.VerifyCheckpoint(ctx, cp, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// rewriteFrom replaces entry seq with an altered copy and re-links and
// re-hashes every later entry and the head: a forger's consistent chain.
func rewriteFrom(t *testing.T, db *models.DB, seq int64) {
	t.Helper()
	es := entries(t, db)
	prev := es[seq-2].Hash
	if seq == 1 {
		prev = models.GenesisHash
	}
	for i := seq - 1; i < int64(len(es)); i++ {
		e := es[i]
		if e.Seq == seq {
			e.Reason = "rewritten"
		}
		e.PrevHash = prev
		e.Hash = testdb.AuditHash(e)
		overwrite(t, db, e.Seq, e)
		prev = e.Hash
	}
	exec(t, db, `UPDATE audit_chain_head SET hash = ?`, prev)
}

func TestCheckpoint_SignsTheHeadAndItsEntryFollows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 4)
		h := head(t, db)
		cp := checkpoint(t, db)
		if cp.Seq != h.Seq || cp.Hash != h.Hash || cp.ID == 0 {
			t.Fatalf("checkpoint %+v, head %+v", cp, h)
		}
		if !cp.SignatureValid(signingPub) || cp.SignatureValid(otherPub) {
			t.Fatal("signature check wrong")
		}
		es := entries(t, db)
		last := es[len(es)-1]
		if last.Action != "audit.checkpoint" || last.Seq != h.Seq+1 {
			t.Errorf("newest entry %d %s, want audit.checkpoint at %d", last.Seq, last.Action, h.Seq+1)
		}
		// Idle: nothing to sign but the checkpoint's own entry.
		if due, err := db.CheckpointDue(ctx); err != nil || due {
			t.Errorf("due right after a checkpoint: %v %v", due, err)
		}
		record(t, db, "test.more", "5")
		if due, _ := db.CheckpointDue(ctx); !due {
			t.Error("not due after the chain moved")
		}
		// The downloaded file round-trips and still verifies.
		b, _ := json.Marshal(cp.File())
		back, err := models.ParseCheckpointFile(b)
		if err != nil || !back.SignatureValid(signingPub) || back.Seq != cp.Seq {
			t.Fatalf("file round trip: %+v %v", back, err)
		}
		if res := verifyCheckpoint(t, db, back, signingPub); !res.OK() || res.Checked != cp.Seq {
			t.Errorf("intact chain against its checkpoint: %+v", res)
		}
	})
}

func TestCheckpoint_RewrittenChainFailsAgainstAnOlderCheckpoint(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 6)
		cp := checkpoint(t, db)
		seedChain2 := func() { record(t, db, "test.after", "x") }
		seedChain2()
		rewriteFrom(t, allowAuditTampering(t, db), 2)
		// The rewrite is consistent in itself: the chain alone verifies.
		if res := verify(t, db); !res.OK() {
			t.Fatalf("the forger's chain should verify on its own: %+v", res)
		}
		res := verifyCheckpoint(t, db, cp, signingPub)
		if res.OK() || res.FirstBadSeq != cp.Seq || !strings.Contains(res.Problem, "rewritten") {
			t.Errorf("rewritten chain against the checkpoint: %+v", res)
		}
	})
}

func TestCheckpoint_NamesTamperingBeforeItAndRefusesForgedFiles(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 5)
		cp := checkpoint(t, db)

		forged := cp
		forged.Seq = 3
		if res := verifyCheckpoint(t, db, forged, signingPub); res.SignatureOK || res.OK() {
			t.Errorf("a checkpoint with an edited seq verified: %+v", res)
		}
		if res := verifyCheckpoint(t, db, cp, otherPub); res.SignatureOK {
			t.Errorf("verified with another key: %+v", res)
		}

		owner := allowAuditTampering(t, db)
		exec(t, owner, `UPDATE audit_entries SET target_id = 'x' WHERE seq = 2`)
		if res := verifyCheckpoint(t, db, cp, signingPub); res.FirstBadSeq != 2 {
			t.Errorf("edit before the checkpoint: %+v", res)
		}
		exec(t, owner, `DELETE FROM audit_entries WHERE seq >= 2`)
		exec(t, owner, `UPDATE audit_chain_head SET seq = 1, hash = (SELECT hash FROM audit_entries WHERE seq = 1)`)
		if res := verifyCheckpoint(t, db, cp, signingPub); res.OK() || res.FirstBadSeq != 2 {
			t.Errorf("truncated chain: %+v", res)
		}
	})
}

func TestCheckpoint_OfAnEmptyChain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		cp := checkpoint(t, db)
		if cp.Seq != 0 || cp.Hash != models.GenesisHash {
			t.Fatalf("empty chain checkpoint %+v", cp)
		}
		if res := verifyCheckpoint(t, db, cp, signingPub); !res.OK() {
			t.Errorf("%+v", res)
		}
	})
}

func TestParsePublicKey_AcceptsBase64AndHex(t *testing.T) {
	for _, s := range []string{models.EncodePublicKey(signingPub), " " + models.EncodePublicKey(signingPub) + "\n",
		strings.TrimRight(models.EncodePublicKey(signingPub), "="), "" + hexOf(signingPub)} {
		k, err := models.ParsePublicKey(s)
		if err != nil || !k.Equal(signingPub) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := models.ParsePublicKey("not a key"); err == nil {
		t.Error("accepted junk")
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestCheckpoint_OfSeveralSignersOnAScheduleOneSigns(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.one", "1")
		record(t, db, "test.two", "2")
		var wg sync.WaitGroup
		var mu sync.Mutex
		signed := 0
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cp, err := db.CreateCheckpointIfDue(context.Background(), systemOrigin, signingKey)
				if err != nil {
					t.Error(err)
				}
				if cp != nil {
					mu.Lock()
					signed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if signed != 1 || countRows(t, db, "audit_checkpoints") != 1 || len(entriesWithAction(t, db, "audit.checkpoint")) != 1 {
			t.Fatalf("%d signers signed, %d checkpoints: want exactly one", signed, countRows(t, db, "audit_checkpoints"))
		}
		// Nothing new since: no one signs again.
		if cp, err := db.CreateCheckpointIfDue(ctx, systemOrigin, signingKey); err != nil || cp != nil {
			t.Fatalf("a checkpoint of an unchanged chain: %v %v", cp, err)
		}
	})
}
