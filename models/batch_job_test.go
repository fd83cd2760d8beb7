package models_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

const batchLease = time.Minute

// batchAdmin is an active admin and the origin of their requests.
func batchAdmin(t *testing.T, db *models.DB) (*models.TeamMember, models.Origin) {
	t.Helper()
	m := insertMember(t, db, "batch-"+models.RandomHex(3)+"@example.com", models.MemberActive, "x")
	return m, models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: m.ID}, RequestID: "req-batch",
		IP: "192.0.2.9", UserAgent: "models-test"}
}

// usersWithItems creates n users, each with one healthy item.
func usersWithItems(t *testing.T, db *models.DB, prefix string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		u := createUser(t, db, prefix+strconv.Itoa(i), nil)
		addItem(t, db, u.User.ID, nil, nil)
		ids[i] = u.User.ID
	}
	return ids
}

// runBatch claims the job and runs it to its end, step by step.
func runBatch(t *testing.T, db *models.DB, size int) *models.BatchJob {
	t.Helper()
	j, err := db.ClaimBatchJob(ctx, batchLease)
	if err != nil || j == nil {
		t.Fatalf("claim: %v, %v", j, err)
	}
	for range 1000 {
		done, err := db.RunBatchStep(ctx, j, size, batchLease)
		if err != nil {
			t.Fatalf("step: %v", err)
		}
		if done {
			return j
		}
	}
	t.Fatal("the job did not finish")
	return nil
}

func auditAfter(t *testing.T, e models.AuditEntry) map[string]any {
	t.Helper()
	var d struct{ After map[string]any }
	if err := json.Unmarshal([]byte(e.Diff), &d); err != nil {
		t.Fatalf("diff of %s: %v", e.Action, err)
	}
	return d.After
}

func TestBatch_ResetLoginOfTickedUsers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "tick-", 4)
		if err := db.RemoveEndUser(ctx, adminOrigin, ids[3], "tick-3"); err != nil {
			t.Fatal(err)
		}
		sel := models.UserSelection{IDs: []int64{ids[2], ids[0], ids[1], ids[3], ids[0]}}

		p, err := db.PreviewBatch(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		if p.Count != 3 || len(p.Sample) != 3 || p.Sample[0].ID != ids[2] {
			t.Fatalf("preview: count %d, sample %v; want 3 users, the removed one left out, newest first", p.Count, p.Sample)
		}
		job, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: sel, Expect: 3})
		if err != nil {
			t.Fatal(err)
		}
		if job.Total != 3 || job.State != models.BatchQueued {
			t.Fatalf("job: %+v", job)
		}
		start := entriesWithAction(t, db, models.ActionBatchStart)
		if len(start) != 1 || start[0].TargetID != strconv.FormatInt(job.ID, 10) || start[0].ActorID != o.Actor.ID {
			t.Fatalf("start entries: %+v", start)
		}
		after := auditAfter(t, start[0])
		if after["action"] != "reset_login" || after["count"] != float64(3) || len(after["ids"].([]any)) != 3 {
			t.Fatalf("start entry lists %v", after)
		}

		j := runBatch(t, db, 2)
		if j.State != models.BatchDone || j.Succeeded != 3 || j.Failed != 0 {
			t.Fatalf("finished job: %+v", j)
		}
		for _, id := range ids[:3] {
			if u := reloadUser(t, db, id); u.ErrorItemCount != 1 {
				t.Errorf("user %d: %d items in error, want its item reset", id, u.ErrorItemCount)
			}
		}
		resets := entriesWithAction(t, db, "item.reset_login")
		if len(resets) != 3 {
			t.Fatalf("%d item.reset_login entries, want one per user", len(resets))
		}
		for _, e := range resets {
			if e.ActorID != o.Actor.ID || auditAfter(t, e)["batch_job"] != float64(job.ID) {
				t.Errorf("per-user entry %+v does not carry the member and the job", e)
			}
		}
		finish := entriesWithAction(t, db, models.ActionBatchFinish)
		if len(finish) != 1 || auditAfter(t, finish[0])["succeeded"] != float64(3) {
			t.Fatalf("finish entries: %+v", finish)
		}
		// Finished: a runner finds nothing more to claim.
		if again, err := db.ClaimBatchJob(ctx, batchLease); err != nil || again != nil {
			t.Fatalf("claim after the end: %v, %v", again, err)
		}
	})
}

func TestBatch_RemoveByFilterNeedsTheTypedCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "gone-", 3)
		for _, id := range ids {
			addItem(t, db, id, plaidError("ITEM_LOCKED"), nil)
		}
		usersWithItems(t, db, "kept-", 2)
		sel := models.UserSelection{ByFilter: true, Filter: models.UserFilter{ErrorCode: "ITEM_LOCKED"}}
		p, err := db.PreviewBatch(ctx, sel)
		if err != nil || p.Count != 3 {
			t.Fatalf("preview: %+v, %v", p, err)
		}
		before := len(entries(t, db))
		for _, typed := range []string{"", "2", "three", "3x", "\x00", strings.Repeat("9", 100)} {
			_, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove, Selection: sel, Expect: 3, Confirm: typed})
			if e := domainError(t, err, models.KindInvalid); e.Fields["confirm"] != "Type 3, the number of users to remove, to confirm." {
				t.Errorf("typed %q: %v", typed, e.Fields)
			}
		}
		// The selection changed since it was reviewed: asked again.
		_, err = db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove, Selection: sel, Expect: 4, Confirm: "4"})
		if e := domainError(t, err, models.KindConflict); !strings.Contains(e.Message, "now holds 3 users, not 4") {
			t.Errorf("stale count: %s", e.Message)
		}
		if n := countRows(t, db, "batch_jobs") + countRows(t, db, "batch_job_targets"); n != 0 || len(entries(t, db)) != before {
			t.Fatalf("a refused batch left %d rows and %d audit entries", n, len(entries(t, db))-before)
		}

		job, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove, Selection: sel, Expect: 3, Confirm: " 3 "})
		if err != nil {
			t.Fatal(err)
		}
		after := auditAfter(t, entriesWithAction(t, db, models.ActionBatchStart)[0])
		if f, _ := after["filter"].(map[string]any); f["error_code"] != "ITEM_LOCKED" || after["count"] != float64(3) || len(after["ids"].([]any)) != 3 {
			t.Fatalf("the start entry lists %v, want the filter, the count and the ids", after)
		}
		j := runBatch(t, db, 10)
		if j.ID != job.ID || j.Succeeded != 3 {
			t.Fatalf("job: %+v", j)
		}
		for _, id := range ids {
			if !reloadUser(t, db, id).Removed() {
				t.Errorf("user %d is not removed", id)
			}
		}
		if n := countRows(t, db, "end_users WHERE removed_at IS NULL"); n != 2 {
			t.Errorf("%d users left, want the 2 the filter did not select", n)
		}
	})
}

func TestBatch_ResumesWhereItStoppedAndReportsEachFailure(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "res-", 12)
		job, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove,
			Selection: models.UserSelection{IDs: ids}, Expect: 12, Confirm: "12"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := db.ClaimBatchJob(ctx, batchLease)
		if err != nil || first == nil {
			t.Fatal(err)
		}
		if done, err := db.RunBatchStep(ctx, first, 5, batchLease); err != nil || done {
			t.Fatalf("step: %v %v", done, err)
		}
		// Someone removes two of the remaining users by hand; then the
		// runner dies holding the job (a step cut short: its counts
		// unwritten), and its lease runs out.
		for _, i := range []int{7, 10} {
			if err := db.RemoveEndUser(ctx, adminOrigin, ids[i], "res-"+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		exec(t, db, "UPDATE batch_jobs SET succeeded = 0, lease_until = ? WHERE id = ?", models.Now().Add(-time.Second), job.ID)

		second, err := db.ClaimBatchJob(ctx, batchLease)
		if err != nil || second == nil || second.ID != job.ID {
			t.Fatalf("second claim: %v %v", second, err)
		}
		if second.Succeeded != 5 {
			t.Fatalf("resumed with %d done, want the 5 counted again from the targets", second.Succeeded)
		}
		if _, err := db.RunBatchStep(ctx, first, 5, batchLease); err == nil {
			t.Fatal("the first runner's lease still works")
		}
		for {
			done, err := db.RunBatchStep(ctx, second, 4, batchLease)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
		if second.Succeeded != 10 || second.Failed != 2 || second.State != models.BatchDone {
			t.Fatalf("job: %+v", second)
		}
		fails, err := db.BatchFailures(ctx, job.ID, 10)
		if err != nil || len(fails) != 2 || fails[0].EndUserID != ids[7] || fails[0].Message != "This user was already removed." {
			t.Fatalf("failures: %+v %v", fails, err)
		}
		if n := len(entriesWithAction(t, db, "user.remove")); n != 12 {
			t.Errorf("%d user.remove entries, want 10 by the job and 2 by hand: no user changed twice", n)
		}
		after := auditAfter(t, entriesWithAction(t, db, models.ActionBatchFinish)[0])
		if fmtIDs(after["failed_ids"]) != fmtIDs([]any{float64(ids[7]), float64(ids[10])}) || after["failed"] != float64(2) {
			t.Errorf("finish entry: %v", after)
		}
	})
}

func fmtIDs(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestBatch_StopsOnRequestAndWhenTheRequesterLosesTheRole(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "stop-", 6)
		job, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: ids}, Expect: 6})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := db.ClaimBatchJob(ctx, batchLease)
		if _, err := db.RunBatchStep(ctx, j, 2, batchLease); err != nil {
			t.Fatal(err)
		}
		if err := db.CancelBatch(ctx, o, job.ID); err != nil {
			t.Fatal(err)
		}
		domainError(t, db.CancelBatch(ctx, o, job.ID), models.KindConflict)
		domainError(t, db.CancelBatch(ctx, o, job.ID+100), models.KindNotFound)
		if done, err := db.RunBatchStep(ctx, j, 2, batchLease); err != nil || !done {
			t.Fatalf("step after cancel: %v %v", done, err)
		}
		if j.State != models.BatchCancelled || j.Succeeded != 2 {
			t.Fatalf("job: %+v", j)
		}
		if after := auditAfter(t, entriesWithAction(t, db, models.ActionBatchFinish)[0]); after["not_run"] != float64(4) {
			t.Errorf("finish entry: %v", after)
		}

		// A second job whose requester is deactivated stops before the
		// next user.
		job2, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: ids}, Expect: 6})
		if err != nil {
			t.Fatal(err)
		}
		setMemberStatus(t, db, m.ID, models.MemberDeactivated)
		j2 := runBatch(t, db, 2)
		if j2.ID != job2.ID || j2.State != models.BatchCancelled || j2.Processed() != 0 || !strings.Contains(j2.Note, "no longer an active admin") {
			t.Fatalf("job of a deactivated member: %+v", j2)
		}
	})
}

func TestBatch_RefusesBadSelections(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		many := make([]int64, models.MaxSelectedIDs+1)
		for i := range many {
			many[i] = int64(i + 1)
		}
		for name, c := range map[string]struct {
			r     models.BatchRequest
			field string
		}{
			"nothing ticked":   {models.BatchRequest{Action: models.BatchRemove}, "ids"},
			"too many ticked":  {models.BatchRequest{Action: models.BatchRemove, Selection: models.UserSelection{IDs: many}}, "ids"},
			"a negative id":    {models.BatchRequest{Action: models.BatchRemove, Selection: models.UserSelection{IDs: []int64{-4}}}, "ids"},
			"an unknown verb":  {models.BatchRequest{Action: "rotate\x00", Selection: models.UserSelection{IDs: []int64{1}}}, "action"},
			"a NUL in search":  {models.BatchRequest{Action: models.BatchRemove, Selection: models.UserSelection{ByFilter: true, Filter: models.UserFilter{Search: "a\x00b"}}}, "q"},
			"bad UTF-8 filter": {models.BatchRequest{Action: models.BatchRemove, Selection: models.UserSelection{ByFilter: true, Filter: models.UserFilter{ErrorCode: "\xff\xfe"}}}, "error_code"},
		} {
			_, err := db.StartBatch(ctx, o, c.r)
			if e := domainError(t, err, models.KindInvalid); e.Fields[c.field] == "" {
				t.Errorf("%s: fields %v, want a message for %s", name, e.Fields, c.field)
			}
		}
		// Nothing selectable: ids of no user.
		_, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: []int64{999999}}, Expect: 0})
		domainError(t, err, models.KindConflict)
		// Only a member can ask.
		_, err = db.StartBatch(ctx, systemOrigin, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: []int64{1}}})
		domainError(t, err, models.KindForbidden)
		if n := countRows(t, db, "batch_jobs"); n != 0 {
			t.Fatalf("refused batches left %d jobs", n)
		}
		if _, err := models.ParseSelectedIDs([]string{"12", "x"}); err == nil {
			t.Error("a non-numeric id was read")
		}
	})
}

func TestBatch_OneRunnerHoldsAJob(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "race-", 2)
		if _, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: ids}, Expect: 2}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		claimed := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, err := db.ClaimBatchJob(context.Background(), batchLease)
				if err != nil {
					t.Error(err)
				}
				if j != nil {
					mu.Lock()
					claimed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if claimed != 1 {
			t.Fatalf("%d runners claimed the job, want 1", claimed)
		}
	})
}

func TestBatch_ListIsNewestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "list-", 1)
		var want []int64
		for range 3 {
			j, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: models.UserSelection{IDs: ids}, Expect: 1})
			if err != nil {
				t.Fatal(err)
			}
			want = append([]int64{j.ID}, want...)
		}
		p, err := db.ListBatchJobs(ctx, models.BatchJobPageRequest{Limit: 2})
		if err != nil || len(p.Jobs) != 2 || p.Jobs[0].ID != want[0] || p.Next == "" {
			t.Fatalf("page 1: %+v %v", p, err)
		}
		p2, err := db.ListBatchJobs(ctx, models.BatchJobPageRequest{Limit: 2, Cursor: p.Next})
		if err != nil || len(p2.Jobs) != 1 || p2.Jobs[0].ID != want[2] {
			t.Fatalf("page 2: %+v %v", p2, err)
		}
		if _, err := db.ListBatchJobs(ctx, models.BatchJobPageRequest{Cursor: "\x00junk"}); err == nil {
			t.Error("a junk cursor was read")
		}
	})
}

func TestBatch_ALargeSelectionIsWrittenByTheRunnerAndCheckedAgain(t *testing.T) {
	defer models.WriteTargetsInlineUpTo(2)()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		_, o := batchAdmin(t, db)
		ids := usersWithItems(t, db, "big-", 5)
		for _, id := range ids {
			addItem(t, db, id, plaidError("ITEM_LOCKED"), nil)
		}
		sel := models.UserSelection{ByFilter: true, Filter: models.UserFilter{ErrorCode: "ITEM_LOCKED"}}
		job, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchResetLogin, Selection: sel, Expect: 5})
		if err != nil {
			t.Fatal(err)
		}
		if job.Prepared || countRows(t, db, "batch_job_targets") != 0 {
			t.Fatal("the request wrote a large selection's targets itself")
		}
		if after := auditAfter(t, entriesWithAction(t, db, models.ActionBatchStart)[0]); after["count"] != float64(5) || after["filter"] == nil {
			t.Fatalf("start entry: %v", after)
		}
		// A user created after the job is not in it.
		late := usersWithItems(t, db, "late-", 1)[0]
		addItem(t, db, late, plaidError("ITEM_LOCKED"), nil)
		j := runBatch(t, db, 2)
		if j.State != models.BatchDone || j.Succeeded != 5 || countRows(t, db, "batch_job_targets") != 5 {
			t.Fatalf("job: %+v", j)
		}

		// The selection shrinks between the confirmation and the runner:
		// the job stops, changing no one.
		inError := models.UserSelection{ByFilter: true, Filter: models.UserFilter{Health: models.HealthError}}
		job2, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove, Selection: inError, Expect: 6, Confirm: "6"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveEndUser(ctx, adminOrigin, ids[0], "big-0"); err != nil {
			t.Fatal(err)
		}
		j2 := runBatch(t, db, 2)
		if j2.ID != job2.ID || j2.State != models.BatchCancelled || j2.Processed() != 0 || !strings.Contains(j2.Note, "held 5 users") {
			t.Fatalf("job over a changed selection: %+v", j2)
		}
		if n := countRows(t, db, "end_users WHERE removed_at IS NULL"); n != 5 {
			t.Fatalf("%d users left, want the 5 not removed by hand", n)
		}
	})
}
