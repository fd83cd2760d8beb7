package models_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// heard records what an Observer is told.
type heard struct {
	mu       sync.Mutex
	commits  []commitHeard
	signIns  []string // step/outcome
	attempts []models.AttemptOutcome
	verified []models.VerifyOutcome
}

type commitHeard struct {
	changes int
	took    time.Duration
	err     error
}

func listen(db *models.DB) *heard {
	h := &heard{}
	db.Observe(h)
	return h
}

func (h *heard) AuditCommitted(changes int, took time.Duration, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commits = append(h.commits, commitHeard{changes, took, err})
}

func (h *heard) SignIn(step models.SignInStep, outcome models.SignInOutcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.signIns = append(h.signIns, string(step)+"/"+string(outcome))
}

func (h *heard) WebhookAttempted(_ int64, outcome models.AttemptOutcome, _ time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts = append(h.attempts, outcome)
}

func (h *heard) AuditVerified(outcome models.VerifyOutcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.verified = append(h.verified, outcome)
}

// take returns what was heard so far and forgets it.
func (h *heard) take() (commits []commitHeard, signIns []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	commits, signIns = h.commits, h.signIns
	h.commits, h.signIns = nil, nil
	return commits, signIns
}

func TestObserver_HearsHowEachSignInEnded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		activeMember(t, db, "ana@example.com")
		insertMember(t, db, "ivan@example.com", models.MemberDeactivated, testPasswordHash(t))
		h := listen(db)
		cases := []struct {
			email, password string
			ip              string
			want            string
		}{
			{"ana@example.com", "not the password", "192.0.2.10", "password/wrong_password"},
			{"nobody@example.com", testPassword, "192.0.2.11", "password/unknown_account"},
			{"ana\x00@example.com", testPassword, "192.0.2.12", "password/unknown_account"},
			{"ivan@example.com", testPassword, "192.0.2.13", "password/inactive_member"},
			{"ana@example.com", testPassword, "192.0.2.14", "password/signed_in"},
		}
		for _, c := range cases {
			_, _ = db.SignIn(ctx, anonymousFrom(c.ip), c.email, c.password, newSessionRow())
			_, signIns := h.take()
			if len(signIns) != 1 || signIns[0] != c.want {
				t.Errorf("sign in as %q: heard %v, want [%s]", c.email, signIns, c.want)
			}
		}

		// Past the account's limit the attempt is throttled.
		for range models.MaxAccountFailures {
			_, _ = db.SignIn(ctx, anonymousFrom("192.0.2.20"), "ana@example.com", "wrong again", newSessionRow())
		}
		h.take()
		_, err := db.SignIn(ctx, anonymousFrom("192.0.2.21"), "ana@example.com", testPassword, newSessionRow())
		var merr *models.Error
		if !errors.As(err, &merr) || merr.Kind != models.KindThrottled {
			t.Fatalf("sixth attempt: %v, want throttled", err)
		}
		if _, signIns := h.take(); len(signIns) != 1 || signIns[0] != "password/throttled" {
			t.Errorf("throttled attempt: heard %v", signIns)
		}
	})
}

func TestObserver_HearsEachAuditedCommitButNotARefusedChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := listen(db)
		record(t, db, "test.one", "1")
		commits, _ := h.take()
		if len(commits) != 1 || commits[0].changes != 1 || commits[0].err != nil || commits[0].took <= 0 {
			t.Fatalf("one change: heard %+v, want one commit of 1 change", commits)
		}

		refused := errors.New("refused by its own rule")
		err := db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) { return models.Change{}, refused })
		if !errors.Is(err, refused) {
			t.Fatalf("refused change: %v", err)
		}
		if commits, _ := h.take(); len(commits) != 0 {
			t.Fatalf("a change that refused itself was heard as a commit: %+v", commits)
		}

		stop := testdb.FailOn(t, db, testdb.Create, "audit_entries")
		err = db.Apply(ctx, systemOrigin, func(tx *gorm.DB) (models.Change, error) {
			return models.Change{Action: "test.lost"}, nil
		})
		stop()
		if !errors.Is(err, testdb.ErrInjected) {
			t.Fatalf("entry that cannot be stored: %v", err)
		}
		if commits, _ := h.take(); len(commits) != 1 || commits[0].err == nil {
			t.Fatalf("a failed commit: heard %+v, want one with its error", commits)
		}
	})
}

// Changes that arrive together on PostgreSQL commit as one batch, and
// the batch is heard once with their number.
func TestObserver_HearsABatchOnceWithItsSize(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := listen(db)
		const writers = 16
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				record(t, db, "test.parallel", string(rune('a'+i)))
			}()
		}
		wg.Wait()
		commits, _ := h.take()
		total := 0
		for _, c := range commits {
			if c.err != nil || c.changes < 1 {
				t.Fatalf("heard %+v", c)
			}
			total += c.changes
		}
		if total != writers {
			t.Fatalf("heard %d changes in %d commits, want %d", total, len(commits), writers)
		}
		if db.Dialect == models.SQLite && len(commits) != writers {
			t.Fatalf("SQLite commits one change at a time: heard %d commits", len(commits))
		}
	})
}

func TestObserver_HearsAChainVerification(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.one", "1")
		h := listen(db)
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || !res.OK() {
			t.Fatalf("verify: %+v, %v", res, err)
		}
		owner := allowAuditTampering(t, db)
		exec(t, owner, `UPDATE audit_entries SET target_id = 'x' WHERE seq = 1`)
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || res.OK() {
			t.Fatalf("verify a tampered chain: %+v, %v", res, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.verified) != 2 || h.verified[0] != models.VerifyIntact || h.verified[1] != models.VerifyBroken {
			t.Fatalf("heard %v, want [intact broken]", h.verified)
		}
	})
}

func TestAttemptResult_OutcomeSaysWhatFollows(t *testing.T) {
	next := models.Now()
	for _, c := range []struct {
		r    models.AttemptResult
		want models.AttemptOutcome
	}{
		{models.AttemptResult{Delivered: true, StatusCode: 204}, models.AttemptDelivered},
		{models.AttemptResult{StatusCode: 500, NextAttemptAt: &next}, models.AttemptRetrying},
		{models.AttemptResult{Error: "timed out"}, models.AttemptGivenUp},
	} {
		if got := c.r.Outcome(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.r, got, c.want)
		}
	}
}
