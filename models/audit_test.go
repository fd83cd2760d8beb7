package models_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// createMemberChange inserts a member inside an Apply and describes it.
func createMemberChange(id, email string) func(tx *gorm.DB) (models.Change, error) {
	return func(tx *gorm.DB) (models.Change, error) {
		now := models.Now()
		m := models.TeamMember{ID: id, EmailAddress: email, Status: models.MemberActive, Role: models.RoleAuditor,
			CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&m).Error; err != nil {
			return models.Change{}, err
		}
		return models.Change{Action: "team.create", Target: m.AuditTarget(),
			After: map[string]any{"email_address": email, "role": "auditor"}}, nil
	}
}

func memberExists(t *testing.T, db *models.DB, id string) bool {
	t.Helper()
	var n int64
	if err := db.Gorm().Model(&models.TeamMember{}).Where("id = ?", id).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestApply_ChangeAndEntryCommitTogether(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		id := models.NewMemberID()
		if err := db.Apply(ctx, systemOrigin, createMemberChange(id, "a@example.com")); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !memberExists(t, db, id) {
			t.Fatal("the change was not committed")
		}
		es := entries(t, db)
		if len(es) != 1 {
			t.Fatalf("want 1 audit entry, got %d", len(es))
		}
		e := es[0]
		if e.Seq != 1 || e.Action != "team.create" || e.TargetType != "team_member" || e.TargetID != id {
			t.Errorf("entry = seq %d %s %s/%s", e.Seq, e.Action, e.TargetType, e.TargetID)
		}
		if e.ActorType != models.ActorSystem || e.ActorID != "ledgerdesk" || e.RequestID != "req-test" ||
			e.IP != "192.0.2.1" || e.UserAgent != "models-test" {
			t.Errorf("origin not recorded: %+v", e)
		}
		if h := head(t, db); h.Seq != 1 || h.Hash != e.Hash {
			t.Errorf("chain head = %d/%s, want 1/%s", h.Seq, h.Hash, e.Hash)
		}
	})
}

func TestApply_FailedChangeLeavesNoEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.before", "1")
		id := models.NewMemberID()
		boom := errors.New("boom")
		err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			if _, err := createMemberChange(id, "b@example.com")(tx); err != nil {
				t.Fatalf("insert inside fn: %v", err)
			}
			return models.Change{Action: "team.create"}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Apply returned %v, want fn's error", err)
		}
		if memberExists(t, db, id) {
			t.Error("the failed change was committed")
		}
		if es := entries(t, db); len(es) != 1 {
			t.Errorf("want only the earlier entry, got %d entries", len(es))
		}
		if h := head(t, db); h.Seq != 1 {
			t.Errorf("chain head moved to %d", h.Seq)
		}
		// The next entry takes the next seq: the failure left no gap.
		record(t, db, "test.after", "2")
		if es := entries(t, db); len(es) != 2 || es[1].Seq != 2 {
			t.Errorf("after a failed change the next entry is not seq 2: %+v", es)
		}
	})
}

func TestApply_EntryThatCannotBeWrittenUndoesTheChange(t *testing.T) {
	cases := map[string]func(c models.Change) models.Change{
		"no action": func(c models.Change) models.Change { c.Action = ""; return c },
		"diff not encodable": func(c models.Change) models.Change {
			c.After = map[string]any{"role": make(chan int)}
			return c
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *models.DB) {
				id := models.NewMemberID()
				err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
					c, err := createMemberChange(id, "c@example.com")(tx)
					return spoil(c), err
				})
				if err == nil {
					t.Fatal("Apply succeeded without an audit entry")
				}
				if memberExists(t, db, id) {
					t.Error("the change stayed although its entry was not written")
				}
				if n := countRows(t, db, "audit_entries"); n != 0 {
					t.Errorf("%d audit entries written", n)
				}
				if h := head(t, db); h.Seq != 0 || h.Hash != models.GenesisHash {
					t.Errorf("chain head moved: %+v", h)
				}
			})
		})
	}
}

func TestApply_DiffKeepsOnlyChangedFields(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Action: "team.update", Target: models.Target{Type: "team_member", ID: "x"},
				Before: map[string]any{"role": "auditor", "status": "active", "email_address": "a@example.com", "gone": 1},
				After:  map[string]any{"role": "admin", "status": "active", "email_address": "a@example.com", "added": true},
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		e := entries(t, db)[0]
		want := `{"before":{"gone":1,"role":"auditor"},"after":{"added":true,"role":"admin"}}`
		if e.Diff != want {
			t.Errorf("diff = %s\nwant   %s", e.Diff, want)
		}
		if got := e.DecodeDiff().ChangedFields(); strings.Join(got, ",") != "added,gone,role" {
			t.Errorf("changed fields = %v", got)
		}
	})
}

func TestApply_DiffWithoutChangesIsEmpty(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			same := map[string]any{"role": "admin", "ssn_full": "123-45-6789"}
			return models.Change{Action: "team.update", Before: same, After: same}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := entries(t, db)[0].Diff; d != `{}` {
			t.Errorf("diff = %s, want {}", d)
		}
	})
}

type identityDoc struct {
	SSNFull string `json:"ssn_full"`
	Country string `json:"country"`
}

func TestApply_PersonalValuesAreRedactedAtAnyDepth(t *testing.T) {
	raw := []string{"hunter2-raw-password", "123-45-6789", "1990-01-02", "+15555550123", "jane.raw@example.com",
		"Janeraw", "Doeraw", "1 Raw Street", "94107", "user-sandbox-rawtoken", "987-65-4321", "555-44-3333", "6789x"}
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Action: "user.update", Target: models.Target{Type: "end_user", ID: "7"},
				Before: map[string]any{
					"password":      "old-value-raw",
					"date_of_birth": "1980-12-12",
				},
				After: map[string]any{
					"password":      raw[0],
					"ssn_full":      raw[1],
					"date_of_birth": raw[2],
					"phone_numbers": []string{raw[3]},
					"emails":        []any{raw[4]},
					"user_token":    raw[9],
					"consumer_report_user_identity": map[string]any{
						"first_name": raw[5],
						"last_name":  raw[6],
						"primary_address": map[string]any{
							"street": raw[7], "postal_code": raw[8], "country": "US",
						},
						"ssn_last_4": raw[12],
					},
					// Personal values below plain maps: in a list, in a
					// typed map and in a struct.
					"identities": []any{map[string]any{"ssn_full": raw[10]}},
					"typed":      map[string]string{"ssn_full": raw[11], "country": "US"},
					"document":   identityDoc{SSNFull: raw[10], Country: "US"},
					"role":       "admin",
				},
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := db.Gorm().Raw(`SELECT diff FROM audit_entries WHERE seq = 1`).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		for _, v := range append(raw, "old-value-raw", "1980-12-12") {
			if strings.Contains(stored, v) {
				t.Errorf("stored diff holds the personal value %q: %s", v, stored)
			}
		}
		var d struct {
			Before map[string]any `json:"before"`
			After  map[string]any `json:"after"`
		}
		if err := json.Unmarshal([]byte(stored), &d); err != nil {
			t.Fatalf("diff is not JSON: %v", err)
		}
		const r = "[redacted]"
		at := func(v any, path ...any) any {
			for _, p := range path {
				switch k := p.(type) {
				case string:
					m, _ := v.(map[string]any)
					v = m[k]
				case int:
					l, _ := v.([]any)
					if k >= len(l) {
						return nil
					}
					v = l[k]
				}
			}
			return v
		}
		checks := []struct {
			path []any
			want any
		}{
			{[]any{"before", "password"}, r},
			{[]any{"before", "date_of_birth"}, r},
			{[]any{"after", "password"}, r},
			{[]any{"after", "ssn_full"}, r},
			{[]any{"after", "date_of_birth"}, r},
			{[]any{"after", "phone_numbers"}, r},
			{[]any{"after", "emails"}, r},
			{[]any{"after", "user_token"}, r},
			{[]any{"after", "consumer_report_user_identity", "first_name"}, r},
			{[]any{"after", "consumer_report_user_identity", "last_name"}, r},
			{[]any{"after", "consumer_report_user_identity", "ssn_last_4"}, r},
			{[]any{"after", "consumer_report_user_identity", "primary_address"}, r},
			{[]any{"after", "identities", 0, "ssn_full"}, r},
			{[]any{"after", "typed", "ssn_full"}, r},
			{[]any{"after", "typed", "country"}, "US"},
			{[]any{"after", "document", "ssn_full"}, r},
			{[]any{"after", "document", "country"}, "US"},
			{[]any{"after", "role"}, "admin"},
		}
		root := map[string]any{"before": d.Before, "after": d.After}
		for _, c := range checks {
			if got := at(root, c.path...); got != c.want {
				t.Errorf("%v = %v, want %v", c.path, got, c.want)
			}
		}
	})
}

func TestApply_SeqIsGaplessAndEachEntryLinksToThePrevious(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for i := 0; i < 6; i++ {
			if i == 3 {
				// A failed change in the middle must not use up a seq.
				_ = db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
					return models.Change{}, errors.New("refused")
				})
			}
			record(t, db, "test.step", string(rune('a'+i)))
		}
		es := entries(t, db)
		if len(es) != 6 {
			t.Fatalf("want 6 entries, got %d", len(es))
		}
		prev := models.GenesisHash
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("entry %d has seq %d", i, e.Seq)
			}
			if e.PrevHash != prev {
				t.Errorf("seq %d: prev_hash %s, want %s", e.Seq, e.PrevHash, prev)
			}
			if got := testdb.AuditHash(e); got != e.Hash {
				t.Errorf("seq %d: stored hash %s, recomputed %s", e.Seq, e.Hash, got)
			}
			prev = e.Hash
		}
		if h := head(t, db); h.Seq != 6 || h.Hash != prev {
			t.Errorf("chain head = %d/%s, want 6/%s", h.Seq, h.Hash, prev)
		}
	})
}

func TestApply_LongOrBinaryUserAgentIsStoredCleanly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		o := systemOrigin
		o.UserAgent = "agent\x00" + strings.Repeat("é", 400)
		if err := db.Apply(ctx, o, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Action: "test.ua"}, nil
		}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		e := entries(t, db)[0]
		if len(e.UserAgent) > 512 || strings.Contains(e.UserAgent, "\x00") || !strings.HasPrefix(e.UserAgent, "agenté") {
			t.Errorf("user agent stored as %d bytes: %q…", len(e.UserAgent), e.UserAgent[:10])
		}
		if testdb.AuditHash(e) != e.Hash {
			t.Error("hash does not match the stored user agent")
		}
	})
}

func TestAuditEntries_ForTargetAndByActorNewestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.a", "1")
		record(t, db, "test.b", "2")
		record(t, db, "test.c", "1")
		got, err := db.AuditHistory(ctx, models.FilterForTarget(models.Target{Type: "test", ID: "1"}), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 1 {
			t.Errorf("entries for target: %+v", got)
		}
		got, err = db.AuditHistory(ctx, models.FilterForActor(models.SystemActor), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 2 {
			t.Errorf("entries by actor: %+v", got)
		}
	})
}
