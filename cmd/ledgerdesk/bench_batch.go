package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"ledgerdesk/batches"
	"ledgerdesk/models"
)

// benchBatch measures batch actions at the bench's scale: the exact count
// the confirmation page shows and the job's snapshot of its targets, for
// the users in error and for the whole list, and how many users a minute
// the runner resets. The whole-list job is stopped before it runs; the
// other resets the login of the users in error for a while, which leaves
// them in error.
func benchBatch(ctx context.Context, db *models.DB, member *models.TeamMember, runFor time.Duration, stdout io.Writer) error {
	o := models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: member.ID}, UserAgent: "ledgerdesk bench"}
	var inError *models.BatchJob
	for _, c := range []struct {
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
		j, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: sel, Expect: p.Count})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "batch over %s: %s users; confirmation page's count %.0f ms, job with its targets written %.0f ms\n",
			c.name, models.GroupDigits(p.Count), ms64(counted), ms64(time.Since(start)))
		if inError == nil {
			inError = j
			continue
		}
		if err := db.CancelBatch(ctx, o, j.ID); err != nil {
			return err
		}
	}
	// The runner takes the oldest job first: the users in error.
	runCtx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()
	start := time.Now()
	_, err := (&batches.Runner{DB: db}).RunOnce(runCtx)
	if err != nil && runCtx.Err() == nil {
		return err
	}
	took := time.Since(start)
	j, err := db.BatchJobByID(ctx, inError.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "runner: %s of %s users reset in %.1f s (%.0f users/s), each in its own audited transaction\n",
		models.GroupDigits(j.Processed()), models.GroupDigits(j.Total), took.Seconds(), float64(j.Processed())/took.Seconds())
	// Leave nothing running for the next bench: stop both jobs.
	for _, id := range []int64{inError.ID, inError.ID + 1} {
		_ = db.CancelBatch(ctx, o, id)
	}
	for {
		ran, err := (&batches.Runner{DB: db}).RunOnce(ctx)
		if err != nil || !ran {
			return err
		}
	}
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
