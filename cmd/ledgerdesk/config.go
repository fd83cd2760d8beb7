package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

// dbOptions are the flags every command shares to find the database.
type dbOptions struct {
	databaseURL string
	dataDir     string
}

func (o *dbOptions) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&o.databaseURL, "database-url", getenv("DATABASE_URL"),
		"PostgreSQL URL (env DATABASE_URL); empty: an embedded SQLite file in --data")
	fs.StringVar(&o.dataDir, "data", envOr(getenv, "LEDGERDESK_DATA", "./data"),
		"data directory for the embedded database and generated keys (env LEDGERDESK_DATA)")
}

func (o *dbOptions) embedded() bool { return o.databaseURL == "" }

// connect opens the database without touching its schema.
func (o *dbOptions) connect() (*models.DB, error) {
	if !o.embedded() {
		return models.OpenPostgres(o.databaseURL)
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return models.OpenSQLite(filepath.Join(o.dataDir, "ledgerdesk.db"))
}

// open connects and makes sure the schema is current. The embedded SQLite
// file is migrated on open; PostgreSQL only when asked (migrate, serve
// --migrate), otherwise pending migrations are an error.
func (o *dbOptions) open(ctx context.Context, migrate bool) (*models.DB, error) {
	db, err := o.connect()
	if err != nil {
		return nil, err
	}
	if migrate || o.embedded() {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	n, err := db.PendingMigrations(ctx)
	if err == nil && n > 0 {
		err = fmt.Errorf("%d migration(s) pending: run `ledgerdesk migrate` or `ledgerdesk serve --migrate`", n)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ledgerdesk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) bool {
	b, _ := strconv.ParseBool(getenv(key))
	return b
}

func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(key)); err == nil {
		return d
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// envFlag is the environment user_tokens name (user-<env>-<uuid>).
func envFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("environment", envOr(getenv, "LEDGERDESK_ENVIRONMENT", "sandbox"),
		"environment named in user_tokens: sandbox, development or production (env LEDGERDESK_ENVIRONMENT)")
}

// configurePII gives the database the key that seals personal data.
func configurePII(db *models.DB, secrets web.Secrets, environment string) error {
	switch environment {
	case "sandbox", "development", "production":
	default:
		return fmt.Errorf("--environment must be sandbox, development or production, not %q", environment)
	}
	fc, err := secrets.FieldCipher()
	if err != nil {
		return fmt.Errorf("%s: %w", web.EnvFieldKey, err)
	}
	db.Configure(fc, environment)
	return nil
}
