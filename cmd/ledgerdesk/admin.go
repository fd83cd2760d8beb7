package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ledgerdesk/models"
)

func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: ledgerdesk admin create --email E --role admin|compliance|auditor")
		return exitCode(2)
	}
	s := newSettings("admin create", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	email := s.String("email", "", "", "the member's email address (required)", nil)
	var r models.Role
	s.String("role", "", "admin", "admin, compliance or auditor", func(v string) (err error) {
		r, err = models.ParseRole(v)
		return err
	})
	s.check(func() string {
		if *email == "" {
			return "--email is required: ledgerdesk admin create --email E --role admin|compliance|auditor"
		}
		if err := checkEmail(*email); err != nil {
			return fmt.Sprintf("--email: %q: %v", *email, err)
		}
		return ""
	})
	if err := s.parse(args[1:]); err != nil {
		return err
	}
	db, err := dbo.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	password := models.RandomToken(15)
	m, err := db.CreateMember(ctx, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk admin create"},
		models.NewMember{Email: *email, Role: r, Password: password})
	var merr *models.Error
	if errors.As(err, &merr) && len(merr.Fields) > 0 {
		for field, msg := range merr.Fields {
			fmt.Fprintf(stderr, "%s: %s\n", field, msg)
		}
		return exitCode(1)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created %s (%s), id %s.\nPassword (shown once): %s\n", m.EmailAddress, m.Role.Label(), m.ID, password)
	return nil
}
