package models_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestReadMonitoringFigures_ChainCheckpointAndOutbox(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		now := models.Now()
		f, err := db.ReadMonitoringFigures(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if f.ChainHeadSeq != head(t, db).Seq || f.LastCheckpoint != nil || f.OutboxBacklog != 0 || f.OldestDue != nil {
			t.Fatalf("an empty portal: %+v", f)
		}

		newEndpoint(t, db)
		createUser(t, db, "monitored-1", nil)
		createUser(t, db, "monitored-2", nil)
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := db.CreateCheckpoint(ctx, systemOrigin, key)
		if err != nil {
			t.Fatal(err)
		}
		later := models.Now().Add(time.Second)
		f, err = db.ReadMonitoringFigures(ctx, later)
		if err != nil {
			t.Fatal(err)
		}
		if f.ChainHeadSeq != head(t, db).Seq {
			t.Errorf("head seq %d, want %d", f.ChainHeadSeq, head(t, db).Seq)
		}
		if f.LastCheckpoint == nil || !f.LastCheckpoint.Equal(cp.SignedAt) || f.LastCheckpointSeq != cp.Seq {
			t.Errorf("last checkpoint %v at seq %d, want %v at %d", f.LastCheckpoint, f.LastCheckpointSeq, cp.SignedAt, cp.Seq)
		}
		if f.OutboxBacklog != 2 {
			t.Errorf("backlog %d, want the 2 USER_CREATED deliveries", f.OutboxBacklog)
		}
		if f.OldestDue == nil || f.OldestDue.After(later) || f.OldestDue.Before(now) {
			t.Errorf("oldest due %v, want between %v and %v", f.OldestDue, now, later)
		}

		// Before the deliveries are due, they are backlog but none waits.
		f, err = db.ReadMonitoringFigures(ctx, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if f.OutboxBacklog != 2 || f.OldestDue != nil {
			t.Errorf("an hour earlier: backlog %d, oldest due %v; want 2 and none", f.OutboxBacklog, f.OldestDue)
		}

		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ReadMonitoringFigures(ctx, later); err == nil {
			t.Fatal("figures read from a closed database")
		}
	})
}

func TestPoolStats_CountConnectionsOfThePool(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.pool", "1")
		s := db.PoolStats()
		if s.Max < 1 || s.InUse < 0 || s.Idle < 0 || s.InUse+s.Idle > s.Max || s.Waits < 0 || s.WaitTime < 0 {
			t.Fatalf("pool stats %+v", s)
		}
		if db.Dialect == models.Postgres && s.Max != 20 {
			t.Errorf("PostgreSQL pool of %d connections, want 20", s.Max)
		}
	})
}

func TestPasswordHashing_SaysSlotsQueueAndTimeouts(t *testing.T) {
	s := models.PasswordHashing()
	if s.Slots < 1 || s.InUse < 0 || s.Waiting < 0 {
		t.Fatalf("at rest: %+v", s)
	}
	release := models.HoldPasswordHashSlots(20 * time.Millisecond)
	held := models.PasswordHashing()
	if _, err := models.HashPassword(ctx, "a password nobody waits for"); err != models.ErrPasswordCheckBusy {
		release()
		t.Fatalf("hash while every slot is held: %v, want busy", err)
	}
	after := models.PasswordHashing()
	release()
	if held.InUse != held.Slots {
		t.Errorf("every slot held: %+v", held)
	}
	if after.TimedOut != held.TimedOut+1 {
		t.Errorf("timeouts %d after one, want %d", after.TimedOut, held.TimedOut+1)
	}
	if after.Computed != held.Computed {
		t.Errorf("a hash refused as busy was counted as computed")
	}
}
