package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]models.LSN{"0/0": 0, "16/B374D848": 0x16B374D848, "FFFFFFFF/FFFFFFFF": ^models.LSN(0)} {
		got, err := models.ParseLSN(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseLSN(%q) = %v (%s), %v; want %v", in, got, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "16", "16/", "/1", "1/2/3", "G/0", "0/\x00", "100000000/0", "-1/0", "+1/0", " 1/0", "\xff/0"} {
		if _, err := models.ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) accepted", bad)
		}
	}
}

func TestReplicas_RefusedOnSQLite(t *testing.T) {
	db := testdb.SQLite(t)
	err := db.AddReplicas([]string{"postgres://u:secret@127.0.0.1:1/x"}, models.ReplicaOptions{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("AddReplicas on SQLite: %v", err)
	}
}

func TestReplicas_BadURLNamesNoPassword(t *testing.T) {
	db := testdb.Postgres(t)
	err := db.AddReplicas([]string{"postgres://u:hunter2secret@127.0.0.1:notaport/x"}, models.ReplicaOptions{})
	if err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("AddReplicas with a bad URL: %v", err)
	}
}

// replicated is a test database on PostgreSQL with the test binary's
// replica added, caught up and polled.
type replicated struct {
	db         *models.DB
	replica    *testdb.ReplicaServer
	replicaDSN string
	schema     string
}

func withReplica(t *testing.T, opts models.ReplicaOptions) *replicated {
	t.Helper()
	db, dsn := testdb.PostgresDurable(t)
	rep := testdb.Replica(t)
	rep.CatchUp(t)
	r := &replicated{db: db, replica: rep, replicaDSN: rep.URL(t, dsn), schema: testdb.SchemaOf(t, dsn)}
	if err := db.AddReplicas([]string{r.replicaDSN}, opts); err != nil {
		t.Fatal(err)
	}
	waitServing(t, db, rep)
	return r
}

// waitServing waits until the replica has caught up and a poll finds it
// within its lag bound. The replica replays the whole cluster's WAL, so
// on a busy test server it may take a few rounds.
func waitServing(t *testing.T, db *models.DB, rep *testdb.ReplicaServer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		rep.CatchUp(t)
		db.PollReplicas(ctx)
		st := db.ReplicaStats().Replicas[0]
		if st.Serving {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not serving after it caught up: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// memberCtx is a signed-in member's request to a page replicas may serve,
// whose last change ended at after.
func memberCtx(after models.LSN) (context.Context, *models.Reads) {
	c, reads := models.WithReads(context.Background(), after)
	return models.ReplicaReads(c), reads
}

// scansMove waits for the server at dsn to report more scans of the
// schema's end_users than before.
func scansMove(t *testing.T, dsn, schema string, before int64) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if testdb.Scans(t, dsn, schema, "end_users") > before {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func listed(t *testing.T, db *models.DB, c context.Context, clientUserID string) bool {
	t.Helper()
	page, err := db.ListEndUsers(c, models.UserPageRequest{Filter: models.UserFilter{Search: clientUserID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range page.Users {
		if u.ClientUserID == clientUserID {
			return true
		}
	}
	return false
}

// settledScans is a table's scan count once the backends that ran the
// test's set-up have reported theirs: a backend sends its statistics at
// most once a second, so a count read at once may still grow by scans
// made before it.
func settledScans(t *testing.T, dsn, schema, table string) int64 {
	t.Helper()
	n := testdb.Scans(t, dsn, schema, table)
	for range 10 {
		time.Sleep(1100 * time.Millisecond)
		m := testdb.Scans(t, dsn, schema, table)
		if m == n {
			return n
		}
		n = m
	}
	t.Fatalf("the scans of %s.%s still grow after 11 s", schema, table)
	return n
}

func TestReplicas_ReadsLandOnTheReplica(t *testing.T) {
	r := withReplica(t, models.ReplicaOptions{})
	if _, err := r.db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "on-replica"}); err != nil {
		t.Fatal(err)
	}
	r.replica.CatchUp(t)
	r.db.PollReplicas(ctx)
	// The replica's copy of the test database, as the superuser who may
	// read its statistics.
	replicaStats := r.replica.URL(t, testdb.PostgresURL(t))
	onReplica := testdb.Scans(t, replicaStats, r.schema, "end_users")
	onPrimary := settledScans(t, testdb.PostgresURL(t), r.schema, "end_users")

	c, _ := memberCtx(0)
	if !listed(t, r.db, c, "on-replica") {
		t.Fatal("the replica's list lacks the user it has replayed")
	}
	if got := r.db.ReplicaStats(); got.Replicas[0].Reads != 1 || got.PrimaryReads != 0 {
		t.Errorf("reads by target: %+v", got)
	}
	if !scansMove(t, replicaStats, r.schema, onReplica) {
		t.Error("the replica's statistics show no scan of end_users for the list")
	}
	// The primary's own count is only logged: with the whole package
	// running, its backends report scans of this table that the read did
	// not make (the replica's count and the reads by target above are
	// what prove where the read went).
	time.Sleep(1500 * time.Millisecond)
	if after := testdb.Scans(t, testdb.PostgresURL(t), r.schema, "end_users"); after != onPrimary {
		t.Logf("the primary's scans of end_users moved by %d meanwhile", after-onPrimary)
	}

	// The same read without a member's request (the API, background
	// work), or outside the pages replicas serve, goes to the primary.
	plain, _ := models.WithReads(context.Background(), 0)
	for _, c := range []context.Context{context.Background(), models.ReplicaReads(context.Background()), plain} {
		if !listed(t, r.db, c, "on-replica") {
			t.Fatal("the primary's list lacks the user")
		}
	}
	if got := r.db.ReplicaStats(); got.Replicas[0].Reads != 1 {
		t.Errorf("a read without a member's page context went to the replica: %+v", got)
	}
}

// A member's own change shows on their next read at once, from the
// primary while the replica has not replayed it; another member's reads
// still go to the replica.
func TestReplicas_MemberSeesTheirOwnCreateAtOnce(t *testing.T) {
	r := withReplica(t, models.ReplicaOptions{MaxLag: time.Minute})
	r.replica.PauseReplay(t)

	c, reads := memberCtx(0)
	if _, err := r.db.CreateEndUser(c, systemOrigin, models.EndUserInput{ClientUserID: "mine-at-once"}); err != nil {
		t.Fatal(err)
	}
	if !reads.Moved() || reads.After() == 0 {
		t.Fatalf("the commit's position was not recorded: %v", reads.After())
	}
	r.db.PollReplicas(ctx)
	if !listed(t, r.db, c, "mine-at-once") {
		t.Fatal("the member does not see their own create")
	}
	if got := r.db.ReplicaStats(); got.PrimaryReads != 1 || got.Replicas[0].Reads != 0 {
		t.Errorf("reads by target: %+v", got)
	}
	other, _ := memberCtx(0)
	if listed(t, r.db, other, "mine-at-once") {
		t.Error("another member's read did not go to the paused replica")
	}

	// Once the replica has replayed it, the member's reads go there too.
	r.replica.ResumeReplay(t)
	waitServing(t, r.db, r.replica)
	next, _ := memberCtx(reads.After())
	if !listed(t, r.db, next, "mine-at-once") {
		t.Fatal("the caught-up replica lacks the user")
	}
	if got := r.db.ReplicaStats(); got.Replicas[0].Reads != 2 {
		t.Errorf("the caught-up replica served %d reads, want 2", got.Replicas[0].Reads)
	}
}

// An export waits briefly for a replica to replay its own audit entry.
func TestReplicas_ExportReadsTheReplicaAfterItsEntry(t *testing.T) {
	r := withReplica(t, models.ReplicaOptions{})
	if _, err := r.db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "exported"}); err != nil {
		t.Fatal(err)
	}
	c, _ := memberCtx(0)
	x, err := r.db.RecordUserExport(c, systemOrigin, models.UserSelection{ByFilter: true}, "csv", models.AccessFields{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = r.db.EachExportedUser(c, x, func(u *models.EndUser) error {
		got = append(got, u.ClientUserID)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != "exported" {
		t.Fatalf("export: %v, %v", got, err)
	}
	if st := r.db.ReplicaStats(); st.Replicas[0].Reads != 1 {
		t.Errorf("the export did not read from the replica: %+v", st)
	}
}

// A replica that stops answering fails no read: the read runs again on
// the primary, and the replica serves no more until a poll finds it well.
func TestReplicas_StoppedReplicaSendsReadsToThePrimary(t *testing.T) {
	// Polled by the test alone, so that the failed read, not a poll,
	// finds the replica down.
	r := withReplica(t, models.ReplicaOptions{Poll: time.Hour})
	if _, err := r.db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "still-here"}); err != nil {
		t.Fatal(err)
	}
	c, _ := memberCtx(0)
	if !listed(t, r.db, c, "still-here") {
		// Not replayed yet: the replica's list lacks it, fine.
		t.Log("replica had not replayed the create yet")
	}
	r.replica.Stop(t)
	c, _ = memberCtx(0)
	if !listed(t, r.db, c, "still-here") {
		t.Fatal("the read did not fall back to the primary")
	}
	st := r.db.ReplicaStats()
	if st.FellBack != 1 || st.Replicas[0].Serving {
		t.Errorf("after a failed read: %+v", st)
	}
	r.db.PollReplicas(ctx)
	if st := r.db.ReplicaStats().Replicas[0]; st.Serving || st.Reason != "does not answer" {
		t.Errorf("a stopped replica polled: %+v", st)
	}
	if u, err := r.db.EndUserByID(c, 1); err != nil && models.ErrorKind(err) != models.KindNotFound {
		t.Errorf("user page read with the replica down: %v", err)
	} else if u == nil && err == nil {
		t.Error("no user and no error")
	}

	r.replica.Start(t)
	waitServing(t, r.db, r.replica)
}

// A replica further behind than MaxLag serves no reads until it catches up.
func TestReplicas_LaggingReplicaIsSkipped(t *testing.T) {
	r := withReplica(t, models.ReplicaOptions{MaxLag: time.Second})
	r.replica.PauseReplay(t)
	if _, err := r.db.CreateEndUser(ctx, systemOrigin, models.EndUserInput{ClientUserID: "behind"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var st models.ReplicaStatus
	for time.Now().Before(deadline) {
		r.db.PollReplicas(ctx)
		if st = r.db.ReplicaStats().Replicas[0]; !st.Serving {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Serving || !strings.Contains(st.Reason, "behind the primary") || st.Lag <= time.Second || st.LagBytes == 0 {
		t.Fatalf("a paused replica behind the bound: %+v", st)
	}
	c, _ := memberCtx(0)
	if !listed(t, r.db, c, "behind") {
		t.Error("a read skipped the lagging replica but missed the user")
	}
	if got := r.db.ReplicaStats(); got.Replicas[0].Reads != 0 || got.PrimaryReads != 1 {
		t.Errorf("reads by target: %+v", got)
	}
	r.replica.ResumeReplay(t)
	waitServing(t, r.db, r.replica)
}
