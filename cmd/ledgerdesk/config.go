package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

// A command's settings come from flags and environment variables: a flag
// wins over its variable and an empty variable is unset. Every value the
// command reads is parsed strictly, a variable's even when a flag
// overrides it, and every value out of range or contradicting another is
// refused: the command then stops with exit code 2 before it opens the
// database, naming each setting (flag and variable) and what it accepts.
// Exit code 1 is kept for what fails while the command runs.

// usageError lists the settings a command cannot run with.
type usageError struct {
	command  string // ledgerdesk admin create
	problems []string
}

func (e usageError) Error() string { return strings.Join(e.problems, "\n") }

// settings is a command's flags with the environment behind them.
type settings struct {
	fs       *flag.FlagSet
	getenv   func(string) string
	declared []*setting
	checks   []func() string
	// described: the command is being described for the configuration
	// reference, so parse stops it before it reads anything.
	described bool
}

// setting is one flag, perhaps with a variable. Its raw text is read when
// the command line is parsed; parse turns text into the typed value.
type setting struct {
	flag, env string
	kind      string // what it takes, for -h: duration, number, bool ...
	usage     string
	def       string
	secret    bool // never echoed: it may hold a password
	required  bool // no default: the command stops without it
	value     *rawValue
	parse     func(string) error
}

// rawValue keeps a flag's text for parse to judge after the command line
// is read, so a flag and its variable are checked alike.
type rawValue struct {
	text string
	set  bool
}

func (v *rawValue) String() string {
	if v == nil {
		return ""
	}
	return v.text
}

func (v *rawValue) Set(s string) error { v.text, v.set = s, true; return nil }

// rawBool is a rawValue that stands alone on the command line: --migrate.
type rawBool struct{ rawValue }

func (*rawBool) IsBoolFlag() bool { return true }

func newSettings(name string, getenv func(string) string, stderr io.Writer) *settings {
	fs := flag.NewFlagSet("ledgerdesk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &settings{fs: fs, getenv: getenv}
	fs.Usage = s.printUsage
	if r, ok := stderr.(*settingsRecorder); ok {
		r.recorded = append(r.recorded, s)
		s.described = true
	}
	return s
}

// printUsage lists the settings in the order they were declared, each
// with its variable and default.
func (s *settings) printUsage() {
	w := s.fs.Output()
	fmt.Fprintf(w, "usage: %s [flags]\n\nflags (a flag wins over its environment variable):\n", s.fs.Name())
	for _, d := range s.declared {
		head := "  --" + d.flag
		if _, isBool := s.fs.Lookup(d.flag).Value.(*rawBool); isBool {
			head += "[=true|false]"
		} else {
			head += " " + d.kind
		}
		var notes []string
		if d.env != "" {
			notes = append(notes, "env "+d.env)
		}
		if d.def != "" && d.def != "false" {
			notes = append(notes, "default "+d.def)
		}
		if len(notes) > 0 {
			head += "   (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, d.usage)
	}
}

// label names a setting for people: --idle-timeout (LEDGERDESK_IDLE_TIMEOUT).
func (s *settings) label(flagName string) string {
	for _, d := range s.declared {
		if d.flag == flagName && d.env != "" {
			return "--" + d.flag + " (" + d.env + ")"
		}
	}
	return "--" + flagName
}

// check adds a rule over the parsed values: it returns what is wrong, or "".
func (s *settings) check(rule func() string) { s.checks = append(s.checks, rule) }

// declare registers a flag whose text parse judges. A word of usage in
// back quotes names what it takes, instead of kind.
func (s *settings) declare(kind, name, env, def, usage string, secret bool, parse func(string) error) {
	isBool := kind == "bool"
	if i := strings.Index(usage, "`"); i >= 0 {
		if j := strings.Index(usage[i+1:], "`"); j >= 0 {
			kind = usage[i+1 : i+1+j]
			usage = usage[:i] + kind + usage[i+2+j:]
		}
	}
	d := &setting{flag: name, env: env, kind: kind, usage: usage, def: def, secret: secret, parse: parse}
	if isBool {
		b := &rawBool{rawValue{text: def}}
		d.value = &b.rawValue
		s.fs.Var(b, name, usage)
	} else {
		d.value = &rawValue{text: def}
		s.fs.Var(d.value, name, usage)
	}
	s.declared = append(s.declared, d)
}

// parse reads args and the environment into the declared values, then
// runs the checks. It reports every problem at once.
func (s *settings) parse(args []string) error {
	if s.described {
		return exitCode(0)
	}
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitCode(0) // the flag package printed the settings
		}
		return exitCode(2) // the flag package said what was wrong
	}
	var problems []string
	if s.fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q: every setting is a --flag", s.fs.Arg(0)))
	}
	for _, d := range s.declared {
		if p := d.apply(s.getenv); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) == 0 {
		for _, rule := range s.checks {
			if p := rule(); p != "" {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return usageError{command: s.fs.Name(), problems: problems}
	}
	return nil
}

// apply parses the default, then the variable, then the flag: the last one
// present wins, and each present one must parse.
func (d *setting) apply(getenv func(string) string) string {
	if err := d.parse(d.def); err != nil {
		panic(fmt.Sprintf("--%s: default %q: %v", d.flag, d.def, err))
	}
	if d.env != "" {
		if v := getenv(d.env); v != "" {
			if err := d.parse(v); err != nil {
				return d.problem(d.env, v, err)
			}
		}
	}
	if d.value.set {
		if err := d.parse(d.value.text); err != nil {
			return d.problem("--"+d.flag, d.value.text, err)
		}
	}
	return ""
}

func (d *setting) problem(source, value string, err error) string {
	other := ""
	if source == d.env {
		other = " (--" + d.flag + ")"
	} else if d.env != "" {
		other = " (" + d.env + ")"
	}
	if d.secret {
		return fmt.Sprintf("%s%s: %v", source, other, err)
	}
	return fmt.Sprintf("%s%s: %q: %v", source, other, value, err)
}

// StringVar declares a text setting; check, if any, decides what it
// accepts (the default included).
func (s *settings) StringVar(p *string, name, env, def, usage string, check func(string) error) {
	s.declare("text", name, env, def, usage, false, func(v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		*p = v
		return nil
	})
}

func (s *settings) String(name, env, def, usage string, check func(string) error) *string {
	p := new(string)
	s.StringVar(p, name, env, def, usage, check)
	return p
}

// SecretVar is a StringVar, empty by default, whose value is never shown
// (a URL with a password).
func (s *settings) SecretVar(p *string, name, env, usage string, check func(string) error) {
	s.declare("URL", name, env, "", usage, true, func(v string) error {
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		*p = v
		return nil
	})
}

// Bool declares an on/off setting.
func (s *settings) Bool(name, env string, def bool, usage string) *bool {
	p := new(bool)
	s.declare("bool", name, env, strconv.FormatBool(def), usage, false, func(v string) error {
		b, err := parseBool(v)
		*p = b
		return err
	})
	return p
}

// parseBool accepts what strconv.ParseBool does, and yes/no, on/off.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("want true or false (or 1/0, t/f, yes/no, on/off)")
	}
	return b, nil
}

// Duration declares a duration of at least min.
func (s *settings) Duration(name, env string, def, min time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	s.declare("duration", name, env, def.String(), usage, false, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("want a duration with its unit, such as 90s, 30m or 12h")
		}
		if d < min {
			if min == 0 {
				return errors.New("want 0 or more")
			}
			return fmt.Errorf("want at least %v", min)
		}
		*p = d
		return nil
	})
	return p
}

// Int declares a whole number from min to max.
func (s *settings) Int(name string, def, min, max int, usage string) *int {
	return s.IntEnv(name, "", def, min, max, usage)
}

// IntEnv declares a whole number from min to max that an environment
// variable may also set.
func (s *settings) IntEnv(name, env string, def, min, max int, usage string) *int {
	p := new(int)
	s.declare("number", name, env, strconv.Itoa(def), usage, false, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return fmt.Errorf("want a whole number from %s to %s", thousands(min), thousands(max))
		}
		*p = n
		return nil
	})
	return p
}

// RequiredInt declares a whole number from min (1 or more) to max that
// has no default: without it, the command stops with missing.
func (s *settings) RequiredInt(name string, min, max int, usage, missing string) *int {
	p := new(int)
	s.declare("number", name, "", "", usage, false, func(v string) error {
		if v == "" {
			*p = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return fmt.Errorf("want a whole number from %s to %s", thousands(min), thousands(max))
		}
		*p = n
		return nil
	})
	s.declared[len(s.declared)-1].required = true
	s.check(func() string {
		if *p == 0 {
			return missing
		}
		return ""
	})
	return p
}

// Uint64 declares any unsigned 64-bit number.
func (s *settings) Uint64(name string, def uint64, usage string) *uint64 {
	p := new(uint64)
	s.declare("number", name, "", strconv.FormatUint(def, 10), usage, false, func(v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errors.New("want a whole number from 0 to 18446744073709551615")
		}
		*p = n
		return nil
	})
	return p
}

// dbOptions are the flags every command shares to find the database.
type dbOptions struct {
	databaseURL string
	dataDir     string
}

func (o *dbOptions) register(s *settings) {
	s.SecretVar(&o.databaseURL, "database-url", "DATABASE_URL",
		"PostgreSQL URL; empty: an embedded SQLite file in --data", checkDatabaseURL)
	s.StringVar(&o.dataDir, "data", "LEDGERDESK_DATA", "./data",
		"data directory for the embedded database and generated keys", notEmpty)
}

// checkDatabaseURL accepts what the PostgreSQL driver does: a postgres://
// or postgresql:// URL, or libpq's key=value settings.
func checkDatabaseURL(v string) error {
	if v == "" {
		return nil
	}
	if scheme, _, ok := strings.Cut(v, "://"); ok && scheme != "postgres" && scheme != "postgresql" {
		return errors.New("want a postgres:// or postgresql:// URL, e.g. postgres://user:password@host:5432/ledgerdesk?sslmode=verify-full; empty for the embedded SQLite file")
	}
	if _, err := pgxpool.ParseConfig(models.PostgresDSN(v)); err != nil {
		// The driver's message quotes the URL, password masked; keep only
		// what follows it.
		msg := err.Error()
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		} else {
			msg = "it does not parse"
		}
		return fmt.Errorf("not a PostgreSQL URL (%s), want e.g. postgres://user:password@host:5432/ledgerdesk?sslmode=verify-full", msg)
	}
	return nil
}

func notEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
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

// openWithSecrets loads the keys (from the environment, or kept in the
// data directory) before it opens the database as open does.
func (o *dbOptions) openWithSecrets(ctx context.Context, getenv func(string) string, migrate bool) (*models.DB, web.Secrets, error) {
	secrets, err := web.LoadSecrets(o.dataDir, getenv)
	if err != nil {
		return nil, web.Secrets{}, err
	}
	db, err := o.open(ctx, migrate)
	if err != nil {
		return nil, web.Secrets{}, err
	}
	return db, secrets, nil
}

// openWithPII is openWithSecrets for the commands that touch personal
// data: the database is given the key that seals it.
func (o *dbOptions) openWithPII(ctx context.Context, getenv func(string) string, migrate bool, environment string) (*models.DB, web.Secrets, error) {
	db, secrets, err := o.openWithSecrets(ctx, getenv, migrate)
	if err != nil {
		return nil, web.Secrets{}, err
	}
	if err := configurePII(db, secrets, environment); err != nil {
		db.Close()
		return nil, web.Secrets{}, err
	}
	return db, secrets, nil
}

// checkSecrets refuses keys in the environment that do not parse; the
// commands that use keys check them before they start.
func (s *settings) checkSecrets() {
	s.check(func() string {
		if err := web.CheckSecretsEnv(s.getenv); err != nil {
			return err.Error()
		}
		return ""
	})
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

// environmentSetting is the environment user_tokens name (user-<env>-<uuid>).
func environmentSetting(s *settings) *string {
	return s.String("environment", "LEDGERDESK_ENVIRONMENT", "sandbox",
		"environment named in user_tokens: sandbox, development or production", func(v string) error {
			switch v {
			case "sandbox", "development", "production":
				return nil
			}
			return errors.New("want sandbox, development or production")
		})
}

// configurePII gives the database the key that seals personal data.
func configurePII(db *models.DB, secrets web.Secrets, environment string) error {
	fc, err := secrets.FieldCipher()
	if err != nil {
		return fmt.Errorf("%s: %w", web.EnvFieldKey, err)
	}
	db.Configure(fc, environment)
	return nil
}

// checkListen accepts host:port, the port a number (0: any free port).
func checkListen(v string) error {
	_, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return errors.New("want host:port, e.g. 127.0.0.1:8080 or :8080")
	}
	return nil
}

// checkMetricsListen accepts what checkListen does, or "" (off).
func checkMetricsListen(v string) error {
	if v == "" {
		return nil
	}
	return checkListen(v)
}

// samePort reports whether two checked host:port addresses name the same
// port. Port 0 asks for any free port, which two listeners never share.
func samePort(a, b string) bool {
	_, pa, _ := net.SplitHostPort(a)
	_, pb, _ := net.SplitHostPort(b)
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	return na != 0 && na == nb
}

// checkEmail accepts an address like name@example.com, as a team member's.
func checkEmail(v string) error {
	if _, err := models.NormalizeEmail(v); err != nil {
		return errors.New("want an email address like name@example.com")
	}
	return nil
}

// checkPublicURL accepts the portal's own http(s) address, perhaps with a
// path it is served under.
func checkPublicURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("want the portal's address, http:// or https:// with a host and no query, e.g. https://ledgerdesk.example.com")
	}
	return nil
}
