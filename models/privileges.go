package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// On PostgreSQL the portal serves as a role of its own, not as the tables'
// owner: an owner (or a superuser) can drop the triggers that keep the
// audit log append-only, so a portal connected as one could rewrite
// history. The owner migrates; GrantApp gives the portal's role what the
// portal does with each table and nothing more.

// appPrivileges is, for every table the migrations create, what the
// portal's role may do with it: the statements the portal issues on it,
// no more. A migration that adds a table adds it here (a test fails
// until it does).
var appPrivileges = map[string]string{
	// Append-only: entries are inserted and read, never changed.
	"audit_entries":     "SELECT, INSERT",
	"audit_checkpoints": "SELECT, INSERT",
	// Which end users each access entry is about: indexed, never changed.
	"pii_access": "SELECT, INSERT",
	// The head is the seq and hash of the newest entry, moved by every
	// append (and locked FOR UPDATE, which needs an UPDATE privilege).
	// Moving it cannot rewrite history: the entries cannot be changed or
	// removed, and a head that does not point at the newest entry breaks
	// the chain where verification finds it (see README, "Run it on
	// PostgreSQL").
	"audit_chain_head": "SELECT, UPDATE (seq, hash, updated_at)",
	// Read to tell whether the schema is current; only the owner migrates.
	"schema_migrations": "SELECT",

	// A removed end user stays as a tombstone: no DELETE.
	"end_users": "SELECT, INSERT, UPDATE",
	"items":     "SELECT, INSERT, UPDATE, DELETE",
	// Filled by `ledgerdesk seed`, which runs as the owner.
	"institutions": "SELECT",

	"team_members":       "SELECT, INSERT, UPDATE",
	"team_invitations":   "SELECT, INSERT, UPDATE",
	"member_mfa":         "SELECT, INSERT, UPDATE, DELETE",
	"mfa_recovery_codes": "SELECT, INSERT, UPDATE, DELETE",
	"settings":           "SELECT, INSERT, UPDATE",
	"api_keys":           "SELECT, INSERT, UPDATE",

	"sessions": "SELECT, INSERT, UPDATE, DELETE",
	// Failures are counted, cleared on success and purged when old.
	"login_failures": "SELECT, INSERT, DELETE",

	"webhook_endpoints":  "SELECT, INSERT, UPDATE, DELETE",
	"webhook_events":     "SELECT, INSERT",
	"webhook_deliveries": "SELECT, INSERT, UPDATE, DELETE",
	"webhook_attempts":   "SELECT, INSERT, DELETE",

	// Derived figures, replaced by each refresh.
	"overview_snapshot": "SELECT, INSERT, UPDATE",
	"overview_days":     "SELECT, INSERT, UPDATE",

	// A job's row moves through its states; its targets get outcomes.
	// Neither is deleted by the portal.
	"batch_jobs":        "SELECT, INSERT, UPDATE",
	"batch_job_targets": "SELECT, INSERT, UPDATE",
	// Verifications' progress and outcome; the chain itself is only read.
	"audit_verifications": "SELECT, INSERT, UPDATE",
	// A request moves from pending to its outcome; none is deleted.
	"approval_requests": "SELECT, INSERT, UPDATE",
	// A member's provider accounts are linked, never edited; a pending
	// OpenID Connect sign-in is deleted when its answer comes or it expires.
	"oidc_identities": "SELECT, INSERT",
	"oidc_states":     "SELECT, INSERT, DELETE",

	// Passkeys: a member's handle stays; their passkeys are
	// registered, used (counter, last use) and removed; a
	// ceremony is stored when begun and deleted when answered or stale.
	"passkey_handles":    "SELECT, INSERT",
	"member_passkeys":    "SELECT, INSERT, UPDATE, DELETE",
	"passkey_ceremonies": "SELECT, INSERT, DELETE",
}

// appFunctions are the functions the portal's role may call: each hands
// it a figure only the tables' owner can read (see its migration).
var appFunctions = []string{"search_trigram_shares()"}

// AppPrivileges returns what GrantApp grants on each of the portal's
// tables, as GRANT spells it.
func AppPrivileges() map[string]string {
	out := make(map[string]string, len(appPrivileges))
	for t, p := range appPrivileges {
		out[t] = p
	}
	return out
}

// auditTables are the tables whose rows are history: the portal's role
// may only add to them and read them.
var auditTables = []string{"audit_entries", "audit_checkpoints"}

// GrantReport is what GrantApp did.
type GrantReport struct {
	Schema    string
	Tables    []string // the portal's tables, each granted its privileges
	Sequences []string // granted USAGE, for the inserts that draw ids
	Foreign   []string // tables of the schema that are not the portal's: nothing granted
}

// GrantApp gives role exactly what the portal needs on every table and
// sequence of the current schema, and takes away anything else it had
// there; run it as the tables' owner, after migrating. It can run any
// number of times: each run leaves the same privileges, and covers the
// tables migrations added since. It refuses a role that does not exist,
// is a superuser (privileges cannot limit one), or owns any table of the
// schema, directly or through membership.
func (db *DB) GrantApp(ctx context.Context, role string) (GrantReport, error) {
	var rep GrantReport
	if !db.Dialect.hasRoles() {
		return rep, errors.New("grant: roles and privileges are PostgreSQL's; the embedded database has none")
	}
	if role == "" || !storableText(role) {
		return rep, errors.New("grant: name the portal's role")
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Two runs at once on one schema would update the same catalog rows.
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(4242002, hashtext(current_schema()))`).Error; err != nil {
			return err
		}
		var who struct {
			Exists, Super, IsMe bool
			Schema              string
		}
		err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = @role) AS exists,
				COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = @role), false) AS super,
				@role = current_user AS is_me, COALESCE(current_schema(), '') AS schema`,
			map[string]any{"role": role}).Scan(&who).Error
		if err != nil {
			return fmt.Errorf("look up role: %w", err)
		}
		switch {
		case !who.Exists:
			return fmt.Errorf("role %q does not exist: create it first (CREATE ROLE %s LOGIN PASSWORD '...')", role, pgx.Identifier{role}.Sanitize())
		case who.IsMe:
			return fmt.Errorf("role %q is the one migrating, the tables' owner: grant to the portal's own role", role)
		case who.Super:
			return fmt.Errorf("role %q is a superuser: privileges cannot limit it; the portal needs a role of its own", role)
		case who.Schema == "":
			return errors.New("no current schema: check the search_path of the database URL")
		}
		rep.Schema = who.Schema
		// The schema's tables and sequences (with the table whose column
		// owns each sequence), and whether the role owns them.
		var rels []struct {
			Name, Kind, Tab string
			Owned           bool
		}
		err = tx.Raw(`SELECT c.relname AS name, c.relkind AS kind, COALESCE(t.relname, '') AS tab,
				pg_has_role(?, c.relowner, 'MEMBER') AS owned
			FROM pg_class c
			LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
				AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
			LEFT JOIN pg_class t ON t.oid = d.refobjid
			WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind IN ('r', 'p', 'S')
			ORDER BY c.relname`, role).Scan(&rels).Error
		if err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		var tables, owned []string
		var seqs []struct{ Seq, Tab string }
		for _, r := range rels {
			if r.Kind == "S" {
				seqs = append(seqs, struct{ Seq, Tab string }{r.Name, r.Tab})
				continue
			}
			tables = append(tables, r.Name)
			if r.Owned {
				owned = append(owned, r.Name)
			}
		}
		if len(owned) > 0 {
			return fmt.Errorf("role %q owns %s (or is a member of the role that does): an owner can drop the audit log's triggers; the portal needs a role that owns nothing",
				role, strings.Join(owned, ", "))
		}

		// One script, one round trip: identifiers are quoted, and nothing
		// in it comes from anywhere but the catalog and appPrivileges.
		grantee := pgx.Identifier{role}.Sanitize()
		schema := pgx.Identifier{who.Schema}.Sanitize()
		var sql strings.Builder
		// Use the schema's objects, create none (PUBLIC's CREATE on public,
		// which PostgreSQL before 15 grants, is the operator's to revoke),
		// and hold nothing but what follows.
		fmt.Fprintf(&sql, "REVOKE CREATE ON SCHEMA %s FROM %s;\n", schema, grantee)
		fmt.Fprintf(&sql, "GRANT USAGE ON SCHEMA %s TO %s;\n", schema, grantee)
		inserts := map[string]bool{}
		for _, t := range tables {
			fmt.Fprintf(&sql, "REVOKE ALL ON TABLE %s.%s FROM %s;\n", schema, pgx.Identifier{t}.Sanitize(), grantee)
			privs, ours := appPrivileges[t]
			if !ours {
				rep.Foreign = append(rep.Foreign, t)
				continue
			}
			fmt.Fprintf(&sql, "GRANT %s ON TABLE %s.%s TO %s;\n", privs, schema, pgx.Identifier{t}.Sanitize(), grantee)
			rep.Tables = append(rep.Tables, t)
			inserts[t] = strings.Contains(privs, "INSERT")
		}
		for _, s := range seqs {
			fmt.Fprintf(&sql, "REVOKE ALL ON SEQUENCE %s.%s FROM %s;\n", schema, pgx.Identifier{s.Seq}.Sanitize(), grantee)
			if inserts[s.Tab] {
				fmt.Fprintf(&sql, "GRANT USAGE ON SEQUENCE %s.%s TO %s;\n", schema, pgx.Identifier{s.Seq}.Sanitize(), grantee)
				rep.Sequences = append(rep.Sequences, s.Seq)
			}
		}
		for _, f := range appFunctions {
			fmt.Fprintf(&sql, "REVOKE ALL ON FUNCTION %s.%s FROM %s;\n", schema, f, grantee)
			fmt.Fprintf(&sql, "GRANT EXECUTE ON FUNCTION %s.%s TO %s;\n", schema, f, grantee)
		}
		if err := tx.Exec(sql.String()).Error; err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return GrantReport{}, fmt.Errorf("grant to %s: %w", role, err)
	}
	return rep, nil
}

// RoleProblem is one way the role the portal is connected as can do more
// than it should, and how to fix it.
type RoleProblem struct {
	Problem string
	Fix     string
}

// roleFix is how to give the portal a role of its own.
const roleFix = "connect the portal as a role of its own: run `ledgerdesk migrate --grant-to ROLE` with the owner's DATABASE_URL, " +
	"then serve with ROLE's (docs/operations.md: Run it on PostgreSQL)"

// RoleProblems checks the role this handle is connected as: a superuser,
// the owner of the audit log (or a member of the role that owns it), or a
// role that may change or remove its rows, add triggers to it or create
// tables can undo what the append-only triggers guard. The embedded
// database has no roles and no problems here.
func (db *DB) RoleProblems(ctx context.Context) ([]RoleProblem, error) {
	if !db.Dialect.hasRoles() {
		return nil, nil
	}
	var me struct {
		Role      string
		Super     bool
		Schema    string
		CanCreate bool
	}
	err := db.gorm.WithContext(ctx).Raw(`SELECT current_user AS role, rolsuper AS super,
			COALESCE(current_schema(), '') AS schema,
			COALESCE(has_schema_privilege(current_schema(), 'CREATE'), false) AS can_create
		FROM pg_roles WHERE rolname = current_user`).Scan(&me).Error
	if err != nil {
		return nil, fmt.Errorf("check the database role: %w", err)
	}
	if me.Super {
		return []RoleProblem{{
			Problem: fmt.Sprintf("the portal is connected as %q, a superuser: it bypasses every privilege and can drop the audit log's append-only triggers", me.Role),
			Fix:     roleFix,
		}}, nil
	}
	var out []RoleProblem
	owner := false
	for _, table := range auditTables {
		if owner {
			break // one warning says it
		}
		var t struct {
			Owner                             string
			Owns                              bool
			Update, Delete, Truncate, Trigger bool
		}
		err := db.gorm.WithContext(ctx).Raw(`SELECT tableowner AS owner, pg_has_role(current_user, tableowner, 'MEMBER') AS owns,
				has_table_privilege(c.oid, 'UPDATE') AS update, has_table_privilege(c.oid, 'DELETE') AS delete,
				has_table_privilege(c.oid, 'TRUNCATE') AS truncate, has_table_privilege(c.oid, 'TRIGGER') AS trigger
			FROM pg_tables p
			JOIN pg_class c ON c.relname = p.tablename
			JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
			WHERE p.schemaname = current_schema() AND p.tablename = ?`, table).Scan(&t).Error
		if err != nil {
			return nil, fmt.Errorf("check the database role: %w", err)
		}
		switch {
		case t.Owner == "":
			// Not migrated yet: nothing to own.
		case t.Owns && t.Owner == me.Role:
			owner = true
			out = append(out, RoleProblem{
				Problem: fmt.Sprintf("the portal is connected as %q, the owner of %s: it can drop the table's append-only triggers", me.Role, table),
				Fix:     roleFix,
			})
		case t.Owns:
			owner = true
			out = append(out, RoleProblem{
				Problem: fmt.Sprintf("the portal is connected as %q, a member of %q which owns %s: it can drop the table's append-only triggers", me.Role, t.Owner, table),
				Fix:     fmt.Sprintf("REVOKE %s FROM %s, or %s", pgx.Identifier{t.Owner}.Sanitize(), pgx.Identifier{me.Role}.Sanitize(), roleFix),
			})
		default:
			var can []string
			for _, p := range []struct {
				ok   bool
				name string
			}{{t.Update, "UPDATE"}, {t.Delete, "DELETE"}, {t.Truncate, "TRUNCATE"}, {t.Trigger, "TRIGGER"}} {
				if p.ok {
					can = append(can, p.name)
				}
			}
			if len(can) > 0 {
				out = append(out, RoleProblem{
					Problem: fmt.Sprintf("the portal's role %q has %s on %s: the audit log only needs SELECT and INSERT", me.Role, strings.Join(can, ", "), table),
					Fix:     fmt.Sprintf("run `ledgerdesk migrate --grant-to %s` with the owner's DATABASE_URL: it takes them away", me.Role),
				})
			}
		}
	}
	if me.CanCreate && !owner {
		out = append(out, RoleProblem{
			Problem: fmt.Sprintf("the portal's role %q may create tables in schema %s", me.Role, me.Schema),
			Fix:     fmt.Sprintf("REVOKE CREATE ON SCHEMA %s FROM PUBLIC, %s (PostgreSQL before 15 lets everyone create in public)", pgx.Identifier{me.Schema}.Sanitize(), pgx.Identifier{me.Role}.Sanitize()),
		})
	}
	return out, nil
}
