package metrics

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Scrapes within the figures' lifetime read nothing from the database;
// the first one after it does. A failed read is kept as long.
func TestFigures_ReadAtMostOncePerLifetime(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		clock := &fakeClock{now: time.Now()}
		c := newFiguresCollector(db)
		c.now = clock.Now
		var queries atomic.Int64
		countQueries(t, db, &queries)

		first, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		if queries.Load() == 0 {
			t.Fatal("the first read asked nothing")
		}
		appendEntry(t, db)
		asked := queries.Load()
		for range 5 {
			clock.Advance(c.ttl / 10)
			f, err := c.read()
			if err != nil || f.ChainHeadSeq != first.ChainHeadSeq {
				t.Fatalf("within the lifetime: %+v, %v; want the kept figures", f, err)
			}
		}
		if n := queries.Load(); n != asked {
			t.Fatalf("%d queries within the figures' lifetime, want none", n-asked)
		}
		clock.Advance(c.ttl)
		f, err := c.read()
		if err != nil || f.ChainHeadSeq != first.ChainHeadSeq+1 {
			t.Fatalf("after the lifetime: %+v, %v; want the new head %d", f, err, first.ChainHeadSeq+1)
		}

		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		clock.Advance(c.ttl)
		if _, err := c.read(); err == nil {
			t.Fatal("figures read from a closed database")
		}
		clock.Advance(c.ttl / 2)
		if _, err := c.read(); err == nil {
			t.Fatal("the failure was not kept for the figures' lifetime")
		}
	})
}

// countQueries counts the SELECTs GORM runs on db.
func countQueries(t *testing.T, db *models.DB, n *atomic.Int64) {
	t.Helper()
	count := func(*gorm.DB) { n.Add(1) }
	if err := db.Gorm().Callback().Query().Before("gorm:query").Register("metrics_test:count", count); err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm().Callback().Raw().Before("gorm:raw").Register("metrics_test:count_raw", count); err != nil {
		t.Fatal(err)
	}
}

func appendEntry(t *testing.T, db *models.DB) {
	t.Helper()
	err := db.Apply(context.Background(), models.Origin{Actor: models.SystemActor}, func(tx *gorm.DB) (models.Change, error) {
		return models.Change{Action: "test.figures"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
