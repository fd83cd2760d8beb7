package main

import (
	"context"
	"fmt"
	"io"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("migrate", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	if err := s.parse(args); err != nil {
		return err
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
	return nil
}
