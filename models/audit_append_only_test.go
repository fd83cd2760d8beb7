package models_test

import (
	"reflect"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestAuditEntries_DatabaseRefusesToChangeHistory(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		before := seedChain(t, db, 3)
		stmts := []string{
			`UPDATE audit_entries SET reason = 'edited' WHERE seq = 2`,
			`UPDATE audit_entries SET seq = seq + 10`,
			`DELETE FROM audit_entries WHERE seq = 3`,
			`DELETE FROM audit_entries`,
		}
		if db.Dialect == models.Postgres {
			stmts = append(stmts, `TRUNCATE audit_entries`)
		}
		// On PostgreSQL the portal's role has no privilege to change
		// history, and the owner, which has, is stopped by the triggers.
		// SQLite has no roles: its triggers stop everyone.
		portalRefusal := "append-only"
		if db.Dialect == models.Postgres {
			portalRefusal = "permission denied"
		}
		for _, as := range []struct {
			who  string
			db   *models.DB
			want string
		}{{"the portal", db, portalRefusal}, {"the owner", testdb.Owner(t, db), "append-only"}} {
			for _, s := range stmts {
				err := as.db.Gorm().Exec(s).Error
				if err == nil {
					t.Errorf("%s: %s: accepted", as.who, s)
					continue
				}
				if !strings.Contains(err.Error(), as.want) {
					t.Errorf("%s: %s: refused for another reason: %v", as.who, s, err)
				}
			}
		}
		if after := entries(t, db); !reflect.DeepEqual(normalize(before), normalize(after)) {
			t.Errorf("history changed:\nbefore %+v\nafter  %+v", before, after)
		}
		if res := verify(t, db); !res.OK() || res.Checked != 3 {
			t.Errorf("chain after refused edits: %+v", res)
		}
	})
}

func TestAuditEntries_AppendsStillWorkUnderTheGuard(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 2)
		record(t, db, "test.more", "3")
		if n := countRows(t, db, "audit_entries"); n != 3 {
			t.Errorf("%d entries, want 3", n)
		}
	})
}

// normalize makes entries comparable across reads (time zones may differ).
func normalize(es []models.AuditEntry) []models.AuditEntry {
	out := make([]models.AuditEntry, len(es))
	for i, e := range es {
		e.OccurredAt = e.OccurredAt.UTC()
		out[i] = e
	}
	return out
}
