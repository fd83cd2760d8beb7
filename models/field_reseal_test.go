package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

var keyC = bytes.Repeat([]byte{0xC3}, 32)

// sealedWorld is a database holding every kind of sealed value, and what
// each one opens to.
type sealedWorld struct {
	users     []int64
	members   []*models.TeamMember
	endpoints []int64
	plain     map[string]string // what each value opens to, by a name of it
}

// buildSealedWorld fills db, under its current key, with users (most with
// an SSN and a date of birth, one without an identity, one removed), TOTP
// secrets being set up, and webhook endpoints, one of them rotated so it
// holds a previous secret too.
func buildSealedWorld(t *testing.T, db *models.DB, users int) *sealedWorld {
	t.Helper()
	w := &sealedWorld{}
	for i := range users {
		ident := carmen()
		ident.SSNFull = fmt.Sprintf("123-45-%04d", i)
		ident.DateOfBirth = fmt.Sprintf("1987-01-%02d", 1+i%28)
		if i == 1 {
			ident.DateOfBirth = "" // an SSN alone
		}
		c := createUser(t, db, fmt.Sprintf("sealed-%d", i), ident)
		w.users = append(w.users, c.User.ID)
	}
	createUser(t, db, "no-identity", nil)
	gone := createUser(t, db, "removed", carmen())
	if err := db.RemoveEndUser(ctx, adminOrigin, gone.User.ID, "removed"); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ana@example.com", "bo@example.com"} {
		m := activeMember(t, db, email)
		startSetup(t, db, m)
		w.members = append(w.members, m)
	}
	for range 2 {
		w.endpoints = append(w.endpoints, newEndpoint(t, db).Endpoint.ID)
	}
	if _, err := db.RotateWebhookSecret(ctx, adminOrigin, w.endpoints[0]); err != nil {
		t.Fatal(err)
	}
	w.plain = w.open(t, db)
	return w
}

// open opens every sealed value of the world with db's keys.
func (w *sealedWorld) open(t *testing.T, db *models.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range w.users {
		ident := openIdentity(t, db, reloadUser(t, db, id))
		out[fmt.Sprintf("user %d ssn", id)] = ident.SSNFull
		out[fmt.Sprintf("user %d dob", id)] = ident.DateOfBirth
	}
	for _, m := range w.members {
		st, err := db.MFAStatusOf(ctx, m)
		if err != nil || st.Setup == nil {
			t.Fatalf("totp secret of %s: %+v, %v", m.EmailAddress, st, err)
		}
		out["totp "+m.EmailAddress] = st.Setup.Secret
	}
	for _, id := range w.endpoints {
		var e models.WebhookEndpoint
		if err := db.Gorm().First(&e, id).Error; err != nil {
			t.Fatal(err)
		}
		s, err := db.WebhookSecret(&e)
		if err != nil {
			t.Fatalf("webhook %d: %v", id, err)
		}
		out[fmt.Sprintf("webhook %d secret", id)] = s
		prev, err := db.WebhookPreviousSecret(&e, models.Now())
		if err != nil {
			t.Fatalf("webhook %d previous: %v", id, err)
		}
		out[fmt.Sprintf("webhook %d previous", id)] = prev
	}
	return out
}

// keysInUse is, per key id, how many values it seals.
func keysInUse(t *testing.T, db *models.DB) map[string]int64 {
	t.Helper()
	st, err := db.FieldKeyStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, s := range st {
		out[s.KeyID] += s.Values
	}
	return out
}

// resealDiff is the After of a reseal audit entry.
type resealDiff struct {
	CurrentKey string                      `json:"current_key"`
	Outcome    string                      `json:"outcome"`
	Resealed   map[string]map[string]int64 `json:"resealed"`
	Unreadable map[string]map[string]int64 `json:"unreadable"`
	Changed    map[string]map[string]int64 `json:"changed_during_run"`
	ToReseal   map[string]map[string]int64 `json:"to_reseal"`
}

func resealEntries(t *testing.T, db *models.DB, action string) []resealDiff {
	t.Helper()
	var out []resealDiff
	for _, e := range entriesWithAction(t, db, action) {
		var d struct {
			After resealDiff `json:"after"`
		}
		if err := json.Unmarshal([]byte(e.Diff), &d); err != nil {
			t.Fatalf("entry %d: %v", e.Seq, err)
		}
		if e.TargetType != "field_keys" || e.ActorType != models.ActorSystem {
			t.Errorf("entry %d: target %s/%s by %s", e.Seq, e.TargetType, e.TargetID, e.ActorType)
		}
		out = append(out, d.After)
	}
	return out
}

func sumCounts(m map[string]map[string]int64) int64 {
	var n int64
	for _, byKey := range m {
		for _, v := range byKey {
			n += v
		}
	}
	return n
}

var cliOrigin = models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk keys reseal"}

func TestResealFields_InterruptedThenResumedEndsWithEverythingUnderTheNewKey(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyA), "sandbox")
		w := buildSealedWorld(t, db, 9)
		a, b := models.KeyID(keyA), models.KeyID(keyB)
		// 9 SSNs, 8 dates of birth, 2 TOTP secrets, 2 webhook secrets and 1
		// previous one.
		if got := keysInUse(t, db); got[a] != 22 || len(got) != 1 {
			t.Fatalf("keys in use before rotating: %v", got)
		}
		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")

		// Stopped after two batches of two users: four users resealed, one
		// of them without a date of birth.
		stopCtx, stop := context.WithCancel(ctx)
		var seen []models.ResealProgress
		first, err := db.ResealFields(stopCtx, cliOrigin, models.ResealOptions{BatchSize: 2, Progress: func(p models.ResealProgress) {
			seen = append(seen, p)
			if p.Batches == 2 {
				stop()
			}
		}})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		if !first.Interrupted || first.Batches != 2 || first.ResealedTotal() != 7 || first.CurrentKeyID != b {
			t.Fatalf("first run: interrupted %v, %d batches, %d resealed, key %s; want interrupted after 2 batches, 7 values under %s",
				first.Interrupted, first.Batches, first.ResealedTotal(), first.CurrentKeyID, b)
		}
		if len(seen) != 3 || seen[0].Done != 0 || seen[0].Total != 22 || seen[2].Done != 7 {
			t.Errorf("progress: %+v", seen)
		}
		if got := keysInUse(t, db); got[a] != 15 || got[b] != 7 {
			t.Errorf("keys in use after the interrupted run: %v", got)
		}
		starts, sums := resealEntries(t, db, models.ActionKeysResealStart), resealEntries(t, db, models.ActionKeysReseal)
		if len(starts) != 1 || len(sums) != 1 {
			t.Fatalf("%d start and %d summary entries after one run", len(starts), len(sums))
		}
		if starts[0].ToReseal["end_users.ssn"][a] != 9 || sumCounts(starts[0].ToReseal) != 22 {
			t.Errorf("start entry: %+v", starts[0].ToReseal)
		}
		if s := sums[0]; s.Outcome != "interrupted" || s.CurrentKey != b || s.Resealed["end_users.ssn"][a] != 4 ||
			s.Resealed["end_users.date_of_birth"][a] != 3 || sumCounts(s.Resealed) != 7 {
			t.Errorf("summary of the interrupted run: %+v", s)
		}
		if got := w.open(t, db); !maps.Equal(got, w.plain) {
			t.Fatalf("values after the interrupted run:\n got %v\nwant %v", got, w.plain)
		}

		// The second run picks up where the first stopped.
		second, err := db.ResealFields(ctx, cliOrigin, models.ResealOptions{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if second.Interrupted || second.ResealedTotal() != 15 || second.UnreadableTotal() != 0 {
			t.Fatalf("second run: %+v", second)
		}
		if got := keysInUse(t, db); got[b] != 22 || len(got) != 1 {
			t.Fatalf("keys in use after resuming: %v", got)
		}
		sums = resealEntries(t, db, models.ActionKeysReseal)
		if len(sums) != 2 || sums[1].Outcome != "done" || sums[1].Resealed["member_mfa.totp_secret"][a] != 2 ||
			sums[1].Resealed["webhook_endpoints.secret"][a] != 2 || sums[1].Resealed["webhook_endpoints.previous_secret"][a] != 1 ||
			sumCounts(sums[1].Resealed) != 15 {
			t.Errorf("summary of the second run: %+v", sums)
		}

		// Key A can go: everything opens with B alone, unchanged.
		db.Configure(fieldCipher(t, keyB), "sandbox")
		if got := w.open(t, db); !maps.Equal(got, w.plain) {
			t.Fatalf("values with key B alone:\n got %v\nwant %v", got, w.plain)
		}
		res, err := db.VerifyAuditChain(ctx, nil)
		if err != nil || !res.OK() {
			t.Fatalf("audit chain after resealing: %+v, %v", res, err)
		}
		for _, e := range entries(t, db) {
			for _, v := range personalValues {
				if strings.Contains(e.Diff, v) {
					t.Errorf("entry %d (%s) holds %q", e.Seq, e.Action, v)
				}
			}
		}

		// A third run has nothing to do and writes nothing.
		n := len(entries(t, db))
		third, err := db.ResealFields(ctx, cliOrigin, models.ResealOptions{})
		if err != nil || third.Pending != nil || third.Batches != 0 || len(entries(t, db)) != n {
			t.Fatalf("third run: %+v, %v; %d entries, had %d", third, err, len(entries(t, db)), n)
		}
	})
}

func TestResealFields_NothingToDoWritesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")
		for _, build := range []bool{false, true} {
			if build {
				buildSealedWorld(t, db, 2) // sealed with B, the current key
			}
			before := len(entries(t, db))
			r, err := db.ResealFields(ctx, cliOrigin, models.ResealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Pending != nil || len(r.Counts) > 0 || r.Interrupted || r.Batches != 0 {
				t.Errorf("with everything under the current key (world %v): %+v", build, r)
			}
			if after := len(entries(t, db)); after != before {
				t.Errorf("a reseal with nothing to do wrote %d audit entries", after-before)
			}
		}
	})
}

func TestResealFields_ValuesThatDoNotOpenAreCountedAndLeft(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyC), "sandbox")
		lost := createUser(t, db, "sealed-with-c", carmen()).User.ID
		db.Configure(fieldCipher(t, keyA), "sandbox")
		w := buildSealedWorld(t, db, 3)
		// A value copied from another row does not open in its new place.
		damaged := w.users[2]
		exec(t, testdb.Owner(t, db), `UPDATE end_users SET ssn_cipher = (SELECT ssn_cipher FROM end_users WHERE id = ?) WHERE id = ?`,
			w.users[0], damaged)
		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")

		r, err := db.ResealFields(ctx, cliOrigin, models.ResealOptions{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		a, c := models.KeyID(keyA), models.KeyID(keyC)
		if r.UnreadableTotal() != 3 || r.Interrupted {
			t.Fatalf("unreadable %d, report %+v; want C's two values and the damaged SSN", r.UnreadableTotal(), r)
		}
		var missing, damagedSeen int
		for _, u := range r.Unreadable {
			switch {
			case u.Table == "end_users" && u.Row == fmt.Sprint(lost) && u.KeyID == c && u.KeyMissing:
				missing++
			case u.Table == "end_users" && u.Row == fmt.Sprint(damaged) && u.Field == "ssn" && u.KeyID == a && !u.KeyMissing:
				damagedSeen++
			default:
				t.Errorf("unexpected unreadable value %+v", u)
			}
		}
		if missing != 2 || damagedSeen != 1 {
			t.Errorf("unreadable listed: %+v", r.Unreadable)
		}
		sums := resealEntries(t, db, models.ActionKeysReseal)
		if len(sums) != 1 || sums[0].Unreadable["end_users.ssn"][c] != 1 || sums[0].Unreadable["end_users.date_of_birth"][c] != 1 ||
			sums[0].Unreadable["end_users.ssn"][a] != 1 || sums[0].Outcome != "done" {
			t.Errorf("summary: %+v", sums)
		}
		// The damaged row's date of birth shares its key id with the SSN:
		// both stay under A. Everything else moved.
		if got := keysInUse(t, db); got[c] != 2 || got[a] != 2 || got[models.KeyID(keyB)] != 8 {
			t.Errorf("keys in use: %v", got)
		}
		// Nothing was changed that could have been read: a second run
		// meets the same values and moves nothing.
		again, err := db.ResealFields(ctx, cliOrigin, models.ResealOptions{})
		if err != nil || again.ResealedTotal() != 0 || again.UnreadableTotal() != 3 {
			t.Fatalf("second run: %+v, %v", again, err)
		}
	})
}

func TestResealFields_AnEditDuringTheRunIsKept(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyA), "sandbox")
		var ids []int64
		for i := range 3 {
			ids = append(ids, createUser(t, db, fmt.Sprintf("u%d", i), carmen()).User.ID)
		}
		current, old := fieldCipher(t, keyB, keyA), fieldCipher(t, keyA, keyB)
		db.Configure(current, "sandbox")
		edit := func(id int64, first, ssn string) {
			t.Helper()
			ident := carmen()
			ident.FirstName, ident.SSNFull = first, ssn
			if _, err := db.UpdateEndUser(ctx, adminOrigin, id, reloadUser(t, db, id).Version, ident); err != nil {
				t.Fatal(err)
			}
		}
		staleVersion := reloadUser(t, db, ids[2]).Version
		writes := 0
		opt := models.ResealOptions{}.WithBeforeWrite(func() {
			writes++
			if writes > 1 {
				return
			}
			// Between the read and the write: one edit by a process that
			// seals with B, one by a process still sealing with A.
			edit(ids[0], "Sydney", "111-22-3333")
			db.Configure(old, "sandbox")
			edit(ids[1], "Richie", "444-55-6666")
			db.Configure(current, "sandbox")
		})
		r, err := db.ResealFields(ctx, cliOrigin, opt)
		if err != nil {
			t.Fatal(err)
		}
		a := models.KeyID(keyA)
		var changed, resealed int64
		for _, c := range r.Counts {
			changed += c.Changed
			resealed += c.Resealed
		}
		// Both edited rows were seen changed (SSN and date of birth each);
		// the one still under A was resealed from its new values.
		if changed != 4 || resealed != 4 {
			t.Errorf("changed %d, resealed %d: %+v", changed, resealed, r.Counts)
		}
		if got := keysInUse(t, db); got[models.KeyID(keyB)] != 6 || len(got) != 1 {
			t.Errorf("keys in use: %v", got)
		}
		sums := resealEntries(t, db, models.ActionKeysReseal)
		if len(sums) != 1 || sums[0].Changed["end_users.ssn"][a] != 2 || sums[0].Resealed["end_users.ssn"][a] != 2 {
			t.Errorf("summary: %+v", sums)
		}
		db.Configure(fieldCipher(t, keyB), "sandbox")
		for i, want := range []struct{ first, ssn string }{{"Sydney", "111-22-3333"}, {"Richie", "444-55-6666"}, {"Carmen", "123-45-6789"}} {
			u := reloadUser(t, db, ids[i])
			if got := openIdentity(t, db, u); got.FirstName != want.first || got.SSNFull != want.ssn || got.DateOfBirth != "1987-01-31" {
				t.Errorf("user %d after the run: %s %s %s; want %s %s", i, got.FirstName, got.SSNFull, got.DateOfBirth, want.first, want.ssn)
			}
		}
		// A reseal is not an edit: a form opened before it still saves.
		if u := reloadUser(t, db, ids[2]); u.Version != staleVersion {
			t.Errorf("the reseal moved the version from %d to %d", staleVersion, u.Version)
		}
		ident := carmen()
		ident.LastName = "Berzatto-Jerimovich"
		if _, err := db.UpdateEndUser(ctx, adminOrigin, ids[2], staleVersion, ident); err != nil {
			t.Errorf("save of a form opened before the reseal: %v", err)
		}
	})
}

func TestResealFields_AFailedBatchRollsBackAndTheSummarySaysWhatWasDone(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyA), "sandbox")
		w := buildSealedWorld(t, db, 5)
		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")
		opt := models.ResealOptions{BatchSize: 2, Progress: func(p models.ResealProgress) {
			if p.Batches == 1 {
				testdb.FailOn(t, db, testdb.Update, "end_users")
			}
		}}
		r, err := db.ResealFields(ctx, cliOrigin, opt)
		if err == nil || !strings.Contains(err.Error(), testdb.ErrInjected.Error()) {
			t.Fatalf("reseal with failing updates: %v", err)
		}
		// The first batch (two users, one without a date of birth) stays.
		if r == nil || r.ResealedTotal() != 3 || r.Batches != 1 {
			t.Fatalf("report: %+v", r)
		}
		sums := resealEntries(t, db, models.ActionKeysReseal)
		if len(sums) != 1 || sums[0].Outcome != "failed" || sumCounts(sums[0].Resealed) != 3 {
			t.Fatalf("summary after the failure: %+v", sums)
		}
		if got := keysInUse(t, db); got[models.KeyID(keyB)] != 3 || got[models.KeyID(keyA)] != 11 {
			t.Errorf("keys in use after the failed batch: %v", got)
		}
		if got := w.open(t, db); !maps.Equal(got, w.plain) {
			t.Fatalf("values after the failure:\n got %v\nwant %v", got, w.plain)
		}
	})
}

func TestFieldKeyStatus_CountsValuesPerFieldAndKey(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		db.Configure(fieldCipher(t, keyA), "sandbox")
		buildSealedWorld(t, db, 3)
		db.Configure(fieldCipher(t, keyB, keyA), "sandbox")
		createUser(t, db, "with-b", carmen())
		st, err := db.FieldKeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, b := models.KeyID(keyA), models.KeyID(keyB)
		got := map[string]int64{}
		for _, s := range st {
			got[s.Table+"."+s.Field+" "+s.KeyID] = s.Values
		}
		want := map[string]int64{
			"end_users.ssn " + a: 3, "end_users.date_of_birth " + a: 2,
			"end_users.ssn " + b: 1, "end_users.date_of_birth " + b: 1,
			"member_mfa.totp_secret " + a:   2,
			"webhook_endpoints.secret " + a: 2, "webhook_endpoints.previous_secret " + a: 1,
		}
		if !maps.Equal(got, want) {
			t.Errorf("status:\n got %v\nwant %v", got, want)
		}
		if !slices.IsSortedFunc(st, func(x, y models.SealedValues) int {
			return strings.Compare(x.Table+"."+x.Field+" "+x.KeyID, y.Table+"."+y.Field+" "+y.KeyID)
		}) {
			t.Errorf("status is not sorted: %+v", st)
		}
	})
}

// A migration that adds a sealed column must add it to the catalogue that
// status and reseal walk.
func TestSealedColumns_NameEverySealedColumnOfTheMigrations(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	column := regexp.MustCompile(`(?i)\b([a-z_]+_cipher)\b`)
	known := models.SealedColumns()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range column.FindAllStringSubmatch(string(b), -1) {
			found := false
			for _, k := range known {
				found = found || strings.HasSuffix(k, "."+strings.ToLower(m[1]))
			}
			if !found {
				t.Errorf("%s: column %s is not in models' sealed columns (field_keys.go)", f, m[1])
			}
		}
	}
}

func TestFieldCipher_ListsItsKeysCurrentFirst(t *testing.T) {
	t.Parallel()
	fc := fieldCipher(t, keyB, keyA, keyB)
	a, b := models.KeyID(keyA), models.KeyID(keyB)
	if got := fc.KeyIDs(); !slices.Equal(got, []string{b, a}) {
		t.Errorf("key ids %v, want [%s %s]", got, b, a)
	}
	if !fc.Has(a) || !fc.Has(b) || fc.Has(models.KeyID(keyC)) || fc.Has("") {
		t.Error("Has does not match the configured keys")
	}
}
