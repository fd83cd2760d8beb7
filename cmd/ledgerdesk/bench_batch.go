package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"ledgerdesk/models"
)

// benchBatch measures batch actions at the bench's scale, for the users in
// error and for the whole list: the exact count the confirmation page
// shows, starting the job (the request), the runner writing its targets,
// and how many users a second the runner resets in runFor. The jobs are
// stopped afterwards; the users whose login was reset stay in error.
func benchBatch(ctx context.Context, db *models.DB, member *models.TeamMember, runFor time.Duration, stdout io.Writer) error {
	o := models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: member.ID}, UserAgent: "ledgerdesk bench"}
	const lease = time.Minute
	for i, c := range []struct {
		name   string
		filter models.UserFilter
	}{{"users in error", models.UserFilter{Health: models.HealthError}}, {"every active user", models.UserFilter{}}} {
		sel := models.UserSelection{ByFilter: true, Filter: c.filter}
		start := time.Now()
		p, err := db.PreviewBatch(ctx, sel)
		if err != nil {
			return err
		}
		counted := time.Since(start)
		start = time.Now()
		if _, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: sel, Expect: p.Count}); err != nil {
			return err
		}
		started := time.Since(start)
		j, err := db.ClaimBatchJob(ctx, lease)
		if err != nil || j == nil {
			return errors.Join(errors.New("no job to claim"), err)
		}
		start = time.Now()
		if _, err := db.RunBatchStep(ctx, j, 50, lease); err != nil { // the first step writes the targets
			return err
		}
		fmt.Fprintf(stdout, "batch over %s (%s users): confirmation page's count %.0f ms, request starting the job %.0f ms, runner writing its targets %.0f ms\n",
			c.name, models.GroupDigits(p.Count), ms64(counted), ms64(started), ms64(time.Since(start)))
		if i == 0 {
			start = time.Now()
			for time.Since(start) < runFor {
				if _, err := db.RunBatchStep(ctx, j, 50, lease); err != nil {
					return err
				}
			}
			took := time.Since(start)
			fmt.Fprintf(stdout, "runner: %s users reset in %.1f s (%.0f users/s), each in its own audited transaction\n",
				models.GroupDigits(j.Processed()), took.Seconds(), float64(j.Processed())/took.Seconds())
		}
		if err := db.CancelBatch(ctx, o, j.ID); err != nil {
			return err
		}
		if _, err := db.RunBatchStep(ctx, j, 50, lease); err != nil {
			return err
		}
	}
	return nil
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
