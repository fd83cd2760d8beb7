// Command ledgerdesk is the whole portal in one binary: it serves the web
// app and runs the maintenance commands.
//
//	ledgerdesk [serve]                      run the portal (the default)
//	ledgerdesk migrate [--grant-to ROLE]    apply database migrations (as the tables' owner)
//	ledgerdesk admin create --email E --role R
//	ledgerdesk audit verify                 check the audit log's hash chain
//	ledgerdesk audit verify --checkpoint FILE --public-key KEY
//	ledgerdesk audit checkpoint             sign the audit chain head
//	ledgerdesk seed --users N [--seed S]    add realistic demo end users and items
//	ledgerdesk keys status|reseal           field keys: what each seals; move values to the current one
//	ledgerdesk version                      name the build
//	ledgerdesk healthcheck                  ask the portal on this host for /healthz
//	ledgerdesk config-reference             print docs/configuration.md
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: ledgerdesk [command] [flags]

commands:
  serve                              run the portal (default)
  migrate [--grant-to ROLE]          apply pending database migrations; with --grant-to, give
                                     the portal's own PostgreSQL role what it needs, no more
  admin create --email E --role R    add a team member with a random password
  audit verify                       check the audit log's hash chain
  audit verify --checkpoint FILE --public-key KEY
                                     ... and that it still matches a signed checkpoint
  audit checkpoint                   sign the audit chain head now
  seed --users N [--seed S]          add N demo end users with their items
  keys status                        how many sealed values each field key still seals
  keys reseal [--batch-size N]       seal every value with the current field key (docs/keys.md)
  bench                              measure the users pages at scale (PostgreSQL)
  bench api                          measure the JSON API at scale (PostgreSQL)
  bench audit                        measure the audit pages at scale (PostgreSQL)
  bench signin                       storm a serve process with sign-ins; watch its memory and pages
  version                            print the version, commit and build time
  healthcheck                        exit 0 when the portal on this host answers /healthz, else 1
  config-reference                   print the configuration reference (docs/configuration.md)

Run "ledgerdesk COMMAND -h" for a command's flags.
`

// run executes one command and returns the process exit code: 0 done, 1
// failed while running, 2 the command line or environment is wrong (see
// settings).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout, stderr)
	case "admin":
		err = admin(ctx, args, getenv, stdout, stderr)
	case "audit":
		err = audit(ctx, args, getenv, stdout, stderr)
	case "seed":
		err = seed(ctx, args, getenv, stdout, stderr)
	case "keys":
		err = keys(ctx, args, getenv, stdout, stderr)
	case "bench":
		err = bench(ctx, args, getenv, stdout, stderr)
	case "version":
		err = printVersion(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, args, getenv, stdout, stderr)
	case "config-reference":
		err = configReferenceCommand(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ledgerdesk: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var code exitCode
	var bad usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &bad):
		for _, problem := range bad.problems {
			fmt.Fprintf(stderr, "%s: %s\n", bad.command, problem)
		}
		fmt.Fprintf(stderr, "Run \"%s -h\" for its settings; docs/configuration.md says what each accepts.\n", bad.command)
		return 2
	}
	fmt.Fprintf(stderr, "ledgerdesk %s: %v\n", cmd, err)
	return 1
}

// exitCode ends a command with a code after it printed its own message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }
