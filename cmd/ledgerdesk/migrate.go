package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("migrate", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	grantTo := s.String("grant-to", "LEDGERDESK_GRANT_TO", "",
		"after migrating, give this PostgreSQL `role` exactly what serve needs on every table, and nothing else", nil)
	if err := s.parse(args); err != nil {
		return err
	}
	if *grantTo != "" && dbo.embedded() {
		return fmt.Errorf("--grant-to is for PostgreSQL: the embedded database has no roles")
	}
	db, err := dbo.connect()
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied migration %04d\n", v)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database is up to date (%d applied)\n", len(applied))
	dropped, err := db.DropAbandonedLoad(ctx)
	if err != nil {
		return fmt.Errorf("drop what an interrupted bulk seed left: %w", err)
	}
	if dropped != "" {
		fmt.Fprintf(stdout, "dropped schema %s, left by a bulk seed that was interrupted\n", dropped)
	}
	if *grantTo == "" {
		return nil
	}
	rep, err := db.GrantApp(ctx, *grantTo)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "granted %s what the portal needs on %d tables and %d sequences of schema %s (the audit log: SELECT and INSERT only)\n",
		*grantTo, len(rep.Tables), len(rep.Sequences), rep.Schema)
	if len(rep.Foreign) > 0 {
		fmt.Fprintf(stdout, "not the portal's, nothing granted: %s\n", strings.Join(rep.Foreign, ", "))
	}
	return nil
}
