package models_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// seedChain appends n entries.
func seedChain(t *testing.T, db *models.DB, n int) []models.AuditEntry {
	t.Helper()
	for i := 1; i <= n; i++ {
		record(t, db, "test.seed", fmt.Sprint(i))
	}
	es := entries(t, db)
	if len(es) != n {
		t.Fatalf("seeded %d entries, read %d", n, len(es))
	}
	return es
}

func verify(t *testing.T, db *models.DB) models.VerifyResult {
	t.Helper()
	res, err := db.VerifyAuditChain(ctx, nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

// overwrite replaces every column but seq of the entry at seq with e's.
func overwrite(t *testing.T, db *models.DB, seq int64, e models.AuditEntry) {
	t.Helper()
	err := db.Gorm().Model(&models.AuditEntry{}).Where("seq = ?", seq).Updates(map[string]any{
		"occurred_at": e.OccurredAt, "actor_type": e.ActorType, "actor_id": e.ActorID, "action": e.Action,
		"target_type": e.TargetType, "target_id": e.TargetID, "request_id": e.RequestID, "ip": e.IP,
		"user_agent": e.UserAgent, "diff": e.Diff, "reason": e.Reason, "prev_hash": e.PrevHash, "hash": e.Hash,
	}).Error
	if err != nil {
		t.Fatalf("overwrite seq %d: %v", seq, err)
	}
}

// forge builds an entry linked to prev with a correct hash of its own, as a
// forger who knows the hashing scheme would.
func forge(seq int64, prevHash string) models.AuditEntry {
	e := models.AuditEntry{Seq: seq, OccurredAt: models.Now(), ActorType: models.ActorSystem, ActorID: "ledgerdesk",
		Action: "user.remove", TargetType: "end_user", TargetID: "42", Diff: `{}`, PrevHash: prevHash}
	e.Hash = testdb.AuditHash(e)
	return e
}

func insertEntry(t *testing.T, db *models.DB, e models.AuditEntry) {
	t.Helper()
	if err := db.Gorm().Create(&e).Error; err != nil {
		t.Fatalf("insert forged entry %d: %v", e.Seq, err)
	}
}

func TestVerifyAuditChain_IntactChainVerifies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if res := verify(t, db); !res.OK() || res.Checked != 0 {
			t.Errorf("empty chain: %+v", res)
		}
		seedChain(t, db, 7)
		var reported int64
		res, err := db.VerifyAuditChain(ctx, func(n int64) { reported = n })
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Checked != 7 || res.HeadSeq != 7 || res.Problem != "" {
			t.Errorf("intact chain: %+v", res)
		}
		if reported != 7 {
			t.Errorf("progress reported %d, want 7", reported)
		}
	})
}

func TestVerifyAuditChain_NamesTheFirstBrokenSeq(t *testing.T) {
	// Five entries; each case tampers with them and names the seq the
	// verification must report.
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *models.DB, es []models.AuditEntry)
		want   int64
	}{
		{"content edited", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `UPDATE audit_entries SET target_id = '999' WHERE seq = 3`)
		}, 3},
		{"content edited and rehashed", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			e := es[2]
			e.Reason = "nothing to see"
			e.Hash = testdb.AuditHash(e)
			overwrite(t, db, 3, e)
		}, 4},
		{"last entry edited and rehashed", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			e := es[4]
			e.Action = "test.innocent"
			e.Hash = testdb.AuditHash(e)
			overwrite(t, db, 5, e)
		}, 5},
		{"entry deleted", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `DELETE FROM audit_entries WHERE seq = 3`)
		}, 3},
		{"first entry deleted", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `DELETE FROM audit_entries WHERE seq = 1`)
		}, 1},
		{"entry inserted in the middle", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			// Make room at seq 3, then slip in a well-formed entry linked
			// to entry 2. It is consistent in itself; the displaced entry,
			// now at seq 4, no longer links to what precedes it.
			exec(t, db, `UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 3`)
			exec(t, db, `UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1000`)
			insertEntry(t, db, forge(3, es[1].Hash))
			exec(t, db, `UPDATE audit_chain_head SET seq = 6`)
		}, 4},
		{"entry inserted beyond the head", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			insertEntry(t, db, forge(6, es[4].Hash))
		}, 6},
		{"entry inserted far beyond the head", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			insertEntry(t, db, forge(40, es[4].Hash))
		}, 6},
		{"two entries reordered", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			overwrite(t, db, 2, es[3])
			overwrite(t, db, 4, es[1])
		}, 2},
		{"neighbours reordered", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			overwrite(t, db, 4, es[4])
			overwrite(t, db, 5, es[3])
		}, 4},
		{"tail truncated", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `DELETE FROM audit_entries WHERE seq >= 4`)
		}, 4},
		{"last entry deleted", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `DELETE FROM audit_entries WHERE seq = 5`)
		}, 5},
		{"head hash replaced", func(t *testing.T, db *models.DB, es []models.AuditEntry) {
			exec(t, db, `UPDATE audit_chain_head SET hash = ?`, strings.Repeat("a", 64))
		}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *models.DB) {
				es := seedChain(t, db, 5)
				if res := verify(t, db); !res.OK() {
					t.Fatalf("chain broken before tampering: %+v", res)
				}
				c.tamper(t, allowAuditTampering(t, db), es)
				res := verify(t, db)
				if res.FirstBadSeq != c.want {
					t.Errorf("FirstBadSeq = %d (%s), want %d", res.FirstBadSeq, res.Problem, c.want)
				}
				if res.OK() || res.Problem == "" {
					t.Errorf("tampering not reported: %+v", res)
				}
			})
		})
	}
}

func TestVerifyAuditChain_EditOfAnyColumnIsDetected(t *testing.T) {
	sets := map[string]string{
		"seq":                  `seq = 30`,
		"occurred_at":          `occurred_at = ?`,
		"actor_type":           `actor_type = actor_type || 'x'`,
		"actor_id":             `actor_id = actor_id || 'x'`,
		"action":               `action = action || 'x'`,
		"target_type":          `target_type = target_type || 'x'`,
		"target_id":            `target_id = target_id || 'x'`,
		"request_id":           `request_id = request_id || 'x'`,
		"ip":                   `ip = ip || 'x'`,
		"user_agent":           `user_agent = user_agent || 'x'`,
		"diff":                 `diff = '{"after":{"n":"33"}}'`,
		"diff to invalid JSON": `diff = 'not json'`,
		"reason":               `reason = reason || 'x'`,
		"prev_hash":            `prev_hash = '` + strings.Repeat("b", 64) + `'`,
		"hash":                 `hash = '` + strings.Repeat("c", 64) + `'`,
	}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		es := seedChain(t, db, 4)
		owner := allowAuditTampering(t, db)
		for col, set := range sets {
			var args []any
			if strings.Contains(set, "?") {
				args = append(args, es[2].OccurredAt.Add(time.Second))
			}
			exec(t, owner, `UPDATE audit_entries SET `+set+` WHERE seq = 3`, args...)
			if res := verify(t, db); res.FirstBadSeq != 3 {
				t.Errorf("%s edited: FirstBadSeq = %d (%s), want 3", col, res.FirstBadSeq, res.Problem)
			}
			// Put the original back for the next column.
			exec(t, owner, `DELETE FROM audit_entries WHERE seq IN (3, 30)`)
			insertEntry(t, owner, es[2])
			if res := verify(t, db); !res.OK() {
				t.Fatalf("restoring entry 3 after %s: %+v", col, res)
			}
		}
	})
}

func TestVerifyAuditChain_NoFalseAlarmWhileEntriesAreAppended(t *testing.T) {
	// Verification runs on a live portal: entries appended while it walks
	// the chain are not tampering.
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 3)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var writeErr atomic.Value
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
						return models.Change{Action: "test.live"}, nil
					}); err != nil {
						writeErr.Store(err)
						return
					}
				}
			}()
		}
		var bad []models.VerifyResult
		for i := 0; i < 60; i++ {
			res, err := db.VerifyAuditChain(ctx, nil)
			if err != nil {
				t.Errorf("verify: %v", err)
				break
			}
			if !res.OK() {
				bad = append(bad, res)
			}
		}
		stop.Store(true)
		wg.Wait()
		if err := writeErr.Load(); err != nil {
			t.Fatalf("writer: %v", err)
		}
		if len(bad) > 0 {
			t.Errorf("%d of 60 verifications reported an intact, growing chain as broken; first: %+v", len(bad), bad[0])
		}
		if res := verify(t, db); !res.OK() || res.Checked < 4 {
			t.Errorf("final verification: %+v", res)
		}
	})
}
