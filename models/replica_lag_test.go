package models

import (
	"testing"
	"time"
)

// A replica's lag is the time since the primary first had WAL the replica
// still lacks, not the age of its last transaction: after a quiet hour,
// a replica that has replayed everything lags nothing, and one a single
// fresh commit behind lags by that commit's age.
func TestReplicaLag_FromThePrimarysPositions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	samples := []walSample{{at(3 * time.Second), 100}, {at(2 * time.Second), 100}, {at(time.Second), 200}, {now, 300}}
	hourAgo := at(time.Hour)
	for _, c := range []struct {
		name     string
		replayed LSN
		want     time.Duration
		bytes    uint64
	}{
		{"caught up, last transaction an hour old", 300, 0, 0},
		{"one poll behind", 250, 0, 50},
		{"missing what the primary had a second ago", 150, time.Second, 150},
		{"missing what the oldest position kept holds: the last transaction's age", 50, time.Hour, 250},
	} {
		lag, bytes := replicaLag(samples, c.replayed, &hourAgo, now)
		if lag != c.want || bytes != c.bytes {
			t.Errorf("%s: lag %s, %d bytes; want %s, %d bytes", c.name, lag, bytes, c.want, c.bytes)
		}
	}
	// Without the last transaction's time, the oldest position kept bounds it.
	if lag, _ := replicaLag(samples, 50, nil, now); lag != 3*time.Second {
		t.Errorf("no replay time: lag %s, want 3s", lag)
	}
}

func TestReplicaOptions_Defaults(t *testing.T) {
	o := ReplicaOptions{}.normalized()
	if o.MaxLag != DefaultReplicaMaxLag || o.Poll != time.Second {
		t.Errorf("defaults: %+v", o)
	}
	if o := (ReplicaOptions{MaxLag: 200 * time.Millisecond}).normalized(); o.Poll != 100*time.Millisecond {
		t.Errorf("a small bound polls every 100ms at most often: %+v", o)
	}
}
