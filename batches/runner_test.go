package batches_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"ledgerdesk/batches"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// startJob creates an admin and n users and asks to reset their login.
func startJob(t *testing.T, db *models.DB, n int) *models.BatchJob {
	t.Helper()
	ctx := context.Background()
	now := models.Now()
	m := &models.TeamMember{ID: models.NewMemberID(), EmailAddress: "runner@example.com", Status: models.MemberActive,
		Role: models.RoleAdmin, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := db.Gorm().Create(m).Error; err != nil {
		t.Fatal(err)
	}
	o := models.Origin{Actor: models.Actor{Type: models.ActorMember, ID: m.ID}, RequestID: "req-runner"}
	var ids []int64
	for i := range n {
		c, err := db.CreateEndUser(ctx, o, models.EndUserInput{ClientUserID: "runner-" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.User.ID)
	}
	j, err := db.StartBatch(ctx, o, models.BatchRequest{Action: models.BatchRemove,
		Selection: models.UserSelection{IDs: ids}, Expect: int64(n), Confirm: strconv.Itoa(n)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestRunner_RunsAQueuedJobToItsEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		job := startJob(t, db, 7)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { (&batches.Runner{DB: db, Step: 3, Poll: 10 * time.Millisecond}).Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			j, err := db.BatchJobByID(context.Background(), job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if j.Finished() {
				if j.State != models.BatchDone || j.Succeeded != 7 {
					t.Fatalf("job: %+v", j)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("the runner did not finish the job")
	})
}

func TestRunner_ReleasesAJobWhenItStops(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		job := startJob(t, db, 3)
		// A runner that claims and is then stopped mid-job lets it go.
		j, err := db.ClaimBatchJob(context.Background(), time.Hour)
		if err != nil || j == nil {
			t.Fatal(err)
		}
		if err := db.ReleaseBatchJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		ran, err := (&batches.Runner{DB: db}).RunOnce(context.Background())
		if !ran || err != nil {
			t.Fatalf("a released job was not taken at once: %v %v", ran, err)
		}
		final, _ := db.BatchJobByID(context.Background(), job.ID)
		if final.State != models.BatchDone || final.Succeeded != 3 {
			t.Fatalf("job: %+v", final)
		}
	})
}
