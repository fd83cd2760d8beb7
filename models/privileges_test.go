package models_test

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestAppRole_CannotUndoTheAuditGuard(t *testing.T) {
	db := testdb.Postgres(t)
	before := seedChain(t, db, 3)
	for _, s := range []string{
		// History.
		`UPDATE audit_entries SET reason = 'edited' WHERE seq = 2`,
		`DELETE FROM audit_entries WHERE seq = 3`,
		`TRUNCATE audit_entries`,
		`UPDATE audit_checkpoints SET signature = ''`,
		`DELETE FROM audit_checkpoints`,
		`TRUNCATE audit_checkpoints`,
		// The guard.
		`DROP TRIGGER audit_entries_no_update_delete ON audit_entries`,
		`DROP TRIGGER audit_entries_no_truncate ON audit_entries`,
		`ALTER TABLE audit_entries DISABLE TRIGGER USER`,
		`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete`,
		`DROP FUNCTION audit_entries_append_only() CASCADE`,
		`CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER audit_entries_rewrite BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()`,
		`DROP TABLE audit_entries`,
		`ALTER TABLE audit_entries RENAME TO audit_entries_old`,
		`ALTER TABLE audit_entries OWNER TO CURRENT_USER`,
		// The chain head only moves.
		`INSERT INTO audit_chain_head (id, seq, hash, updated_at) VALUES (2, 0, '', now())`,
		`UPDATE audit_chain_head SET id = 2`,
		`DELETE FROM audit_chain_head`,
		`TRUNCATE audit_chain_head`,
		// No DDL, no migrations, no tombstone removal.
		`CREATE TABLE audit_entries_copy (seq bigint)`,
		`ALTER TABLE end_users ADD COLUMN note text`,
		`CREATE INDEX end_users_note_idx ON end_users (client_user_id)`,
		`DELETE FROM schema_migrations`,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'x', now())`,
		`DELETE FROM end_users`,
		`INSERT INTO institutions (id, name) VALUES ('ins_x', 'X')`,
	} {
		err := db.Gorm().Exec(s).Error
		if err == nil {
			t.Errorf("the portal's role may: %s", s)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "permission denied") && !strings.Contains(msg, "must be owner") {
			t.Errorf("%s: refused for another reason: %v", s, err)
		}
	}
	if after := entries(t, db); !reflect.DeepEqual(normalize(before), normalize(after)) {
		t.Errorf("history changed:\nbefore %+v\nafter  %+v", before, after)
	}
	var triggers int64
	if err := db.Gorm().Raw(`SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'audit_entries'::regclass
		AND NOT tgisinternal AND tgenabled = 'O'`).Scan(&triggers).Error; err != nil || triggers != 2 {
		t.Errorf("%d append-only triggers enabled (%v), want 2", triggers, err)
	}
	if res := verify(t, db); !res.OK() || res.Checked != 3 {
		t.Errorf("chain: %+v", res)
	}
}

func TestGrantApp_CoversEveryTableTheMigrationsCreate(t *testing.T) {
	db := testdb.Postgres(t)
	owner := testdb.Owner(t, db)
	var tables []string
	if err := owner.Gorm().Raw(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	listed := models.AppPrivileges()
	for _, table := range tables {
		if _, ok := listed[table]; !ok {
			t.Errorf("table %s is not in appPrivileges: the portal's role gets nothing on it", table)
		}
		delete(listed, table)
	}
	for table := range listed {
		t.Errorf("appPrivileges lists %s, which no migration creates", table)
	}

	// Granting again changes nothing and covers every table.
	rep, err := owner.GrantApp(ctx, testdb.AppRole)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Foreign) != 0 || !sort.StringsAreSorted(rep.Tables) || strings.Join(rep.Tables, " ") != strings.Join(tables, " ") {
		t.Errorf("grant report %+v, want every table of %v", rep, tables)
	}
	// Every table that draws ids can insert: its sequence is usable.
	var unusable []string
	err = owner.Gorm().Raw(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'S' AND n.nspname = current_schema()
		AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(?, c.oid, 'USAGE') END ORDER BY 1`, testdb.AppRole).Scan(&unusable).Error
	if err != nil || len(unusable) != 0 {
		t.Errorf("sequences the portal cannot draw from: %v (%v)", unusable, err)
	}
	// The audit tables: read and append, nothing else.
	for _, table := range []string{"audit_entries", "audit_checkpoints"} {
		for priv, want := range map[string]bool{"SELECT": true, "INSERT": true, "UPDATE": false, "DELETE": false,
			"TRUNCATE": false, "TRIGGER": false, "REFERENCES": false} {
			var got bool
			owner.Gorm().Raw(`SELECT has_table_privilege(?, ?, ?)`, testdb.AppRole, table, priv).Scan(&got)
			if got != want {
				t.Errorf("%s on %s: %v, want %v", priv, table, got, want)
			}
		}
	}
}

func TestGrantApp_RefusesTheOwnerAnUnknownRoleAndSQLite(t *testing.T) {
	owner := testdb.Owner(t, testdb.Postgres(t))
	var me string
	owner.Gorm().Raw(`SELECT current_user`).Scan(&me)
	if _, err := owner.GrantApp(ctx, me); err == nil || !strings.Contains(err.Error(), "owner") {
		t.Errorf("grant to the owner itself: %v", err)
	}
	if _, err := owner.GrantApp(ctx, "ledgerdesk_no_such_role"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("grant to a missing role: %v", err)
	}
	if _, err := testdb.SQLite(t).GrantApp(ctx, testdb.AppRole); err == nil {
		t.Error("grant on SQLite succeeded")
	}
}

func TestRoleProblems_NoneForThePortalsRoleAndOneForTheOwner(t *testing.T) {
	if p, err := testdb.SQLite(t).RoleProblems(ctx); err != nil || len(p) != 0 {
		t.Errorf("SQLite: %v %v", p, err)
	}
	db := testdb.Postgres(t)
	// Every PostgreSQL test runs as the portal's role, as serve does.
	var me struct {
		User  string
		Super bool
	}
	db.Gorm().Raw(`SELECT current_user AS user, rolsuper AS super FROM pg_roles WHERE rolname = current_user`).Scan(&me)
	if me.User != testdb.AppRole || me.Super {
		t.Fatalf("testdb.Postgres connects as %+v, want %s", me, testdb.AppRole)
	}
	if p, err := db.RoleProblems(ctx); err != nil || len(p) != 0 {
		t.Errorf("the portal's role: %+v %v", p, err)
	}
	p, err := testdb.Owner(t, db).RoleProblems(ctx)
	if err != nil || len(p) != 1 {
		t.Fatalf("the owner: %+v %v, want one problem", p, err)
	}
	if !strings.Contains(p[0].Problem, "superuser") && !strings.Contains(p[0].Problem, "owner of audit_entries") {
		t.Errorf("the owner's problem: %q", p[0].Problem)
	}
	if !strings.Contains(p[0].Fix, "--grant-to") {
		t.Errorf("the fix %q does not say how", p[0].Fix)
	}
}

func TestRoleProblems_NamesExtraAuditPrivilegesAndGrantAppTakesThemAway(t *testing.T) {
	db := testdb.Postgres(t)
	owner := testdb.Owner(t, db)
	exec(t, owner, `GRANT UPDATE, DELETE, TRUNCATE, TRIGGER ON audit_entries TO `+testdb.AppRole)
	exec(t, owner, `GRANT INSERT ON institutions TO `+testdb.AppRole)
	p, err := db.RoleProblems(ctx)
	if err != nil || len(p) != 1 {
		t.Fatalf("problems %+v %v, want one", p, err)
	}
	if !strings.Contains(p[0].Problem, "UPDATE, DELETE, TRUNCATE, TRIGGER on audit_entries") ||
		!strings.Contains(p[0].Fix, "--grant-to "+testdb.AppRole) {
		t.Errorf("problem %+v", p[0])
	}

	exec(t, owner, `GRANT CREATE ON SCHEMA `+schemaOf(t, owner)+` TO `+testdb.AppRole)
	if p, _ := db.RoleProblems(ctx); len(p) != 2 || !strings.Contains(p[1].Problem, "may create tables") {
		t.Errorf("problems with CREATE on the schema: %+v", p)
	}

	if _, err := owner.GrantApp(ctx, testdb.AppRole); err != nil {
		t.Fatal(err)
	}
	if p, err := db.RoleProblems(ctx); err != nil || len(p) != 0 {
		t.Errorf("after granting again: %+v %v", p, err)
	}
	if err := db.Gorm().Exec(`INSERT INTO institutions (id, name) VALUES ('ins_x', 'X')`).Error; err == nil {
		t.Error("an extra privilege on another table survived granting again")
	}
}

func TestRoleProblems_TheAuditLogsOwner(t *testing.T) {
	db := testdb.Postgres(t)
	owner := testdb.Owner(t, db)
	exec(t, owner, `ALTER TABLE audit_entries OWNER TO `+testdb.AppRole)
	p, err := db.RoleProblems(ctx)
	if err != nil || len(p) != 1 {
		t.Fatalf("problems %+v %v, want one", p, err)
	}
	if !strings.Contains(p[0].Problem, `"`+testdb.AppRole+`", the owner of audit_entries`) || !strings.Contains(p[0].Fix, "--grant-to") {
		t.Errorf("problem %+v", p[0])
	}
	if _, err := owner.GrantApp(ctx, testdb.AppRole); err == nil || !strings.Contains(err.Error(), "owns audit_entries") {
		t.Errorf("granting to the log's owner: %v", err)
	}
}

func schemaOf(t *testing.T, db *models.DB) string {
	t.Helper()
	var s string
	if err := db.Gorm().Raw(`SELECT current_schema()`).Scan(&s).Error; err != nil {
		t.Fatal(err)
	}
	return s
}

// The operations guide shows the grants an operator's role gets; they are
// the ones GrantApp gives.
func TestGrantApp_OperationsGuideShowsTheGrantsGiven(t *testing.T) {
	guide, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, line := range strings.Split(string(guide), "\n") {
		privs, rest, ok := strings.Cut(strings.TrimPrefix(line, "GRANT "), " ON TABLE ")
		if !strings.HasPrefix(line, "GRANT ") || !ok {
			continue
		}
		tables, _, _ := strings.Cut(rest, " TO ")
		for _, table := range strings.Split(tables, ", ") {
			shown[table] = privs
		}
	}
	if want := models.AppPrivileges(); !reflect.DeepEqual(shown, want) {
		t.Errorf("docs/operations.md shows %v,\nGrantApp grants %v", shown, want)
	}
}
