package models_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/gorm"

	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
)

// appendAs records one audited no-op change from o.
func appendAs(t *testing.T, db *models.DB, o models.Origin, action string, target models.Target, after map[string]any) {
	t.Helper()
	err := db.Apply(ctx, o, func(tx *gorm.DB) (models.Change, error) {
		return models.Change{Action: action, Target: target, After: after}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func listAll(t *testing.T, db *models.DB, f models.AuditFilter) []models.AuditEntry {
	t.Helper()
	var out []models.AuditEntry
	cursor := ""
	for {
		page, err := db.ListAudit(ctx, models.AuditPageRequest{Filter: f, Cursor: cursor, Limit: 25})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func TestListAudit_FiltersAndKeysetPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		m := activeMember(t, db, "reviewer@example.com")
		member := models.Origin{Actor: m.AsActor(), RequestID: "req-a", IP: "192.0.2.10"}
		key := models.Origin{Actor: models.Actor{Type: models.ActorAPIKey, ID: "k1"}, RequestID: "req-b", IP: "192.0.2.20"}
		for i := 0; i < 30; i++ {
			appendAs(t, db, member, "user.update", models.Target{Type: "end_user", ID: "7"}, map[string]any{"i": i})
		}
		for i := 0; i < 7; i++ {
			appendAs(t, db, key, "api.user_get", models.Target{Type: "end_user", ID: "8"}, nil)
		}
		appendAs(t, db, systemOrigin, "auth.login_failed", models.Target{}, nil)

		all := listAll(t, db, models.AuditFilter{})
		if len(all) != 38 {
			t.Fatalf("%d entries, want 38", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].Seq != all[i-1].Seq-1 {
				t.Fatalf("pages skip or repeat at %d", i)
			}
		}
		cases := []struct {
			name string
			f    models.AuditFilter
			want int
		}{
			{"actor by email", models.AuditFilter{Actor: "Reviewer@example.com"}, 30},
			{"actor type:id", models.AuditFilter{Actor: "api_key:k1"}, 7},
			{"actor id alone", models.AuditFilter{Actor: "k1"}, 7},
			{"unknown email", models.AuditFilter{Actor: "nobody@example.com"}, 0},
			{"group", models.AuditFilter{Action: "api"}, 7},
			{"group auth", models.AuditFilter{Action: "auth"}, 1},
			{"exact action", models.AuditFilter{Action: "user.update"}, 30},
			{"target type", models.AuditFilter{TargetType: "end_user"}, 37},
			{"target", models.AuditFilter{TargetType: "end_user", TargetID: "8"}, 7},
			{"request id", models.AuditFilter{RequestID: "req-a"}, 30},
			{"ip", models.AuditFilter{IP: "192.0.2.20"}, 7},
			{"combined", models.AuditFilter{Actor: "k1", IP: "192.0.2.10"}, 0},
			{"from now on", models.AuditFilter{From: models.Now().Add(-time.Minute)}, 38},
			{"until long ago", models.AuditFilter{To: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		}
		for _, c := range cases {
			if got := listAll(t, db, c.f); len(got) != c.want {
				t.Errorf("%s: %d entries, want %d", c.name, len(got), c.want)
			}
		}
		// Going back from page 2 gives page 1 again.
		p1, _ := db.ListAudit(ctx, models.AuditPageRequest{Limit: 25})
		p2, _ := db.ListAudit(ctx, models.AuditPageRequest{Cursor: p1.Next, Limit: 25})
		back, _ := db.ListAudit(ctx, models.AuditPageRequest{Cursor: p2.Prev, Limit: 25})
		if len(back.Entries) != 25 || back.Entries[0].Seq != p1.Entries[0].Seq || back.Prev != "" {
			t.Errorf("back to page 1: %d entries from %d, prev %q", len(back.Entries), back.Entries[0].Seq, back.Prev)
		}
		if _, err := db.ListAudit(ctx, models.AuditPageRequest{Cursor: "garbage"}); models.ErrorKind(err) != models.KindInvalid {
			t.Errorf("bad cursor: %v", err)
		}
		// A record's history, and an actor's.
		hist, err := db.AuditHistory(ctx, models.FilterForTarget(models.Target{Type: "end_user", ID: "8"}), 5)
		if err != nil || len(hist) != 5 || hist[0].Action != "api.user_get" {
			t.Errorf("target history: %d %v", len(hist), err)
		}
		if hist, _ := db.AuditHistory(ctx, models.FilterForActor(m.AsActor()), 100); len(hist) != 30 {
			t.Errorf("actor history: %d entries", len(hist))
		}
	})
}

func TestParseAuditFilter_RejectsBadValuesByField(t *testing.T) {
	_, err := models.ParseAuditFilter(models.AuditFilterInput{From: "soon", To: "2026-01-01", TargetID: "5"})
	var fields models.FieldErrors
	if e, ok := err.(*models.Error); ok {
		fields = e.Fields
	}
	if fields["from"] == "" || fields["target_type"] == "" {
		t.Fatalf("errors %v", fields)
	}
	_, err = models.ParseAuditFilter(models.AuditFilterInput{Actor: " a\x00b ", IP: "\xff", TargetType: "user\u202e"})
	fields = nil
	if e, ok := err.(*models.Error); ok {
		fields = e.Fields
	}
	if !strings.Contains(fields["actor"], "U+0000") || !strings.Contains(fields["ip"], "UTF-8") || !strings.Contains(fields["target_type"], "U+202E") {
		t.Fatalf("bad bytes: errors %v, want each field named", fields)
	}
	f, err := models.ParseAuditFilter(models.AuditFilterInput{From: "2026-01-01", To: "2026-01-01", Actor: " ab "})
	if err != nil {
		t.Fatal(err)
	}
	if f.Actor != "ab" || !f.To.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("filter %+v: a day as the end bound includes that day", f)
	}
	again, err := models.ParseAuditFilter(f.Input())
	if err != nil || !again.From.Equal(f.From) || !again.To.Equal(f.To) {
		t.Errorf("filter does not round-trip: %+v %v", again, err)
	}
}

func TestAuditDailyCounts_ZeroFilledOldestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for i := 0; i < 3; i++ {
			record(t, db, "test.count", "1")
		}
		record(t, db, "test.other", "1")
		days, err := db.AuditDailyCounts(ctx, models.AuditFilter{Action: "test.count"}, models.Now(), 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 30 || days[29].N != 3 || !days[29].Day.Equal(models.Now().Truncate(24*time.Hour)) {
			t.Fatalf("last day %+v of %d", days[len(days)-1], len(days))
		}
		for _, d := range days[:29] {
			if d.N != 0 {
				t.Errorf("%s: %d", d.Day, d.N)
			}
		}
	})
}

func TestAuditDailyCounts_SettledDaysOfTheWholeLogAreCountedOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		for i := 0; i < 3; i++ {
			record(t, db, "test.count", "1")
		}
		chart := func(f models.AuditFilter, now time.Time) []models.DayCount {
			t.Helper()
			days, err := db.AuditDailyCounts(ctx, f, now, 30)
			if err != nil {
				t.Fatal(err)
			}
			return days
		}
		// Seen from two days on, today is settled: counted once, then
		// kept, as the log takes no entry dated in the past.
		later := models.Now().Truncate(24 * time.Hour).Add(50 * time.Hour)
		n := chart(models.AuditFilter{}, later)[27].N
		if n < 3 {
			t.Fatalf("today's count seen from two days on: %d, want at least 3", n)
		}
		record(t, db, "test.count", "1")
		record(t, db, "test.count", "1")
		if kept := chart(models.AuditFilter{}, later)[27].N; kept != n {
			t.Errorf("a settled day was counted again: %d, want the %d kept", kept, n)
		}
		// The day still open is counted live, and so is a filtered chart.
		if live := chart(models.AuditFilter{}, models.Now())[29].N; live != n+2 {
			t.Errorf("today, still open: %d, want %d", live, n+2)
		}
		if filtered := chart(models.AuditFilter{Action: "test.count"}, later)[27].N; filtered != 5 {
			t.Errorf("a filtered chart: %d, want 5", filtered)
		}
	})
}

func TestAuditDailyCounts_TheOpenDayCountsOnlyTheEntriesAppendedSince(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		record(t, db, "test.count", "1")
		chart := func() int64 {
			t.Helper()
			days, err := db.AuditDailyCounts(ctx, models.AuditFilter{}, models.Now(), 30)
			if err != nil {
				t.Fatal(err)
			}
			return days[29].N
		}
		first := chart()
		if first < 1 {
			t.Fatalf("today: %d, want at least the entry just appended", first)
		}
		record(t, db, "test.count", "1")
		record(t, db, "test.count", "1")
		var log bytes.Buffer
		db.WatchQueries(querytrace.Settings{Slow: time.Nanosecond, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		if got := chart(); got != first+2 {
			t.Errorf("today after two more entries: %d, want %d", got, first+2)
		}
		db.WatchQueries(querytrace.Settings{})
		// The day's count came from the entries past the kept seq, not
		// from a count of the whole day again.
		counted := false
		for _, l := range slowLines(t, &log) {
			if strings.Contains(l.SQL, "audit_entries") && strings.Contains(l.SQL, "occurred_at >=") {
				t.Errorf("the open day was counted whole again: %s", l.SQL)
			}
			counted = counted || strings.Contains(l.SQL, "WHERE seq > ")
		}
		if !counted {
			t.Errorf("no count of the entries past the kept seq:\n%s", log.String())
		}
		if got := chart(); got != first+2 {
			t.Errorf("today with nothing appended: %d, want %d", got, first+2)
		}
	})
}

func TestEachAuditEntry_StreamsTheFilterUpToASeqInBatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		seedChain(t, db, 2105)
		var seqs []int64
		err := db.EachAuditEntry(ctx, models.AuditFilter{Action: "test.seed"}, 2100, func(e *models.AuditEntry) error {
			seqs = append(seqs, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seqs) != 2100 || seqs[0] != 2100 || seqs[len(seqs)-1] != 1 {
			t.Fatalf("%d entries from %d to %d", len(seqs), seqs[0], seqs[len(seqs)-1])
		}
	})
}

func TestRedactedDiff_HidesPersonalValuesEvenIfStoredInClear(t *testing.T) {
	e := models.AuditEntry{Diff: `{"after":{"first_name":"Ada","nested":{"ssn":"123-45-6789"},"status":"active"}}`}
	d := e.RedactedDiff()
	nested, _ := d.After["nested"].(map[string]any)
	if d.After["first_name"] != "[redacted]" || nested["ssn"] != "[redacted]" || d.After["status"] != "active" {
		t.Errorf("%+v", d.After)
	}
}

// insertEntriesAt chains entries at the given times from seq first on,
// after the entry whose hash is prev, and returns the last one's hash.
func insertEntriesAt(t *testing.T, db *models.DB, first int64, prev string, times []time.Time) string {
	t.Helper()
	for i, at := range times {
		e := models.AuditEntry{Seq: first + int64(i), OccurredAt: at, ActorType: models.ActorSystem, Action: "test.time",
			Diff: "{}", PrevHash: prev}
		e.Hash = testdb.AuditHash(e)
		prev = e.Hash
		insertEntry(t, db, e)
	}
	return prev
}

func TestListAudit_ARangesStartIsBoundedOnceAnHourAndStaysExact(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var times []time.Time
		for i := 0; i < 48; i++ {
			times = append(times, base.Add(time.Duration(i)*time.Hour))
		}
		prev := insertEntriesAt(t, db, 1, models.GenesisHash, times)
		spans := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		db.WatchQueries(querytrace.Settings{Tracing: tp})
		lookups := func() int {
			n := 0
			for _, s := range spans.GetSpans() {
				if q := attrMap(s.Attributes)["db.query.text"]; strings.Contains(q, "occurred_at <") && strings.Contains(q, "ORDER BY occurred_at DESC") {
					n++
				}
			}
			return n
		}
		count := func(from time.Time) int {
			reqCtx, span := tp.Tracer("test").Start(ctx, "GET /audit")
			defer span.End()
			n := 0
			for cursor := ""; ; {
				page, err := db.ListAudit(reqCtx, models.AuditPageRequest{Filter: models.AuditFilter{From: from}, Cursor: cursor, Limit: 25})
				if err != nil {
					t.Fatal(err)
				}
				n += len(page.Entries)
				if cursor = page.Next; cursor == "" {
					return n
				}
			}
		}
		// Three views a minute apart, as the user page's access window
		// moves: one lookup.
		for m := 0; m < 3; m++ {
			if n := count(base.Add(30*time.Hour + time.Duration(m+1)*time.Minute)); n != 17 {
				t.Fatalf("from 30:0%d: %d entries, want 17", m+1, n)
			}
		}
		if n := lookups(); n != 1 {
			t.Fatalf("three views in one hour looked the range's start up %d times, want 1", n)
		}
		// The log grows; the remembered bound still holds every entry.
		insertEntriesAt(t, db, 49, prev, []time.Time{base.Add(48 * time.Hour), base.Add(49 * time.Hour)})
		if n := count(base.Add(30*time.Hour + 4*time.Minute)); n != 19 {
			t.Fatalf("after two more entries: %d, want 19", n)
		}
		if n := count(base.Add(40 * time.Hour)); n != 10 || lookups() != 2 {
			t.Fatalf("from another hour: %d entries (want 10), %d lookups (want 2)", n, lookups())
		}
	})
}

func TestListAudit_TimeRangeIsExactAcrossTheSeqBounds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		// Entries an hour apart, written directly with their times, and a
		// neighbour whose clock ran two minutes behind.
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		times := []time.Time{}
		for i := 0; i < 48; i++ {
			times = append(times, base.Add(time.Duration(i)*time.Hour))
		}
		times[30] = times[29].Add(-2 * time.Minute) // skewed writer
		insertEntriesAt(t, db, 1, models.GenesisHash, times)
		from, to := base.Add(24*time.Hour), base.Add(29*time.Hour+30*time.Minute)
		got := listAll(t, db, models.AuditFilter{From: from, To: to})
		want := 0
		for _, at := range times {
			if !at.Before(from) && at.Before(to) {
				want++
			}
		}
		if len(got) != want || want != 7 {
			t.Errorf("range %s..%s: %d entries, want %d (7)", from, to, len(got), want)
		}
		for _, e := range got {
			if e.OccurredAt.Before(from) || !e.OccurredAt.Before(to) {
				t.Errorf("entry %d at %s is outside the range", e.Seq, e.OccurredAt)
			}
		}
		if n := len(listAll(t, db, models.AuditFilter{From: base.Add(100 * time.Hour)})); n != 0 {
			t.Errorf("a range after the last entry has %d entries", n)
		}
	})
}
