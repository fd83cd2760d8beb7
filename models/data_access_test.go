package models_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// newEndUsers creates n end users and returns their ids, oldest first.
func newEndUsers(t *testing.T, db *models.DB, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		c, err := db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "access-" + models.RandomHex(6)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.User.ID
	}
	return ids
}

// accessSeqs lists the seqs of every access entry about user within the
// window before now, page by page.
func accessSeqs(t *testing.T, db *models.DB, user int64, now time.Time) []int64 {
	t.Helper()
	var out []int64
	cursor := ""
	for {
		page, err := db.DataAccessPage(ctx, user, now, cursor, 25)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			out = append(out, e.Seq)
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func viewOf(user int64) models.DataAccess {
	return models.DataAccess{Action: models.ActionPIIView, Users: []int64{user},
		Fields: models.AccessFields{Clear: []string{"first_name", "emails"}, Masked: []string{"ssn_full"}}}
}

func TestDataAccess_ViewAndSearchAreFoundPerUserWithTheirFields(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ids := newEndUsers(t, db, 3)
		m := activeMember(t, db, "reviewer@example.com")
		o := models.Origin{Actor: m.AsActor(), RequestID: "req-view", IP: "192.0.2.7"}
		if err := db.RecordDataAccess(ctx, o, viewOf(ids[0])); err != nil {
			t.Fatal(err)
		}
		search := models.DataAccess{Action: models.ActionPIISearch, Users: []int64{ids[1], ids[0], ids[1]},
			Fields: models.AccessFields{Clear: []string{"first_name", "last_name", "emails"}}, Searched: models.SearchEmail}
		if err := db.RecordDataAccess(ctx, o, search); err != nil {
			t.Fatal(err)
		}
		// Nothing shown, nothing recorded.
		if err := db.RecordDataAccess(ctx, o, models.DataAccess{Action: models.ActionPIISearch, Searched: models.SearchPhone}); err != nil {
			t.Fatal(err)
		}

		views := entriesWithAction(t, db, models.ActionPIIView)
		searches := entriesWithAction(t, db, models.ActionPIISearch)
		if len(views) != 1 || len(searches) != 1 {
			t.Fatalf("%d views and %d searches recorded, want 1 and 1", len(views), len(searches))
		}
		v, s := views[0], searches[0]
		if v.ActorID != m.ID || v.TargetType != "end_user" || v.TargetID != "" || v.RequestID != "req-view" ||
			!strings.Contains(v.Diff, fmt.Sprintf(`"user":%d`, ids[0])) {
			t.Errorf("view entry %+v", v)
		}
		if f := v.AccessedFields(); !slices.Equal(f.Clear, []string{"first_name", "emails"}) || !slices.Equal(f.Masked, []string{"ssn_full"}) {
			t.Errorf("view fields %+v", f)
		}
		wantDiff := fmt.Sprintf(`{"after":{"fields":["first_name","last_name","emails"],"searched":"email","users":[%d,%d]}}`, ids[0], ids[1])
		if s.Diff != wantDiff {
			t.Errorf("search diff %s, want %s", s.Diff, wantDiff)
		}

		now := models.Now()
		if got := accessSeqs(t, db, ids[0], now); !slices.Equal(got, []int64{s.Seq, v.Seq}) {
			t.Errorf("user %d accessed by %v, want %v", ids[0], got, []int64{s.Seq, v.Seq})
		}
		if got := accessSeqs(t, db, ids[1], now); !slices.Equal(got, []int64{s.Seq}) {
			t.Errorf("user %d accessed by %v, want the search %d", ids[1], got, s.Seq)
		}
		if got := accessSeqs(t, db, ids[2], now); len(got) != 0 {
			t.Errorf("user %d, never shown, accessed by %v", ids[2], got)
		}
		// The audit filter finds the same entries.
		f := models.AuditFilter{Accessed: fmt.Sprint(ids[0])}
		if got := listAll(t, db, f); len(got) != 2 {
			t.Errorf("accessed filter finds %d entries, want 2", len(got))
		}
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || !res.OK() {
			t.Fatalf("chain after access entries: %+v, %v", res, err)
		}
	})
}

func TestDataAccess_ListCoversTheLast90DaysOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		user := newEndUsers(t, db, 1)[0]
		if err := db.RecordDataAccess(ctx, systemOrigin, viewOf(user)); err != nil {
			t.Fatal(err)
		}
		now := models.Now()
		if got := accessSeqs(t, db, user, now.Add(models.AccessWindow-time.Hour)); len(got) != 1 {
			t.Errorf("89 days on, %d entries listed, want 1", len(got))
		}
		if got := accessSeqs(t, db, user, now.Add(models.AccessWindow+time.Hour)); len(got) != 0 {
			t.Errorf("91 days on, %d entries listed, want none", len(got))
		}
		// Past the window the entry is still in the log.
		if got := listAll(t, db, models.AuditFilter{Accessed: fmt.Sprint(user)}); len(got) != 1 {
			t.Errorf("the log has %d entries about the user, want 1", len(got))
		}
	})
}

func TestDataAccess_PagesByKeysetNewestFirst(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		user := newEndUsers(t, db, 1)[0]
		for range 60 {
			if err := db.RecordDataAccess(ctx, systemOrigin, viewOf(user)); err != nil {
				t.Fatal(err)
			}
		}
		page, err := db.DataAccessPage(ctx, user, models.Now(), "", 25)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 25 || page.Next == "" || page.Prev != "" {
			t.Fatalf("first page: %d entries, next %q, prev %q", len(page.Entries), page.Next, page.Prev)
		}
		second, err := db.DataAccessPage(ctx, user, models.Now(), page.Next, 25)
		if err != nil {
			t.Fatal(err)
		}
		if len(second.Entries) != 25 || second.Entries[0].Seq != page.Entries[24].Seq-1 || second.Prev == "" {
			t.Fatalf("second page starts at %d after %d", second.Entries[0].Seq, page.Entries[24].Seq)
		}
		all := accessSeqs(t, db, user, models.Now())
		if len(all) != 60 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) {
			t.Fatalf("%d entries over the pages, newest first: %v", len(all), all)
		}
		if _, err := db.DataAccessPage(ctx, user, models.Now(), "not-a-cursor", 25); err == nil {
			t.Fatal("a bad cursor was taken")
		}
	})
}

func TestDataAccess_IndexRowsCommitWithTheEntryOrNotAtAll(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		user := newEndUsers(t, db, 1)[0]
		before := head(t, db)
		stop := testdb.FailOn(t, db, testdb.Create, "pii_access")
		err := db.RecordDataAccess(ctx, systemOrigin, viewOf(user))
		if !errors.Is(err, testdb.ErrInjected) {
			t.Fatalf("record with a failing index: %v", err)
		}
		stop()
		if h := head(t, db); h.Seq != before.Seq {
			t.Fatalf("chain moved to %d without its index rows", h.Seq)
		}
		if n := countRows(t, db, "pii_access"); n != 0 {
			t.Fatalf("%d index rows left", n)
		}
		if len(entriesWithAction(t, db, models.ActionPIIView)) != 0 {
			t.Fatal("the entry was kept without its index rows")
		}
	})
}

// Concurrent views share group commits on PostgreSQL: each entry's index
// rows carry its own seq.
func TestDataAccess_ConcurrentViewsIndexTheirOwnEntries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ids := newEndUsers(t, db, 8)
		var wg sync.WaitGroup
		errs := make(chan error, len(ids)*4)
		for _, id := range ids {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- db.RecordDataAccess(ctx, systemOrigin, viewOf(id))
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			seqs := accessSeqs(t, db, id, models.Now())
			if len(seqs) != 4 {
				t.Fatalf("user %d: %d entries, want 4", id, len(seqs))
			}
			for _, seq := range seqs {
				e, err := db.AuditEntryBySeq(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				if e.Action != models.ActionPIIView || !strings.Contains(e.Diff, fmt.Sprintf(`"user":%d}`, id)) {
					t.Fatalf("user %d indexed to seq %d, an entry %s", id, seq, e.Diff)
				}
			}
		}
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || !res.OK() {
			t.Fatalf("chain: %+v, %v", res, err)
		}
	})
}

func TestDataAccess_ExportsIndexTheUsersTheyCarry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		ids := newEndUsers(t, db, 3)
		fields := models.AccessFields{Clear: []string{"first_name"}}

		byIDs, err := db.RecordUserExport(ctx, systemOrigin, models.UserSelection{IDs: []int64{ids[0], ids[2]}}, "csv", fields)
		if err != nil {
			t.Fatal(err)
		}
		// An export by ids is indexed with its entry, before any row.
		for i, want := range []int{1, 0, 1} {
			if got := len(accessSeqs(t, db, ids[i], models.Now())); got != want {
				t.Errorf("after the export by ids, user %d has %d entries, want %d", ids[i], got, want)
			}
		}
		if err := db.EachExportedUser(ctx, byIDs, func(*models.EndUser) error { return nil }); err != nil {
			t.Fatal(err)
		}

		// An export by filter is indexed as its rows go out.
		byFilter, err := db.RecordUserExport(ctx, systemOrigin, models.UserSelection{ByFilter: true}, "jsonl", fields)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(accessSeqs(t, db, ids[1], models.Now())); got != 0 {
			t.Errorf("before its rows went out, user %d has %d entries", ids[1], got)
		}
		var sent []int64
		if err := db.EachExportedUser(ctx, byFilter, func(u *models.EndUser) error { sent = append(sent, u.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(sent) != 3 {
			t.Fatalf("the export sent %v", sent)
		}
		for _, id := range ids {
			seqs := accessSeqs(t, db, id, models.Now())
			if len(seqs) == 0 || seqs[0] != byFilter.Seq {
				t.Errorf("user %d: entries %v, want the filter export %d first", id, seqs, byFilter.Seq)
			}
		}
		e, err := db.AuditEntryBySeq(ctx, byFilter.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if e.Action != models.ActionUserExport || !slices.Equal(e.AccessedFields().Clear, []string{"first_name"}) {
			t.Errorf("export entry %s %s", e.Action, e.Diff)
		}

		// A batch that cannot be indexed ends the export before its rows.
		again, err := db.RecordUserExport(ctx, systemOrigin, models.UserSelection{ByFilter: true}, "csv", fields)
		if err != nil {
			t.Fatal(err)
		}
		testdb.FailOn(t, db, testdb.Create, "pii_access")
		sent = nil
		err = db.EachExportedUser(ctx, again, func(u *models.EndUser) error { sent = append(sent, u.ID); return nil })
		if !errors.Is(err, testdb.ErrInjected) || len(sent) != 0 {
			t.Fatalf("export with a failing index: %v, sent %v", err, sent)
		}
	})
}

func TestDataAccess_RevealIsAnAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		c := createUser(t, db, "reveal-"+models.RandomHex(4), carmen())
		if _, err := db.RevealPII(ctx, systemOrigin, models.RoleAdmin, c.User.ID, models.RevealSSN, "Customer asked to confirm their record"); err != nil {
			t.Fatal(err)
		}
		seqs := accessSeqs(t, db, c.User.ID, models.Now())
		if len(seqs) != 1 {
			t.Fatalf("%d access entries after a reveal, want 1", len(seqs))
		}
		e, _ := db.AuditEntryBySeq(ctx, seqs[0])
		if e.Action != models.ActionPIIReveal || !slices.Equal(e.AccessedFields().Clear, []string{models.RevealSSN}) {
			t.Errorf("reveal entry %s %s", e.Action, e.Diff)
		}
	})
}

func TestAuditFilter_AccessedTakesAnEndUserID(t *testing.T) {
	for in, want := range map[string]string{"42": "42", " 007 ": "7", "x": "", "-3": "", "0": "", "99999999999999999999": ""} {
		f, err := models.ParseAuditFilter(models.AuditFilterInput{Accessed: in})
		if want == "" {
			var merr *models.Error
			if !errors.As(err, &merr) || merr.Fields["accessed"] == "" {
				t.Errorf("accessed %q: %v, want a message beside the field", in, err)
			}
			continue
		}
		if err != nil || f.Accessed != want || f.Values().Get("accessed") != want {
			t.Errorf("accessed %q: %+v, %v", in, f, err)
		}
	}
}

func TestPersonalSearch_EmailsAndPhoneNumbersOnly(t *testing.T) {
	for term, want := range map[string]string{
		"ada@example.com": models.SearchEmail, "@example": models.SearchEmail, "+1 (415) 555-0100": models.SearchPhone,
		"4155550100": models.SearchPhone, "555-010": models.SearchPhone, "12345": "", "Lovelace": "", "ada": "",
		"acme-123456": "", "": "",
	} {
		if got := models.PersonalSearch(term); got != want {
			t.Errorf("PersonalSearch(%q) = %q, want %q", term, got, want)
		}
	}
}

// TestDataAccess_ABatchOfAccessesStoresEveryEntryAndUserOnce records
// accesses side by side, so the committer appends several in one batch
// on PostgreSQL, each about some users (one twice). Every user finds
// exactly their entries and the chain verifies.
func TestDataAccess_ABatchOfAccessesStoresEveryEntryAndUserOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		users := newEndUsers(t, db, 4)
		var g errgroup.Group
		for i := range 12 {
			about := []int64{users[i%4], users[(i+1)%4], users[i%4]}
			g.Go(func() error {
				return db.RecordDataAccess(ctx, systemOrigin, models.DataAccess{Action: models.ActionPIISearch, Users: about, Searched: models.SearchEmail,
					Fields: models.AccessFields{Clear: []string{"first_name"}}})
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			// Each user is in the 3 accesses that start at them and the 3
			// that start just before them.
			if seqs := accessSeqs(t, db, u, models.Now()); len(seqs) != 6 {
				t.Errorf("user %d: %d entries, want 6", u, len(seqs))
			}
		}
		if res, err := db.VerifyAuditChain(ctx, nil); err != nil || !res.OK() {
			t.Fatalf("chain after the batch: %+v, %v", res, err)
		}
	})
}
