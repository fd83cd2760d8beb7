package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"
)

// How a bulk load into empty tables uses more than one core on
// PostgreSQL. A transaction runs on one connection, and PostgreSQL 15
// builds a GIN index on one core: loaded and indexed inside the load's
// transaction, ten million users took eleven minutes, the machine's second
// core idle for a third of the COPY and half of the index builds. So a
// bulk load into an empty end_users and items writes its rows into tables
// of a schema of its own, one table per connection of its own; each
// connection then indexes its table and takes what is left of the other's
// indexes; and inside the load's transaction the empty tables are dropped
// and the loaded ones moved into their place. The load's audit entry
// commits with that swap, so the load is still all or nothing: until the
// commit nobody sees the loaded rows, and a failure leaves the empty
// tables as they were.
//
// The swap commits only if the moved tables are defined exactly as the
// ones they replace (tableDefinition): a property the copy does not carry
// over fails the load instead of being lost. Tables that something else
// depends on in ways the swap would have to re-point (another table's
// foreign key, a view, a trigger, a policy) load inside the transaction
// as before (bulk_postgres.go).

// stagedLockClass is the advisory lock class (4242001 and 4242002 are
// dialect.go's and privileges.go's) that keeps one staged load at a time
// per schema.
const stagedLockClass = 4242003

// stagedTables are the tables a staged load fills and swaps in, the
// referenced one first.
var stagedTables = []string{"end_users", "items"}

// beforeSwap runs on a load connection just before the swap, with the
// load schema's name: tests change a loaded table there, as a property
// the swap did not carry over would.
var beforeSwap = func(context.Context, *pgx.Conn, string) error { return nil }

type stagedWriter struct {
	db     *DB
	schema string // where end_users and items live
	load   string // the schema the rows are loaded into
	conns  []*pgx.Conn

	old      tableShapes // the empty tables, read under the load's lock
	noteMu   sync.Mutex
	noteFn   func(string)
	loads    []*tableLoad
	queue    indexQueue
	stopOnce sync.Once
	working  sync.WaitGroup
	cancel   context.CancelFunc
	failMu   sync.Mutex
	failed   error
	cleanUps []func()
}

// stagedIndex is an index of the empty tables, to build on the loaded ones.
type stagedIndex struct {
	Tab, Name, Def string
	Qualified      string // the table's name as Def writes it
	// Contype and Conname name the constraint the index backs, if any:
	// it is added on the index once built.
	Contype, Conname string
}

// stagedConstraint is a constraint that needs no index of its own (a
// foreign key), added to the loaded tables once their indexes are built.
type stagedConstraint struct {
	Tab, Name, Def string
	Validated      bool
}

// tableShapes is what the swap carries over from the empty tables.
type tableShapes struct {
	indexes     []stagedIndex
	constraints []stagedConstraint
	sequences   []struct{ Seq, Tab, Col string } // sequences owned by a column
	owners      map[string]string
	comments    map[string]string
	grants      map[tableGrant]bool
	definition  string
}

// newStagedWriter starts a staged load, or returns nil when the tables are
// not empty or cannot be swapped: the caller then loads inside the
// transaction. It takes tx's lock on the two tables.
func newStagedWriter(ctx context.Context, db *DB, tx *gorm.DB, note func(string)) (*stagedWriter, error) {
	if db.pool == nil {
		return nil, nil
	}
	var schema string
	err := tx.Raw(`SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = 'end_users'::regclass`).Scan(&schema).Error
	if err != nil {
		return nil, fmt.Errorf("find end_users: %w", err)
	}
	// Asked outside tx, which must hold no lock on the tables while this
	// load waits for another one: the database cannot see that wait, nor
	// so a deadlock through it.
	var empty bool
	if err := db.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM end_users)`).Scan(&empty); err != nil {
		return nil, fmt.Errorf("count end users: %w", err)
	}
	if !empty {
		return nil, nil
	}
	w := &stagedWriter{db: db, schema: schema, noteFn: note, cancel: func() {}}
	ok, err := w.start(ctx, tx)
	if err != nil || !ok {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *stagedWriter) start(ctx context.Context, tx *gorm.DB) (bool, error) {
	w.cleanUps = append(w.cleanUps, func() {
		for _, c := range w.conns {
			c.Close(context.Background())
		}
	})
	for range stagedTables {
		c, err := w.db.pool.Acquire(ctx)
		if err != nil {
			return false, fmt.Errorf("connect for the load: %w", err)
		}
		w.conns = append(w.conns, c.Hijack())
	}
	lead := w.conns[0]
	// Another staged load into this schema finishes first; then the tables
	// are no longer empty, and this one loads inside its transaction.
	if _, err := lead.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, stagedLockClass, w.schema); err != nil {
		return false, fmt.Errorf("wait for another load: %w", err)
	}
	var ok bool
	var nsp uint32
	err := lead.QueryRow(ctx, fmt.Sprintf(stagedEligible, pgx.Identifier{w.schema}.Sanitize()), w.schema).Scan(&ok, &nsp)
	if err != nil {
		return false, fmt.Errorf("check the tables can be swapped: %w", err)
	}
	if !ok {
		return false, nil
	}
	w.load = loadSchemaName(nsp)
	w.cleanUps = append(w.cleanUps, w.dropLoadSchema)
	if err := w.createLoadTables(ctx); err != nil {
		return false, err
	}
	for _, c := range w.conns {
		// Each connection builds on a core of its own: an index built
		// with parallel workers would only take the other's core.
		_, err := c.Exec(ctx, `SELECT set_config('search_path', $1 || ', ' || current_setting('search_path'), false),
			set_config('maintenance_work_mem', $2, false), set_config('max_parallel_maintenance_workers', '0', false)`,
			pgx.Identifier{w.load}.Sanitize(), bulkMaintenanceMem)
		if err != nil {
			return false, err
		}
	}
	// The load's transaction waits here for readers of the empty tables,
	// and keeps everyone else out of them until it commits; the load's
	// own connections touch only the loaded tables from now on.
	if err := tx.Exec(`SET LOCAL idle_in_transaction_session_timeout = 0`).Error; err != nil {
		return false, err
	}
	if err := tx.Exec(`LOCK TABLE end_users, items IN ACCESS EXCLUSIVE MODE`).Error; err != nil {
		return false, fmt.Errorf("lock end_users and items: %w", err)
	}
	var empty bool
	if err := tx.Raw(`SELECT NOT EXISTS (SELECT 1 FROM end_users) AND NOT EXISTS (SELECT 1 FROM items)`).Scan(&empty).Error; err != nil {
		return false, err
	}
	if !empty { // someone wrote a user since the check above
		return false, nil
	}
	if err := checkBulkColumns(tx); err != nil {
		return false, err
	}
	shapes, err := readTableShapes(tx)
	if err != nil {
		return false, err
	}
	w.old = shapes
	w.queue = indexQueue{pending: append([]stagedIndex(nil), shapes.indexes...), done: map[string]bool{}}
	w.notef("loading on %d connections, then building %d indexes", len(stagedTables), len(shapes.indexes))
	ctx, w.cancel = context.WithCancel(ctx)
	for i, tab := range stagedTables {
		l := &tableLoad{table: tab, conn: w.conns[i], batches: make(chan *BulkBatch, 1)}
		w.loads = append(w.loads, l)
		w.working.Add(1)
		go w.run(ctx, l)
	}
	return true, nil
}

// stagedEligible says whether the tables of schema $1 (%[1]s quoted) are
// empty and the swap can replace them: the load's role may create a
// schema and drop the tables, nothing outside the two refers to them or
// fires on them, and they have no property the swap does not carry over
// (row security, a replica identity, column privileges). Its second
// column is the schema's oid, which names the load schema.
const stagedEligible = `
WITH t AS (SELECT c.oid, c.relowner, c.relkind, c.relrowsecurity, c.relreplident FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = $1 AND c.relname IN ('end_users', 'items'))
SELECT (SELECT count(*) FROM t) = 2
	AND (SELECT bool_and(relkind = 'r' AND NOT relrowsecurity AND relreplident = 'd' AND pg_has_role(relowner, 'MEMBER')) FROM t)
	AND has_database_privilege(current_database(), 'CREATE')
	AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid IN (SELECT oid FROM t) AND conrelid NOT IN (SELECT oid FROM t))
	AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid IN (SELECT oid FROM t) AND contype NOT IN ('p', 'u', 'f', 'c'))
	AND NOT EXISTS (SELECT 1 FROM pg_depend WHERE refobjid IN (SELECT oid FROM t) AND classid = 'pg_rewrite'::regclass)
	AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM t) AND NOT tgisinternal)
	AND NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid IN (SELECT oid FROM t))
	AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid IN (SELECT oid FROM t) OR inhparent IN (SELECT oid FROM t))
	AND NOT EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid IN (SELECT oid FROM t))
	AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid IN (SELECT oid FROM t) AND attacl IS NOT NULL)
	AND NOT EXISTS (SELECT 1 FROM %[1]s.end_users) AND NOT EXISTS (SELECT 1 FROM %[1]s.items),
	(SELECT oid FROM pg_namespace WHERE nspname = $1)`

// createLoadTables makes the load schema's tables like the empty ones:
// columns, defaults (the id sequences stay the tables'), checks,
// generated columns, storage, comments, table and column options,
// statistics targets and extended statistics. Indexes and constraints with an index come after the load.
func (w *stagedWriter) createLoadTables(ctx context.Context) error {
	lead := w.conns[0]
	load, schema := pgx.Identifier{w.load}.Sanitize(), pgx.Identifier{w.schema}.Sanitize()
	if _, err := lead.Exec(ctx, `DROP SCHEMA IF EXISTS `+load+` CASCADE`); err != nil {
		return fmt.Errorf("drop a stale load schema: %w", err)
	}
	if _, err := lead.Exec(ctx, `CREATE SCHEMA `+load); err != nil {
		return fmt.Errorf("create the load schema: %w", err)
	}
	for _, tab := range stagedTables {
		stmt := `CREATE TABLE ` + load + `.` + tab + ` (LIKE ` + schema + `.` + tab + ` INCLUDING DEFAULTS INCLUDING CONSTRAINTS
			INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)`
		if _, err := lead.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create %s to load: %w", tab, err)
		}
		rows, err := lead.Query(ctx, `SELECT 'ALTER TABLE `+load+`.`+tab+` SET (' || array_to_string(reloptions, ', ') || ')'
			FROM pg_class WHERE oid = $1::regclass AND reloptions IS NOT NULL
			UNION ALL SELECT 'ALTER TABLE `+load+`.`+tab+` ALTER COLUMN ' || quote_ident(attname) || ' SET STATISTICS ' || attstattarget
			FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0
			UNION ALL SELECT 'ALTER TABLE `+load+`.`+tab+` ALTER COLUMN ' || quote_ident(attname) || ' SET (' || array_to_string(opts, ', ') || ')'
			FROM (SELECT attname, `+columnOptions+` AS opts FROM pg_attribute
				WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped) a WHERE opts <> '{}'
			UNION ALL SELECT 'CREATE STATISTICS `+load+`.' || quote_ident(stxname)
				|| CASE WHEN kinds = '' THEN '' ELSE ' (' || kinds || ')' END
				|| ' ON ' || pg_get_statisticsobjdef_columns(oid) || ' FROM `+load+`.`+tab+`;'
				|| CASE WHEN stxstattarget >= 0 THEN ' ALTER STATISTICS `+load+`.' || quote_ident(stxname)
					|| ' SET STATISTICS ' || stxstattarget ELSE '' END
			FROM (SELECT s.*, coalesce((SELECT string_agg(CASE k WHEN 'd' THEN 'ndistinct' WHEN 'f' THEN 'dependencies'
					WHEN 'm' THEN 'mcv' END, ', ') FROM unnest(s.stxkind) k WHERE k <> 'e'), '') AS kinds
				FROM pg_statistic_ext s WHERE s.stxrelid = $1::regclass) s`, schema+"."+tab)
		if err != nil {
			return err
		}
		stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read %s's statistics settings: %w", tab, err)
		}
		for _, s := range stmts {
			if _, err := lead.Exec(ctx, s); err != nil {
				return fmt.Errorf("statistics of %s to load: %w", tab, err)
			}
		}
	}
	return nil
}

// readTableShapes reads, in the load's transaction, what the swap builds
// and carries over.
func readTableShapes(tx *gorm.DB) (tableShapes, error) {
	var s tableShapes
	err := tx.Raw(`SELECT t.relname AS tab, i.relname AS name, pg_get_indexdef(x.indexrelid) AS def,
			quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS qualified,
			coalesce(c.contype::text, '') AS contype, coalesce(c.conname, '') AS conname
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
		LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u')
		WHERE x.indrelid IN ('end_users'::regclass, 'items'::regclass)
		ORDER BY am.amname = 'btree', t.relname = 'end_users', i.relname`).Scan(&s.indexes).Error
	if err != nil {
		return s, fmt.Errorf("read indexes: %w", err)
	}
	err = tx.Raw(`SELECT conrelid::regclass::text AS tab, conname AS name, pg_get_constraintdef(oid) AS def, convalidated AS validated
		FROM pg_constraint WHERE conrelid IN ('end_users'::regclass, 'items'::regclass) AND contype = 'f'
		ORDER BY conname`).Scan(&s.constraints).Error
	if err != nil {
		return s, fmt.Errorf("read foreign keys: %w", err)
	}
	err = tx.Raw(`SELECT d.objid::regclass::text AS seq, t.relname AS tab, a.attname AS col
		FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.refobjid IN ('end_users'::regclass, 'items'::regclass)
		AND d.deptype = 'a' AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'`).Scan(&s.sequences).Error
	if err != nil {
		return s, fmt.Errorf("read owned sequences: %w", err)
	}
	var tabs []struct{ Tab, Owner, Comment string }
	err = tx.Raw(`SELECT relname AS tab, relowner::regrole::text AS owner, coalesce(obj_description(oid, 'pg_class'), '') AS comment
		FROM pg_class WHERE oid IN ('end_users'::regclass, 'items'::regclass)`).Scan(&tabs).Error
	if err != nil {
		return s, fmt.Errorf("read owners: %w", err)
	}
	s.owners, s.comments = map[string]string{}, map[string]string{}
	for _, t := range tabs {
		s.owners[t.Tab], s.comments[t.Tab] = t.Owner, t.Comment
	}
	if s.grants, err = readGrants(tx); err != nil {
		return s, err
	}
	s.definition, err = tableDefinition(tx)
	return s, err
}

// columnOptions are a column's options (attoptions) as they are set: this
// server also keeps options of its own there, named pg_*, which it sets
// on every column it creates and ignores when they are set.
const columnOptions = `array(SELECT o FROM unnest(coalesce(attoptions, '{}')) o WHERE o NOT LIKE 'pg\_%' ORDER BY o)`

// tableDefinition describes end_users and items as the catalog defines
// them, one line per column, index, constraint, statistics object, owned
// sequence, privilege and table property, so that two definitions compare
// as text.
func tableDefinition(tx *gorm.DB) (string, error) {
	var lines []string
	err := tx.Raw(`WITH t AS (SELECT oid FROM pg_class WHERE oid IN ('end_users'::regclass, 'items'::regclass))
		SELECT c.relname || ' column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
			|| ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
			|| ' generated=' || a.attgenerated::text || ' identity=' || a.attidentity::text || ' collation=' || coalesce(co.collname, '')
			|| ' stattarget=' || a.attstattarget || ' storage=' || a.attstorage::text || ' compression=' || a.attcompression::text
			|| ' options=' || ` + columnOptions + `::text || ' acl=' || coalesce(a.attacl::text, '')
			|| ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '')
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		LEFT JOIN pg_collation co ON co.oid = a.attcollation
		WHERE a.attrelid IN (SELECT oid FROM t) AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' clustered=' || i.indisclustered
			|| ' replident=' || i.indisreplident || ' valid=' || i.indisvalid
			|| ' comment=' || coalesce(obj_description(i.indexrelid, 'pg_class'), '')
		FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM t)
	UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
			|| ' validated=' || convalidated || ' deferrable=' || condeferrable || ' deferred=' || condeferred
			|| ' comment=' || coalesce(obj_description(oid, 'pg_constraint'), '')
		FROM pg_constraint WHERE conrelid IN (SELECT oid FROM t) OR confrelid IN (SELECT oid FROM t)
	UNION ALL SELECT 'statistics ' || stxnamespace::regnamespace::text || '.' || stxname || ' ' || pg_get_statisticsobjdef(oid)
			|| ' target=' || stxstattarget || ' owner=' || stxowner::regrole::text
		FROM pg_statistic_ext WHERE stxrelid IN (SELECT oid FROM t)
	UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM t) AND NOT tgisinternal
	UNION ALL SELECT 'policy ' || polrelid::regclass::text || ' ' || polname FROM pg_policy WHERE polrelid IN (SELECT oid FROM t)
	UNION ALL SELECT 'sequence ' || d.objid::regclass::text || ' owned by ' || d.refobjid::regclass::text || '.' || a.attname
		FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM t) AND d.deptype IN ('a', 'i')
	UNION ALL SELECT 'table ' || c.oid::regclass::text || ' owner=' || c.relowner::regrole::text || ' kind=' || c.relkind::text
			|| ' persistence=' || c.relpersistence::text || ' options=' || coalesce(c.reloptions::text, '')
			|| ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity || ' replident=' || c.relreplident::text
			|| ' partition=' || c.relispartition || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
		FROM pg_class c WHERE c.oid IN (SELECT oid FROM t)
	UNION ALL SELECT 'grant ' || c.oid::regclass::text || ' ' || CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END
			|| ' ' || g.privilege_type || ' grantable=' || g.is_grantable
		FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) g WHERE c.oid IN (SELECT oid FROM t)
	UNION ALL SELECT 'publication ' || prrelid::regclass::text FROM pg_publication_rel WHERE prrelid IN (SELECT oid FROM t)
	UNION ALL SELECT 'inherits ' || inhrelid::regclass::text || ' ' || inhparent::regclass::text FROM pg_inherits
		WHERE inhrelid IN (SELECT oid FROM t) OR inhparent IN (SELECT oid FROM t)
	UNION ALL SELECT 'depends ' || classid::regclass::text || ' ' || deptype::text FROM pg_depend
		WHERE refobjid IN (SELECT oid FROM t) AND classid NOT IN ('pg_class'::regclass, 'pg_attrdef'::regclass,
			'pg_constraint'::regclass, 'pg_statistic_ext'::regclass, 'pg_type'::regclass)
	ORDER BY 1`).Scan(&lines).Error
	if err != nil {
		return "", fmt.Errorf("read the tables' definition: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

func (*stagedWriter) bulk() bool { return true }

func (*stagedWriter) encode(db *DB, users []BulkUser, items []BulkItem) *BulkBatch {
	return encodeCopy(db, users, items)
}

// write hands a batch's users to one load connection and its items to
// the other.
func (w *stagedWriter) write(ctx context.Context, b *BulkBatch) error {
	for i := range w.loads {
		if err := w.failure(); err != nil {
			return err
		}
		select {
		case w.loads[i].batches <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// tableLoad is one load connection's work: one table's rows, then the
// indexes of that table, then any index left whose table is loaded.
type tableLoad struct {
	table   string
	conn    *pgx.Conn
	batches chan *BulkBatch
}

// run copies the table's part of every batch, then builds indexes until
// none is left that it can build. Once end_users is loaded, its trigram
// index, the longest to build, starts while items are still loading.
func (w *stagedWriter) run(ctx context.Context, l *tableLoad) {
	defer w.working.Done()
	start := time.Now()
	for b := range l.batches {
		if w.failure() != nil {
			continue // drain: write reports the failure
		}
		data := b.userCopy
		if l.table == "items" {
			data = b.itemCopy
		}
		if err := copyTable(ctx, l.conn.PgConn(), w.load, l.table, data); err != nil {
			w.fail(err)
		}
	}
	if w.failure() != nil {
		return
	}
	w.notef("  %s loaded in %.1f s", l.table, time.Since(start).Seconds())
	w.queue.loaded(l.table)
	for {
		ix, ok := w.queue.next(l.table)
		if !ok {
			return
		}
		def, err := w.onLoad(ix)
		if err != nil {
			w.fail(err)
			return
		}
		start := time.Now()
		if _, err := l.conn.Exec(ctx, def); err != nil {
			w.fail(fmt.Errorf("build index %s: %w", ix.Name, err))
			return
		}
		w.notef("  %s in %.1f s", ix.Name, time.Since(start).Seconds())
	}
}

// indexQueue holds the indexes not yet being built, the longest first.
type indexQueue struct {
	mu      sync.Mutex
	pending []stagedIndex
	done    map[string]bool // tables whose rows are all in
}

func (q *indexQueue) loaded(table string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done[table] = true
}

// next is the next index to build on the connection that loaded own: one
// of own's, else one of another loaded table's.
func (q *indexQueue) next(own string) (stagedIndex, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pick := -1
	for i, ix := range q.pending {
		if ix.Tab == own {
			pick = i
			break
		}
		if pick < 0 && q.done[ix.Tab] {
			pick = i
		}
	}
	if pick < 0 {
		return stagedIndex{}, false
	}
	ix := q.pending[pick]
	q.pending = append(q.pending[:pick], q.pending[pick+1:]...)
	return ix, true
}

func (w *stagedWriter) fail(err error) {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	if w.failed == nil {
		w.failed = err
		w.cancel() // the other connection stops too
	}
}

func (w *stagedWriter) failure() error {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	return w.failed
}

// finish waits for the rows and the indexes, adds the constraints and
// statistics, and swaps the loaded tables in for the empty ones inside tx.
func (w *stagedWriter) finish(tx *gorm.DB, _ func(string)) error {
	w.stopLoading()
	w.working.Wait()
	if err := w.failure(); err != nil {
		return err
	}
	ctx := tx.Statement.Context
	start := time.Now()
	if err := w.addConstraints(ctx); err != nil {
		return err
	}
	if err := beforeSwap(ctx, w.conns[0], w.load); err != nil {
		return err
	}
	w.notef("  constraints, foreign keys and statistics in %.1f s", time.Since(start).Seconds())
	start = time.Now()
	if err := w.swap(tx); err != nil {
		return err
	}
	w.notef("  loaded tables swapped in, %.1f s", time.Since(start).Seconds())
	return nil
}

// stopLoading tells the load connections the last batch is written.
func (w *stagedWriter) stopLoading() {
	w.stopOnce.Do(func() {
		for _, l := range w.loads {
			close(l.batches)
		}
	})
}

func (w *stagedWriter) notef(format string, args ...any) {
	w.noteMu.Lock()
	defer w.noteMu.Unlock()
	w.noteFn(fmt.Sprintf(format, args...))
}

// onLoad points a CREATE INDEX statement of the tables' schema at the
// load schema's table of the same name.
func (w *stagedWriter) onLoad(ix stagedIndex) (string, error) {
	to := " ON " + pgx.Identifier{w.load, ix.Tab}.Sanitize() + " USING "
	for _, from := range []string{" ON " + ix.Qualified + " USING ", " ON ONLY " + ix.Qualified + " USING "} {
		if strings.Count(ix.Def, from) == 1 {
			return strings.Replace(ix.Def, from, to, 1), nil
		}
	}
	return "", fmt.Errorf("load: cannot point %q at the loaded table", ix.Def)
}

// addConstraints adds the primary and unique keys on their built indexes,
// then the foreign keys, and validates the keys while the statistics of
// end_users are gathered on the other connection.
func (w *stagedWriter) addConstraints(ctx context.Context) error {
	lead := w.conns[0]
	load := pgx.Identifier{w.load}.Sanitize()
	keys := append([]stagedIndex(nil), w.old.indexes...)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Contype == "p" && keys[j].Contype != "p" })
	for _, ix := range keys {
		kind := map[string]string{"p": "PRIMARY KEY", "u": "UNIQUE"}[ix.Contype]
		if kind == "" {
			continue
		}
		stmt := `ALTER TABLE ` + load + `.` + ix.Tab + ` ADD CONSTRAINT ` + pgx.Identifier{ix.Conname}.Sanitize() +
			` ` + kind + ` USING INDEX ` + pgx.Identifier{ix.Name}.Sanitize()
		if _, err := lead.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("add key %s: %w", ix.Conname, err)
		}
	}
	for _, fk := range w.old.constraints {
		def := fk.Def
		if fk.Validated {
			def += " NOT VALID"
		}
		if _, err := lead.Exec(ctx, `ALTER TABLE `+load+`.`+unqualified(fk.Tab)+` ADD CONSTRAINT `+pgx.Identifier{fk.Name}.Sanitize()+` `+def); err != nil {
			return fmt.Errorf("add foreign key %s: %w", fk.Name, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for _, fk := range w.old.constraints {
			if !fk.Validated {
				continue
			}
			if _, err := lead.Exec(gctx, `ALTER TABLE `+load+`.`+unqualified(fk.Tab)+` VALIDATE CONSTRAINT `+pgx.Identifier{fk.Name}.Sanitize()); err != nil {
				return fmt.Errorf("validate %s: %w", fk.Name, err)
			}
		}
		_, err := lead.Exec(gctx, `ANALYZE `+load+`.items`)
		return err
	})
	g.Go(func() error {
		_, err := w.conns[len(w.conns)-1].Exec(gctx, `ANALYZE `+load+`.end_users`)
		return err
	})
	return g.Wait()
}

// unqualified is a table name as regclass prints it, without its schema.
func unqualified(tab string) string {
	if i := strings.LastIndexByte(tab, '.'); i >= 0 {
		return tab[i+1:]
	}
	return tab
}

// swap replaces the empty tables with the loaded ones inside tx, and
// checks the result is defined exactly as what it replaced.
func (w *stagedWriter) swap(tx *gorm.DB) error {
	schema, load := pgx.Identifier{w.schema}.Sanitize(), pgx.Identifier{w.load}.Sanitize()
	var stmts []string
	for _, s := range w.old.sequences {
		stmts = append(stmts, `ALTER SEQUENCE `+s.Seq+` OWNED BY NONE`)
	}
	stmts = append(stmts, `DROP TABLE `+schema+`.items, `+schema+`.end_users`)
	for _, tab := range stagedTables {
		stmts = append(stmts, `ALTER TABLE `+load+`.`+tab+` SET SCHEMA `+schema)
	}
	var statistics []string
	if err := tx.Raw(`SELECT quote_ident(stxname) FROM pg_statistic_ext WHERE stxnamespace = ?::regnamespace`, w.load).Scan(&statistics).Error; err != nil {
		return err
	}
	for _, s := range statistics {
		stmts = append(stmts, `ALTER STATISTICS `+load+`.`+s+` SET SCHEMA `+schema,
			`ALTER STATISTICS `+schema+`.`+s+` OWNER TO `+w.old.owners["end_users"])
	}
	for _, s := range w.old.sequences {
		stmts = append(stmts, `ALTER SEQUENCE `+s.Seq+` OWNED BY `+schema+`.`+s.Tab+`.`+pgx.Identifier{s.Col}.Sanitize())
	}
	for _, tab := range stagedTables {
		stmts = append(stmts, `ALTER TABLE `+schema+`.`+tab+` OWNER TO `+w.old.owners[tab])
		if c := w.old.comments[tab]; c != "" {
			stmts = append(stmts, `COMMENT ON TABLE `+schema+`.`+tab+` IS `+quoteLiteral(c))
		}
	}
	stmts = append(stmts, `DROP SCHEMA `+load)
	for _, s := range stmts {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("swap in the loaded tables: %s: %w", s, err)
		}
	}
	if err := syncGrants(tx, w.old.grants); err != nil {
		return err
	}
	got, err := tableDefinition(tx)
	if err != nil {
		return err
	}
	if got != w.old.definition {
		return fmt.Errorf("load: the loaded tables are not defined as the ones they replace, which are kept:\n%s", lineDiff(w.old.definition, got))
	}
	return nil
}

// tableGrant is one privilege on end_users or items, as aclexplode lists
// them (the owner's own included).
type tableGrant struct {
	Tab, Role, Priv string
	Grantable       bool
}

func readGrants(tx *gorm.DB) (map[tableGrant]bool, error) {
	var gs []tableGrant
	err := tx.Raw(`SELECT c.oid::regclass::text AS tab,
			CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END AS role,
			g.privilege_type AS priv, g.is_grantable AS grantable
		FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) g
		WHERE c.oid IN ('end_users'::regclass, 'items'::regclass)`).Scan(&gs).Error
	if err != nil {
		return nil, fmt.Errorf("read privileges: %w", err)
	}
	m := map[tableGrant]bool{}
	for _, g := range gs {
		m[g] = true
	}
	return m, nil
}

// syncGrants gives the swapped-in tables exactly the privileges the
// replaced ones had.
func syncGrants(tx *gorm.DB, want map[tableGrant]bool) error {
	have, err := readGrants(tx)
	if err != nil {
		return err
	}
	for g := range have {
		if !want[g] {
			if err := tx.Exec(`REVOKE ` + g.Priv + ` ON TABLE ` + g.Tab + ` FROM ` + g.Role + ` CASCADE`).Error; err != nil {
				return fmt.Errorf("revoke %s on %s: %w", g.Priv, g.Tab, err)
			}
		}
	}
	for g := range want {
		if !have[g] {
			stmt := `GRANT ` + g.Priv + ` ON TABLE ` + g.Tab + ` TO ` + g.Role
			if g.Grantable {
				stmt += ` WITH GRANT OPTION`
			}
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("grant %s on %s: %w", g.Priv, g.Tab, err)
			}
		}
	}
	return nil
}

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// lineDiff lists the lines only one of two texts has.
func lineDiff(want, got string) string {
	in := func(text string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(text, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// close, once the load's transaction has ended either way, closes the
// load's connections, which lets the next staged load in, and drops what
// is left of the load schema.
func (w *stagedWriter) close() {
	w.cancel()
	w.stopLoading()
	w.working.Wait()
	for _, c := range w.cleanUps {
		c()
	}
}

// dropLoadSchema drops the load schema on a connection of its own (the
// load's may have been closed by a cancelled statement), under the
// load's lock so that it never drops another load's schema.
func (w *stagedWriter) dropLoadSchema() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = w.db.dropLoadSchema(ctx, w.schema, w.load, true)
}

// dropLoadSchema drops load, the load schema of the tables in schema,
// holding the lock staged loads into schema take: waiting for it, or, if
// not wait, only when no load holds it. It says whether it dropped one.
func (db *DB) dropLoadSchema(ctx context.Context, schema, load string, wait bool) (bool, error) {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// Its own connection, closed at the end: closing releases the lock
	// even where an unlock would fail.
	c := pc.Hijack()
	defer c.Close(context.Background())
	if wait {
		if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, stagedLockClass, schema); err != nil {
			return false, err
		}
	} else {
		var free bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, stagedLockClass, schema).Scan(&free); err != nil || !free {
			return false, err
		}
	}
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, load).Scan(&exists); err != nil || !exists {
		return false, err
	}
	if _, err := c.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{load}.Sanitize()+` CASCADE`); err != nil {
		return false, fmt.Errorf("drop %s: %w", load, err)
	}
	return true, nil
}

// DropAbandonedLoad drops what a bulk load that was killed before it
// could clean up left: its load schema, with the rows it had loaded. A
// load that is running keeps its schema. It returns the schema's name
// when it dropped one.
func (db *DB) DropAbandonedLoad(ctx context.Context) (string, error) {
	if db.Dialect != Postgres || db.pool == nil {
		return "", nil
	}
	var schema string
	var nsp uint32
	err := db.pool.QueryRow(ctx, `SELECT n.nspname, n.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass('end_users')`).Scan(&schema, &nsp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find end_users: %w", err)
	}
	load := loadSchemaName(nsp)
	dropped, err := db.dropLoadSchema(ctx, schema, load, false)
	if err != nil || !dropped {
		return "", err
	}
	return load, nil
}

// loadSchemaName names the load schema of the tables in the schema whose
// oid is nsp.
func loadSchemaName(nsp uint32) string { return fmt.Sprintf("ledgerdesk_load_%d", nsp) }
