package main

import (
	"context"
	"sync"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// Processes starting at once on an empty database all find no team member;
// one creates the first admin, and the others start all the same.
func TestEnsureFirstAdmin_OfConcurrentStartsOneCreatesItAndNoneFails(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		type outcome struct {
			admin *models.TeamMember
			err   error
		}
		outcomes := make([]outcome, 3)
		var wg sync.WaitGroup
		for i := range outcomes {
			wg.Go(func() {
				m, password, err := ensureFirstAdmin(context.Background(), db, "admin@ledgerdesk.local")
				webtest.Sensitive(password)
				outcomes[i] = outcome{m, err}
			})
		}
		wg.Wait()
		created := 0
		for _, o := range outcomes {
			if o.err != nil {
				t.Errorf("a start failed: %v", o.err)
			}
			if o.admin != nil {
				created++
			}
		}
		n, err := db.CountMembers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if created != 1 || n != 1 {
			t.Fatalf("%d starts created a first admin and %d members exist, want 1 and 1", created, n)
		}
	})
}
