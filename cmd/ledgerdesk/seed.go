package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
)

func seed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("seed", getenv, stderr)
	var dbo dbOptions
	dbo.register(s)
	users := s.RequiredInt("users", 1, maxSeedUsers, "how many end users to make (each with 0-5 items)",
		"--users is required: usage: ledgerdesk seed --users N [--seed S]")
	seedValue := s.Uint64("seed", 1, "the same seed makes the same people and items")
	environment := environmentSetting(s)
	s.checkSecrets()
	if err := s.parse(args); err != nil {
		return err
	}
	db, _, err := dbo.openWithPII(ctx, getenv, false, *environment)
	if err != nil {
		return err
	}
	defer db.Close()

	bar := progressBar{w: stdout, began: time.Now()}
	res, err := demo.Seed(ctx, db, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk seed"},
		demo.Options{Users: *users, Seed: *seedValue, Note: bar.note}, bar.draw)
	if bar.drawn {
		fmt.Fprintln(stdout)
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("%w (seed runs as the tables' owner: use the owner's DATABASE_URL)", err)
		}
		return err
	}
	secs := res.Elapsed.Seconds()
	fmt.Fprintf(stdout, "Seeded %s users (ids %d-%d) with %s items, %s in error (%.1f%%), in %.1f s: %s users/s, %s rows/s.\n",
		thousands(res.Users), res.FirstID, res.LastID, thousands(res.Items), thousands(res.ErrorItems),
		100*float64(res.ErrorItems)/float64(max(res.Items, 1)), secs,
		thousands(int(float64(res.Users)/secs)), thousands(int(float64(res.Users+res.Items)/secs)))
	return nil
}

// progressBar draws `[#####.....] 45% 450000/1000000 users  12.3 s` over
// itself on a terminal line, and then what the seed does after the last
// batch.
type progressBar struct {
	w           io.Writer
	began       time.Time
	drawn       bool
	done, total int
}

func (p *progressBar) draw(done, total int) {
	const width = 30
	p.done, p.total = done, total
	filled := width * done / max(total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d users  %.1f s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		100*done/max(total, 1), done, total, time.Since(p.began).Seconds())
	p.drawn = true
}

func (p *progressBar) note(msg string) {
	p.draw(p.done, p.total)
	fmt.Fprintf(p.w, "  %s...", msg)
}

// thousands writes n with comma separators: 1,000,000.
func thousands(n int) string { return models.GroupDigits(int64(n)) }
