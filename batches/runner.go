// Package batches runs the batch actions admins ask for on the users list
// (models.StartBatch) in the background: it claims a job, changes its
// users step by step and finishes it, and picks up a job another process
// left when that process stopped or died.
package batches

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"ledgerdesk/models"
)

// Runner runs batch jobs until its context ends. Several runners, in one
// process or many, may share a database: a job is held by one at a time
// (a lease), and a job whose runner died is taken up once its lease ends.
type Runner struct {
	DB     *models.DB
	Logger *slog.Logger
	// Step is how many users one step changes; the lease is renewed and a
	// request to stop is read between steps.
	Step int
	// Lease is how long a runner holds a job without renewing it.
	Lease time.Duration
	// Poll is the pause after finding nothing to run, and after a failure.
	Poll time.Duration
}

func (r *Runner) defaults() {
	if r.Step == 0 {
		r.Step = 50
	}
	if r.Lease == 0 {
		r.Lease = time.Minute
	}
	if r.Poll == 0 {
		r.Poll = time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}

// Run runs jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	for {
		ran, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.Logger.Warn("batch job stopped; it resumes later", "error", err.Error())
		}
		if ran && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.Poll):
		}
	}
}

// RunOnce claims one job and runs it to its end, or until ctx ends or a
// step fails; it reports whether it found a job. A job left unfinished is
// released so that the next runner resumes it at once.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	r.defaults()
	j, err := r.DB.ClaimBatchJob(ctx, r.Lease)
	if err != nil || j == nil {
		return false, err
	}
	for {
		done, err := r.DB.RunBatchStep(ctx, j, r.Step, r.Lease)
		if err != nil {
			if !errors.Is(err, models.ErrBatchLeaseLost) {
				// Let it go without waiting for the lease: a process
				// stopping, or a database that failed, may hand over.
				if rerr := r.DB.ReleaseBatchJob(context.WithoutCancel(ctx), j); rerr != nil {
					r.Logger.Warn("batch job not released", "job", j.ID, "error", rerr.Error())
				}
			}
			return true, err
		}
		if done {
			r.Logger.Info("batch job finished", "job", j.ID, "action", j.Action, "state", j.State,
				"succeeded", j.Succeeded, "failed", j.Failed)
			return true, nil
		}
	}
}
