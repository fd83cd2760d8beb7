package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// A batch action is one admin action over many end users: reset their
// login (sandbox) or remove them. Asking for one writes a job, its
// targets (the users it covers, fixed then: the count the admin
// confirmed) and one audit entry that lists them, in one transaction. A
// runner (package batches) then changes the targets one by one, each in
// its own audited transaction that also records the target's outcome, so
// a run that stops resumes where it was, a user is never changed twice by
// one job, and a failure on one user is recorded and the rest go on.

// Batch actions.
const (
	BatchResetLogin = "reset_login"
	BatchRemove     = "remove"
)

// States of a batch job.
const (
	BatchQueued     = "queued"
	BatchRunning    = "running"
	BatchCancelling = "cancelling"
	BatchDone       = "done"
	BatchCancelled  = "cancelled"
)

// Outcomes of a batch job's target.
const (
	TargetPending = "pending"
	TargetDone    = "done"
	TargetFailed  = "failed"
)

// Audit actions of batch jobs. Each user's own change is audited under
// its usual action (user.remove, item.reset_login) with the job's id.
const (
	ActionBatchStart  = "user.batch"
	ActionBatchCancel = "user.batch_cancel"
	ActionBatchFinish = "user.batch_finish"
)

// auditListedTargets is how many targets an audit entry lists by id;
// past it the entry gives the filter and the count.
const auditListedTargets = 1000

// inlineTargets is the most targets the request that asks for a job
// writes itself. A larger selection is written by the runner, in a
// transaction of its own, so that a request over a million users answers
// at once and a thousand of them cannot hold a thousand long writes.
var inlineTargets int64 = 10_000

// BatchJob is one batch action and how far it got.
type BatchJob struct {
	ID        int64 `gorm:"primaryKey"`
	Action    string
	State     string
	ActorID   string
	RequestID string
	IP        string
	UserAgent string
	// Selection is the UserSelection asked for, as JSON.
	Selection string
	Total     int64
	Prepared  bool
	// ReachedUserID is the last target the runner reached.
	ReachedUserID int64
	Succeeded     int64
	Failed        int64
	Note          string
	CreatedAt     time.Time
	StartedAt     *time.Time
	FinishedAt    *time.Time
	LeaseUntil    *time.Time
	LeaseToken    string
}

func (BatchJob) TableName() string { return "batch_jobs" }

// Finished reports whether the job will change nothing more.
func (j *BatchJob) Finished() bool { return j.State == BatchDone || j.State == BatchCancelled }

// Processed is how many targets have an outcome.
func (j *BatchJob) Processed() int64 { return j.Succeeded + j.Failed }

// Selected is the selection the job was asked for.
func (j *BatchJob) Selected() UserSelection {
	var s storedSelection
	_ = json.Unmarshal([]byte(j.Selection), &s)
	return UserSelection{ByFilter: s.Filter != nil, Filter: s.filter(), IDs: s.IDs}
}

// origin is who the job's changes are from: the member who asked, from
// where they asked.
func (j *BatchJob) origin() Origin {
	return Origin{Actor: Actor{Type: ActorMember, ID: j.ActorID}, RequestID: j.RequestID, IP: j.IP, UserAgent: j.UserAgent}
}

func (j *BatchJob) target() Target { return Target{Type: "batch_job", ID: strconv.FormatInt(j.ID, 10)} }

// storedSelection is a UserSelection as a job keeps it.
type storedSelection struct {
	IDs    []int64           `json:"ids,omitempty"`
	Filter map[string]string `json:"filter,omitempty"`
}

func (s storedSelection) filter() UserFilter {
	f := s.Filter
	return UserFilter{Search: f["q"], Status: f["status"], Health: f["health"], Institution: f["institution"],
		ErrorCode: f["error_code"], CreatedFrom: f["created_from"]}
}

func storeSelection(s UserSelection) string {
	st := storedSelection{IDs: s.IDs}
	if s.ByFilter {
		st.Filter = map[string]string{}
		for k, v := range s.Filter.Values() {
			st.Filter[k] = v[0]
		}
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// BatchTarget is one user of a batch job and what became of them.
type BatchTarget struct {
	BatchJobID int64 `gorm:"primaryKey"`
	EndUserID  int64 `gorm:"primaryKey"`
	Outcome    string
	Message    string
}

func (BatchTarget) TableName() string { return "batch_job_targets" }

// batchActions are the actions a batch runs, by name: each is one user's
// change inside the transaction that records the target's outcome.
var batchActions = map[string]func(db *DB, tx *gorm.DB, j *BatchJob, userID int64) (Change, error){
	BatchResetLogin: func(_ *DB, tx *gorm.DB, j *BatchJob, userID int64) (Change, error) {
		c, _, err := resetLogin(tx, j.RequestID, userID, nil)
		return c, err
	},
	BatchRemove: func(db *DB, tx *gorm.DB, _ *BatchJob, userID int64) (Change, error) {
		return db.removeEndUser(tx, userID, func(*EndUser) error { return nil })
	},
}

// BatchActionLabel is how pages name an action: "reset login".
func BatchActionLabel(action string) string {
	switch action {
	case BatchResetLogin:
		return "reset login"
	case BatchRemove:
		return "remove"
	}
	return action
}

// eligible is the query for the users of s a batch action may change:
// those not removed.
func (db *DB) eligible(ctx context.Context, s UserSelection) *gorm.DB {
	return db.selected(ctx, s).Where("removed_at IS NULL")
}

// BatchPreview is what a batch action would cover, for the page that
// asks to confirm it.
type BatchPreview struct {
	Selection UserSelection
	// Count is how many users the action would change: the selection's
	// users that are not removed.
	Count int64
	// Sample is the first of them, newest first.
	Sample []EndUser
}

// previewSample is how many users the confirmation page lists.
const previewSample = 10

// PreviewBatch counts the users a batch action over s would change, and
// returns the first few. It counts exactly: the count is what the admin
// confirms.
func (db *DB) PreviewBatch(ctx context.Context, s UserSelection) (*BatchPreview, error) {
	return db.preview(ctx, s, db.eligible)
}

// PreviewExport counts the users an export of s would hold, whatever
// their state, and returns the first few.
func (db *DB) PreviewExport(ctx context.Context, s UserSelection) (*BatchPreview, error) {
	return db.preview(ctx, s, db.selected)
}

func (db *DB) preview(ctx context.Context, s UserSelection, users func(context.Context, UserSelection) *gorm.DB) (*BatchPreview, error) {
	s, err := s.Normalize()
	if err != nil {
		return nil, err
	}
	p := &BatchPreview{Selection: s}
	if err := users(ctx, s).Count(&p.Count).Error; err != nil {
		return nil, fmt.Errorf("count selected users: %w", err)
	}
	p.Sample, err = listRows.query(db, users(ctx, s).Order(userCursors.newestFirst).Limit(previewSample),
		make([]EndUser, 0, previewSample))
	if err != nil {
		return nil, fmt.Errorf("selected users: %w", err)
	}
	return p, nil
}

// BatchRequest asks for a batch action.
type BatchRequest struct {
	Action    string
	Selection UserSelection
	// Expect is the count the admin was shown; a selection that has
	// changed since is refused, to be reviewed again.
	Expect int64
	// Confirm, for a removal, is the count typed by the admin.
	Confirm string
}

// StartBatch writes a batch job, its targets and the user.batch audit
// entry listing them, in one transaction, and returns the job, queued for
// a runner.
func (db *DB) StartBatch(ctx context.Context, o Origin, r BatchRequest) (*BatchJob, error) {
	if _, ok := batchActions[r.Action]; !ok {
		return nil, FieldErrors{"action": "Choose an action: reset login or remove."}.Err()
	}
	if o.Actor.Type != ActorMember {
		return nil, &Error{Kind: KindForbidden, Message: "Only a team member can start a batch action."}
	}
	if r.Action == BatchRemove {
		// A removal waits for a second admin while approvals are
		// required; a batch would go round that.
		settings, err := db.Settings(ctx)
		if err != nil {
			return nil, err
		}
		if settings.ApprovalsRequired {
			return nil, &Error{Kind: KindConflict, Message: "Removing users needs a second admin's approval while approvals are required: " +
				"ask for each removal on the user's page. Nothing was changed."}
		}
	}
	s, err := r.Selection.Normalize()
	if err != nil {
		return nil, err
	}
	job := &BatchJob{Action: r.Action, State: BatchQueued, ActorID: o.Actor.ID, RequestID: o.RequestID,
		IP: o.IP, UserAgent: o.UserAgent, Selection: storeSelection(s)}
	if s.ByFilter && r.Expect > inlineTargets {
		return db.startLargeBatch(ctx, o, r, s, job)
	}
	apply := db.Apply
	if s.ByFilter {
		// Up to inlineTargets rows: a transaction of its own, not one a
		// committer shares with other changes waiting behind it.
		apply = db.applyAlone
	}
	err = apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		job.ID, job.CreatedAt, job.Prepared = 0, Now(), true
		if err := tx.Create(job).Error; err != nil {
			return Change{}, fmt.Errorf("create batch job: %w", err)
		}
		n, err := db.writeTargets(ctx, tx, job, s)
		if err != nil {
			return Change{}, err
		}
		if err := checkBatchCount(r, n); err != nil {
			return Change{}, err
		}
		job.Total = n
		if err := tx.Model(job).Update("total", n).Error; err != nil {
			return Change{}, fmt.Errorf("count batch targets: %w", err)
		}
		after := s.auditValue()
		after["action"], after["count"] = r.Action, n
		delete(after, "ids") // the ids ticked; the targets are listed below
		if n <= auditListedTargets {
			ids, err := targetIDs(tx, job.ID, auditListedTargets)
			if err != nil {
				return Change{}, err
			}
			after["ids"] = ids
		}
		return Change{Action: ActionBatchStart, Target: job.target(), After: after}, nil
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// startLargeBatch writes a job over more than inlineTargets users without
// its targets: the runner writes them first, and stops the job, changing
// no one, if the selection no longer holds the count confirmed.
func (db *DB) startLargeBatch(ctx context.Context, o Origin, r BatchRequest, s UserSelection, job *BatchJob) (*BatchJob, error) {
	if err := checkBatchCount(r, r.Expect); err != nil {
		return nil, err
	}
	err := db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		job.ID, job.CreatedAt, job.Total = 0, Now(), r.Expect
		if err := tx.Create(job).Error; err != nil {
			return Change{}, fmt.Errorf("create batch job: %w", err)
		}
		after := s.auditValue()
		after["action"], after["count"] = r.Action, r.Expect
		return Change{Action: ActionBatchStart, Target: job.target(), After: after}, nil
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// writeTargets writes the users of s a job may change as its targets, and
// returns how many. A job written before its targets takes the users
// created up to the job.
func (db *DB) writeTargets(ctx context.Context, tx *gorm.DB, j *BatchJob, s UserSelection) (int64, error) {
	users := db.eligible(ctx, s).Where("created_at <= ?", j.CreatedAt).Select("end_users.id")
	res := tx.Exec("INSERT INTO batch_job_targets (batch_job_id, end_user_id) SELECT CAST(? AS BIGINT), picked.id FROM (?) AS picked",
		j.ID, users)
	if res.Error != nil {
		return 0, fmt.Errorf("write batch targets: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// prepareBatch writes the targets of a job started without them. It
// reports false, writing nothing, when the selection no longer holds the
// count confirmed.
func (db *DB) prepareBatch(ctx context.Context, j *BatchJob) (bool, int64, error) {
	var n int64
	errChanged := errors.New("the selection changed")
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if n, err = db.writeTargets(ctx, tx, j, j.Selected()); err != nil {
			return err
		}
		if n != j.Total {
			return errChanged
		}
		return tx.Model(&BatchJob{}).Where("id = ? AND lease_token = ?", j.ID, j.LeaseToken).Update("prepared", true).Error
	})
	if errors.Is(err, errChanged) {
		return false, n, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("prepare batch job %d: %w", j.ID, err)
	}
	j.Prepared = true
	return true, n, nil
}

// checkBatchCount refuses a batch whose selection no longer holds the
// count the admin reviewed, or a removal whose typed count is not it.
func checkBatchCount(r BatchRequest, n int64) error {
	if n == 0 {
		return &Error{Kind: KindConflict, Message: "No user in this selection can be changed: they are all removed or gone."}
	}
	if n != r.Expect {
		return &Error{Kind: KindConflict, Message: fmt.Sprintf(
			"The selection now holds %s users, not %s: it changed since you reviewed it. Check the new count.",
			GroupDigits(n), GroupDigits(r.Expect))}
	}
	if r.Action == BatchRemove {
		typed, ok := parseCount(r.Confirm)
		if !ok || typed != n {
			return FieldErrors{"confirm": fmt.Sprintf("Type %s, the number of users to remove, to confirm.", GroupDigits(n))}.Err()
		}
	}
	return nil
}

// parseCount reads a typed count, with or without separators: 1234,
// 1,234, 1 234.
func parseCount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 32 {
		return 0, false
	}
	s = strings.NewReplacer(",", "", " ", "", "\u00a0", "", "\u202f", "", "_", "").Replace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// targetIDs lists up to limit of a job's targets, by id.
func targetIDs(tx *gorm.DB, jobID int64, limit int) ([]int64, error) {
	var ids []int64
	err := tx.Model(&BatchTarget{}).Where("batch_job_id = ?", jobID).Order("end_user_id").Limit(limit).Pluck("end_user_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list batch targets: %w", err)
	}
	return ids, nil
}

// CancelBatch asks a job to stop: its runner stops before the next user,
// and the users already changed stay changed. Audited as
// user.batch_cancel.
func (db *DB) CancelBatch(ctx context.Context, o Origin, id int64) error {
	return db.Apply(ctx, o, func(tx *gorm.DB) (Change, error) {
		res := tx.Model(&BatchJob{}).Where("id = ? AND state IN ?", id, []string{BatchQueued, BatchRunning}).
			Update("state", BatchCancelling)
		if res.Error != nil {
			return Change{}, fmt.Errorf("cancel batch job %d: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&BatchJob{}).Where("id = ?", id).Count(&n).Error; err != nil {
				return Change{}, err
			}
			if n == 0 {
				return Change{}, notFound("No batch job %d.", id)
			}
			return Change{}, &Error{Kind: KindConflict, Message: "This batch job has already finished or is stopping."}
		}
		return Change{Action: ActionBatchCancel, Target: Target{Type: "batch_job", ID: strconv.FormatInt(id, 10)},
			After: map[string]any{"state": BatchCancelling}}, nil
	})
}

// BatchJobByID returns a job.
func (db *DB) BatchJobByID(ctx context.Context, id int64) (*BatchJob, error) {
	var j BatchJob
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&j).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound("No batch job %d.", id)
		}
		return nil, fmt.Errorf("batch job %d: %w", id, err)
	}
	return &j, nil
}

// BatchFailures returns up to limit of a job's failed targets, by user id,
// and how many failed in all.
func (db *DB) BatchFailures(ctx context.Context, id int64, limit int) ([]BatchTarget, error) {
	var out []BatchTarget
	err := db.gorm.WithContext(ctx).Where("batch_job_id = ? AND outcome = ?", id, TargetFailed).
		Order("end_user_id").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("failures of batch job %d: %w", id, err)
	}
	return out, nil
}

// BatchJobPageRequest asks for a page of the batch jobs, newest first.
type BatchJobPageRequest struct {
	Cursor string
	Limit  int
}

// BatchJobPage is one page of batch jobs.
type BatchJobPage struct {
	Jobs []BatchJob
	PageCursors
}

var batchCursors = newCursorList('b', false, "id")

// ListBatchJobs returns a page of the batch jobs, newest first.
func (db *DB) ListBatchJobs(ctx context.Context, r BatchJobPageRequest) (*BatchJobPage, error) {
	if r.Limit <= 0 || r.Limit > 100 {
		r.Limit = 25
	}
	from, err := batchCursors.decode(r.Cursor)
	if err != nil {
		return nil, err
	}
	var rows []BatchJob
	if err := batchCursors.seek(db.gorm.WithContext(ctx).Model(&BatchJob{}), from).Limit(r.Limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list batch jobs: %w", err)
	}
	page := &BatchJobPage{}
	page.Jobs, page.PageCursors = keysetPage(batchCursors, rows, r.Limit, from, func(j *BatchJob) cursor { return cursor{id: j.ID} })
	return page, nil
}

// ClaimBatchJob takes the oldest unfinished job no runner holds, for
// lease; nil when there is none. Several runners, in one process or many,
// may claim: a job is held by one at a time.
func (db *DB) ClaimBatchJob(ctx context.Context, lease time.Duration) (*BatchJob, error) {
	now := Now()
	var open []BatchJob
	err := db.gorm.WithContext(ctx).Where("state IN ? AND (lease_until IS NULL OR lease_until < ?)",
		[]string{BatchQueued, BatchRunning, BatchCancelling}, now).Order("id").Limit(5).Find(&open).Error
	if err != nil {
		return nil, fmt.Errorf("find batch jobs: %w", err)
	}
	for i := range open {
		j := &open[i]
		token := NewMemberID()
		until := now.Add(lease)
		cols := map[string]any{"lease_until": until, "lease_token": token}
		if j.State == BatchQueued {
			cols["state"], cols["started_at"] = BatchRunning, now
		}
		res := db.gorm.WithContext(ctx).Model(&BatchJob{}).
			Where("id = ? AND lease_token = ? AND (lease_until IS NULL OR lease_until < ?)", j.ID, j.LeaseToken, now).
			Updates(cols)
		if res.Error != nil {
			return nil, fmt.Errorf("claim batch job %d: %w", j.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			continue // another runner took it first
		}
		claimed, err := db.BatchJobByID(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		// A runner that stopped mid-step may have recorded outcomes
		// without counting them: count again from the targets.
		if err := db.recountBatch(ctx, claimed); err != nil {
			return nil, err
		}
		return claimed, nil
	}
	return nil, nil
}

// recountBatch sets the job's counts from its targets' outcomes.
func (db *DB) recountBatch(ctx context.Context, j *BatchJob) error {
	var rows []struct {
		Outcome string
		N       int64
	}
	err := db.gorm.WithContext(ctx).Model(&BatchTarget{}).Select("outcome, COUNT(*) AS n").
		Where("batch_job_id = ? AND outcome <> ?", j.ID, TargetPending).Group("outcome").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("count outcomes of batch job %d: %w", j.ID, err)
	}
	j.Succeeded, j.Failed = 0, 0
	for _, r := range rows {
		switch r.Outcome {
		case TargetDone:
			j.Succeeded = r.N
		case TargetFailed:
			j.Failed = r.N
		}
	}
	return db.gorm.WithContext(ctx).Model(&BatchJob{}).Where("id = ?", j.ID).
		Updates(map[string]any{"succeeded": j.Succeeded, "failed": j.Failed}).Error
}

// ErrBatchLeaseLost says another runner holds the job now: this one must
// stop working on it.
var ErrBatchLeaseLost = errors.New("batch job: lease lost")

// RunBatchStep changes the job's next size pending targets and extends
// its lease, or finishes the job when none is left, when it was asked to
// stop, or when the member who asked may no longer change users. It
// reports whether the job is finished. A target whose change is refused
// (a domain error: the user was removed meanwhile) is recorded as failed
// and the rest go on; any other error stops the step, leaving the target
// pending for the next one.
func (db *DB) RunBatchStep(ctx context.Context, j *BatchJob, size int, lease time.Duration) (bool, error) {
	if err := db.renewBatchLease(ctx, j, lease); err != nil {
		return false, err
	}
	if j.State == BatchCancelling {
		return true, db.finishBatch(ctx, j, BatchCancelled, "Stopped on request.")
	}
	if ok, err := db.actorMayChangeUsers(ctx, j.ActorID); err != nil {
		return false, err
	} else if !ok {
		return true, db.finishBatch(ctx, j, BatchCancelled, "Stopped: the member who asked for it is no longer an active admin.")
	}
	if !j.Prepared {
		ok, n, err := db.prepareBatch(ctx, j)
		if err != nil {
			return false, err
		}
		if !ok {
			return true, db.finishBatch(ctx, j, BatchCancelled, fmt.Sprintf(
				"Stopped before any change: the selection held %s users when the job started, not the %s confirmed.",
				GroupDigits(n), GroupDigits(j.Total)))
		}
		return false, nil
	}
	var pending []int64
	err := db.gorm.WithContext(ctx).Model(&BatchTarget{}).
		Where("batch_job_id = ? AND end_user_id > ? AND outcome = ?", j.ID, j.ReachedUserID, TargetPending).
		Order("end_user_id").Limit(size).Pluck("end_user_id", &pending).Error
	if err != nil {
		return false, fmt.Errorf("next targets of batch job %d: %w", j.ID, err)
	}
	if len(pending) == 0 {
		return true, db.finishBatch(ctx, j, BatchDone, "")
	}
	succeeded, failed, err := db.changeTargets(ctx, j, pending)
	if succeeded+failed > 0 {
		j.Succeeded += succeeded
		j.Failed += failed
		cols := map[string]any{"succeeded": gorm.Expr("succeeded + ?", succeeded), "failed": gorm.Expr("failed + ?", failed)}
		if err == nil {
			j.ReachedUserID = pending[len(pending)-1]
			cols["reached_user_id"] = j.ReachedUserID
		}
		// Counted after the step; a runner that stops before this line
		// leaves the next claim to count again.
		if uerr := db.gorm.WithContext(context.WithoutCancel(ctx)).Model(&BatchJob{}).Where("id = ?", j.ID).Updates(cols).Error; uerr != nil && err == nil {
			err = fmt.Errorf("count batch progress: %w", uerr)
		}
	}
	return false, err
}

// changeTargets changes the users ids names for the job, several at once
// where commits are grouped (each change is still its own transaction),
// and records a refused one as failed. It stops at the first other error.
func (db *DB) changeTargets(ctx context.Context, j *BatchJob, ids []int64) (succeeded, failed int64, err error) {
	parallel := 1
	if db.Dialect.groupsCommits() {
		parallel = batchParallel
	}
	var mu sync.Mutex
	var firstErr error
	next := make(chan int64)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				err := db.changeTarget(ctx, j, id)
				var merr *Error
				if errors.As(err, &merr) && merr.Kind != KindInternal {
					err = db.failTarget(ctx, j.ID, id, merr.Message)
					if err == nil {
						mu.Lock()
						failed++
						mu.Unlock()
						continue
					}
				}
				mu.Lock()
				if err == nil {
					succeeded++
				} else if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- id
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return succeeded, failed, firstErr
}

// batchParallel is how many users a runner changes at once on
// PostgreSQL: enough to fill a group commit, few enough to leave the
// pool to the pages.
const batchParallel = 8

// changeTarget makes the job's change to one user and records the
// target's outcome, in one audited transaction.
func (db *DB) changeTarget(ctx context.Context, j *BatchJob, userID int64) error {
	return db.Apply(ctx, j.origin(), func(tx *gorm.DB) (Change, error) {
		res := tx.Model(&BatchTarget{}).Where("batch_job_id = ? AND end_user_id = ? AND outcome = ?", j.ID, userID, TargetPending).
			Update("outcome", TargetDone)
		if res.Error != nil {
			return Change{}, fmt.Errorf("record batch target: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return Change{}, ErrBatchLeaseLost // another runner did it
		}
		c, err := batchActions[j.Action](db, tx, j, userID)
		if err != nil {
			return Change{}, err
		}
		if c.After == nil {
			c.After = map[string]any{}
		}
		c.After["batch_job"] = j.ID
		return c, nil
	})
}

// failTarget records why one user could not be changed.
func (db *DB) failTarget(ctx context.Context, jobID, userID int64, why string) error {
	err := db.gorm.WithContext(ctx).Model(&BatchTarget{}).
		Where("batch_job_id = ? AND end_user_id = ? AND outcome = ?", jobID, userID, TargetPending).
		Updates(map[string]any{"outcome": TargetFailed, "message": why}).Error
	if err != nil {
		return fmt.Errorf("record batch failure: %w", err)
	}
	return nil
}

// renewBatchLease extends the runner's hold on the job and reads the
// state it is in (an admin may have asked it to stop).
func (db *DB) renewBatchLease(ctx context.Context, j *BatchJob, lease time.Duration) error {
	until := Now().Add(lease)
	res := db.gorm.WithContext(ctx).Model(&BatchJob{}).Where("id = ? AND lease_token = ?", j.ID, j.LeaseToken).
		Update("lease_until", until)
	if res.Error != nil {
		return fmt.Errorf("renew batch lease: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrBatchLeaseLost
	}
	var state string
	if err := db.gorm.WithContext(ctx).Model(&BatchJob{}).Where("id = ?", j.ID).Pluck("state", &state).Error; err != nil {
		return fmt.Errorf("read batch state: %w", err)
	}
	j.State, j.LeaseUntil = state, &until
	return nil
}

// ReleaseBatchJob lets another runner take the job at once: for a runner
// stopping before the job is finished.
func (db *DB) ReleaseBatchJob(ctx context.Context, j *BatchJob) error {
	return db.gorm.WithContext(ctx).Model(&BatchJob{}).Where("id = ? AND lease_token = ?", j.ID, j.LeaseToken).
		Update("lease_until", nil).Error
}

// actorMayChangeUsers reports whether a member is an active admin: a
// job goes on only while the member who asked could still ask.
func (db *DB) actorMayChangeUsers(ctx context.Context, memberID string) (bool, error) {
	var n int64
	err := db.gorm.WithContext(ctx).Model(&TeamMember{}).
		Where("id = ? AND status = ? AND role = ?", memberID, MemberActive, RoleAdmin).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check batch requester: %w", err)
	}
	return n == 1, nil
}

// finishBatch closes the job in a state, with the user.batch_finish entry
// that reports its counts and failures.
func (db *DB) finishBatch(ctx context.Context, j *BatchJob, state, note string) error {
	return db.Apply(ctx, j.origin(), func(tx *gorm.DB) (Change, error) {
		var counts struct{ Done, Failed, Pending int64 }
		err := tx.Model(&BatchTarget{}).Where("batch_job_id = ?", j.ID).Select(
			"COALESCE(SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END), 0) AS done, "+
				"COALESCE(SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END), 0) AS failed, "+
				"COALESCE(SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END), 0) AS pending",
			TargetDone, TargetFailed, TargetPending).Scan(&counts).Error
		if err != nil {
			return Change{}, fmt.Errorf("count outcomes of batch job %d: %w", j.ID, err)
		}
		now := Now()
		res := tx.Model(&BatchJob{}).
			Where("id = ? AND lease_token = ? AND state IN ?", j.ID, j.LeaseToken, []string{BatchRunning, BatchCancelling}).
			Updates(map[string]any{"state": state, "note": note, "finished_at": now, "lease_until": nil,
				"succeeded": counts.Done, "failed": counts.Failed})
		if res.Error != nil {
			return Change{}, fmt.Errorf("finish batch job %d: %w", j.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			return Change{}, ErrBatchLeaseLost
		}
		failedIDs := []int64{}
		err = tx.Model(&BatchTarget{}).Where("batch_job_id = ? AND outcome = ?", j.ID, TargetFailed).
			Order("end_user_id").Limit(auditListedTargets).Pluck("end_user_id", &failedIDs).Error
		if err != nil {
			return Change{}, fmt.Errorf("list failures of batch job %d: %w", j.ID, err)
		}
		j.State, j.Note, j.FinishedAt, j.Succeeded, j.Failed = state, note, &now, counts.Done, counts.Failed
		after := map[string]any{"state": state, "succeeded": counts.Done, "failed": counts.Failed,
			"not_run": counts.Pending, "failed_ids": failedIDs}
		if note != "" {
			after["note"] = note
		}
		return Change{Action: ActionBatchFinish, Target: j.target(), After: after}, nil
	})
}
