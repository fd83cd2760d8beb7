// Package models holds Ledgerdesk's data: GORM models, queries, domain rules,
// versioned migrations and the audited write path. Nothing here speaks HTTP.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"ledgerdesk/models/querytrace"
)

// DB is the portal's database handle.
type DB struct {
	gorm *gorm.DB
	// Dialect names the database engine; every difference between the
	// two is decided from it, in dialect.go.
	Dialect Dialect

	// pool, on PostgreSQL, holds the connections GORM also uses. The
	// reads every page makes go to it directly (the fast path,
	// fastpath.go): through database/sql each query costs a goroutine and
	// a value conversion per column.
	pool *pgxpool.Pool

	// writeMu keeps SQLite to one audited writer at a time (lockWrites);
	// PostgreSQL serializes on a row lock of the chain head instead.
	writeMu sync.Mutex

	// commit batches audited writes on PostgreSQL; see audit_batch.go.
	commit     *committer
	commitOnce sync.Once

	// auditDays keeps the whole log's count of each settled day, for
	// the unfiltered activity chart.
	auditDays auditDayCache
	// seqFloors keeps the seq bounds of time ranges' starts.
	seqFloors seqFloorCache

	fields *FieldCipher // seals personal values at rest
	env    string       // the environment user_tokens name

	lastPolicy atomic.Pointer[storedPolicy] // the field policy decoded last; see decodedFieldPolicy
	reveals    atomic.Pointer[revealTally]  // today's reveals counted so far; see revealsSince

	institutions cached[[]Institution]
	trigrams     cached[trigramShares] // how common search_key's trigrams are; see search_trigrams.go
	estimates    keyedCache[int64]     // the planner's estimates of users-list filters without a search
	forcedWay    *substringWay         // nil: each search chooses; see substringWayFor (tests set it)

	clock func() time.Time // nil: Now; see SetClock

	observer atomic.Pointer[observerRef] // hears what metrics count; see Observe

	// watch hears of every statement, for the slow-query log and traces:
	// as pgx's tracer on PostgreSQL, as GORM's logger on SQLite.
	watch *querytrace.Watch

	replicas *replicaSet // read replicas, if any; see replica.go
}

// WatchQueries logs the statements slower than s.Slow and, with s.Tracing,
// traces each statement run under a traced request; see querytrace.
func (db *DB) WatchQueries(s querytrace.Settings) { db.watch.Set(s) }

// SetClock replaces the clock that TOTP codes are checked against, so
// tests can step through time steps without waiting for them.
func (db *DB) SetClock(now func() time.Time) { db.clock = now }

func (db *DB) now() time.Time {
	if db.clock != nil {
		return db.clock().UTC().Truncate(time.Microsecond)
	}
	return Now()
}

// Configure sets the key that seals personal values and the environment
// named in user_tokens (sandbox, development or production).
func (db *DB) Configure(fields *FieldCipher, environment string) {
	db.fields = fields
	db.env = environment
	if db.replicas != nil {
		for _, r := range db.replicas.list {
			r.db.fields, r.db.env = fields, environment
		}
	}
}

func (db *DB) cipher() *FieldCipher {
	if db.fields == nil {
		panic("models: no field encryption key configured (DB.Configure)")
	}
	return db.fields
}

func (db *DB) environment() string {
	if db.env == "" {
		return "sandbox"
	}
	return db.env
}

// OpenPostgres connects to PostgreSQL. Connection attempts give up after a
// few seconds so an unreachable database shows up as an error, not a hang.
func OpenPostgres(dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(PostgresDSN(dsn))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	watch := querytrace.New(true)
	cfg.ConnConfig.Tracer = watch
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// pgx's tracer sees GORM's statements too: GORM's logger stays silent.
	g, err := openGormOnPool(pool, gormConfig(logger.Default.LogMode(logger.Silent)))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &DB{gorm: g, Dialect: Postgres, pool: pool, watch: watch}, nil
}

// PostgresDSN is dsn with the session settings the portal relies on, for
// connections it opens itself and for tools that measure against it.
func PostgresDSN(dsn string) string {
	return withDefaultParam(dsn, "connect_timeout", "3")
}

// OpenSQLite opens (or creates) an embedded SQLite file in WAL mode with a
// busy timeout and foreign keys on. The file and its companions are
// readable by their owner only. The path ":memory:" gives a private
// in-memory database on a single connection, as tests use.
func OpenSQLite(path string) (*DB, error) {
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	memory := path == ":memory:"
	var dsn string
	if memory {
		dsn = "file::memory:?" + pragmas
	} else {
		if err := privateSQLiteFiles(path); err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		dsn = "file:" + path + "?" + pragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	watch := querytrace.New(false)
	g, err := gorm.Open(sqlite.Open(dsn), gormConfig(watch.GORM()))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if memory {
		// Each connection to :memory: is its own database: keep exactly one.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
	} else {
		sqlDB.SetMaxOpenConns(8)
	}
	return &DB{gorm: g, Dialect: SQLite, watch: watch}, nil
}

// privateSQLiteFiles creates the database file with mode 0600 before
// SQLite opens it: SQLite would make it 0644 (less the umask), and it gives
// the -wal, -shm and -journal files it creates the database file's mode.
// Files left readable by others (an older release, a copy) are tightened.
func privateSQLiteFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, name := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		info, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(name, mode&^0o077); err != nil {
				return err
			}
		}
	}
	return nil
}

// gormConfig is GORM's configuration with log as its logger. GORM's own
// logger prints statements with their values, which may carry personal
// data, so it is never used: errors reach the log through the callers,
// with context and without values, and statements through querytrace.
func gormConfig(log logger.Interface) *gorm.Config {
	return &gorm.Config{
		Logger:                 log,
		SkipDefaultTransaction: true,
		NowFunc:                Now,
	}
}

// Now is the portal's clock: UTC, at the microsecond precision both
// databases keep, so a value reads back exactly as it was written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Gorm exposes the handle for queries that live in this package's callers'
// tests and tools; application code uses the typed functions instead.
func (db *DB) Gorm() *gorm.DB { return db.gorm }

// SQL returns the underlying connection pool.
func (db *DB) SQL() (*sql.DB, error) { return db.gorm.DB() }

// Ping checks that the database answers within ctx.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close lets audited writes in flight finish and closes the connection
// pool.
func (db *DB) Close() error {
	db.closeCommitter()
	if db.replicas != nil {
		db.replicas.close()
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	err = sqlDB.Close()
	if db.pool != nil {
		db.pool.Close()
	}
	return err
}

func withDefaultParam(dsn, key, value string) string {
	if strings.Contains(dsn, key+"=") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
	}
	return dsn + " " + key + "=" + value
}
