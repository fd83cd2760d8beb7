package models_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestVerification_OneRunsAtATimeAcrossCallers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		started, ids := 0, map[int64]bool{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, ok, err := db.StartVerification(context.Background(), "a@example.com", 10)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[v.ID] = true
				if ok {
					started++
				}
			}()
		}
		wg.Wait()
		if started != 1 || len(ids) != 1 {
			t.Fatalf("%d started, %d verifications seen: want one, joined by the rest", started, len(ids))
		}
		var id int64
		for k := range ids {
			id = k
		}
		if err := db.RecordVerificationProgress(ctx, id, 4); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.LatestVerification(ctx); v.Checked != 4 || v.State != models.VerificationRunning {
			t.Fatalf("progress: %+v", v)
		}
		if err := db.FinishVerification(ctx, id, models.VerifyResult{Checked: 10, HeadSeq: 10, FirstBadSeq: 7, Problem: "hash"}, nil); err != nil {
			t.Fatal(err)
		}
		v, _ := db.LatestVerification(ctx)
		if v.State != models.VerificationDone || v.Result().OK() || v.Result().FirstBadSeq != 7 {
			t.Fatalf("finished: %+v", v)
		}
		// Finished: the next click starts a new one, which can fail.
		v2, ok, err := db.StartVerification(ctx, "b@example.com", 12)
		if err != nil || !ok || v2.ID == id {
			t.Fatalf("after the end: %+v %v %v", v2, ok, err)
		}
		if err := db.FinishVerification(ctx, v2.ID, models.VerifyResult{}, errors.New("connection lost")); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.LatestVerification(ctx); v.State != models.VerificationFailed {
			t.Fatalf("failed run: %+v", v)
		}
	})
}

func TestVerification_ASilentRunIsTakenOver(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		if v, err := db.LatestVerification(ctx); err != nil || v != nil {
			t.Fatalf("a new database has verification %+v (%v)", v, err)
		}
		v, ok, err := db.StartVerification(ctx, "a@example.com", 10)
		if err != nil || !ok {
			t.Fatal(err)
		}
		// Its process dies: nothing moves its heartbeat.
		exec(t, db, "UPDATE audit_verifications SET heartbeat_at = ? WHERE id = ?", models.Now().Add(-models.VerificationSilence-time.Second), v.ID)
		stale, _ := db.LatestVerification(ctx)
		if !stale.Stopped(models.Now()) {
			t.Fatal("a silent run is not seen as stopped")
		}
		v2, ok, err := db.StartVerification(ctx, "b@example.com", 10)
		if err != nil || !ok || v2.ID == v.ID {
			t.Fatalf("taking over: %+v %v %v", v2, ok, err)
		}
		var state string
		if err := db.Gorm().Raw("SELECT state FROM audit_verifications WHERE id = ?", v.ID).Scan(&state).Error; err != nil || state != models.VerificationFailed {
			t.Fatalf("the silent run is %q (%v), want failed", state, err)
		}
		// Its late outcome changes nothing.
		if err := db.FinishVerification(ctx, v.ID, models.VerifyResult{Checked: 10}, nil); err != nil {
			t.Fatal(err)
		}
		if latest, _ := db.LatestVerification(ctx); latest.ID != v2.ID || latest.State != models.VerificationRunning {
			t.Fatalf("latest: %+v", latest)
		}
	})
}
