package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// replicated is a PostgreSQL test database with the test binary's
// streaming replica added, caught up and serving.
func replicated(t *testing.T, maxLag time.Duration) (*models.DB, *testdb.ReplicaServer) {
	t.Helper()
	db, dsn := testdb.PostgresDurable(t)
	rep := testdb.Replica(t)
	rep.CatchUp(t)
	if err := db.AddReplicas([]string{rep.URL(t, dsn)}, models.ReplicaOptions{MaxLag: maxLag}); err != nil {
		t.Fatal(err)
	}
	waitServing(t, db, rep)
	return db, rep
}

// waitServing waits until the replica has caught up and a poll finds it
// within its lag bound: it replays the whole cluster's WAL, so on a busy
// test server that may take a few rounds.
func waitServing(t *testing.T, db *models.DB, rep *testdb.ReplicaServer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		rep.CatchUp(t)
		db.PollReplicas(t.Context())
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

// listsUser reports whether the users list, searched for cuid, shows it.
func listsUser(t *testing.T, c *webtest.Client, cuid string) bool {
	t.Helper()
	r := c.Get("/users?q=" + url.QueryEscape(cuid))
	wantStatus(t, r, http.StatusOK)
	return strings.Contains(byTestID(r.Doc, "user-results").Text(), cuid)
}

func replicaReads(db *models.DB) int64 { return db.ReplicaStats().Replicas[0].Reads }

// A member who creates a user sees it at once on the list and its page,
// though the replica has not replayed it; another member's list comes
// from the replica, which has not.
func TestReplicas_MemberSeesTheirOwnCreateAtOnce(t *testing.T) {
	db, rep := replicated(t, time.Minute)
	h := webtest.New(t, db)
	creator, _ := h.SignIn(t, models.RoleAdmin)
	other, _ := h.SignIn(t, models.RoleAdmin)

	before := replicaReads(db)
	if listsUser(t, other, "nobody-yet") || replicaReads(db) <= before {
		t.Fatal("a member's list did not come from the replica")
	}

	rep.PauseReplay(t)
	form := createForm(sampleIdentity())
	cuid := form.Get("client_user_id")
	wantStatus(t, creator.Post("/users", form), http.StatusCreated)
	db.PollReplicas(t.Context())

	if !listsUser(t, creator, cuid) {
		t.Fatal("the member does not see the user they just created on the list")
	}
	u := userByClientUserID(t, db, cuid)
	page := creator.Get("/users/" + strconv.FormatInt(u.ID, 10))
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(page.Body, cuid) {
		t.Fatal("the new user's page lacks its client_user_id")
	}
	if listsUser(t, other, cuid) {
		t.Error("another member's list did not come from the paused replica")
	}

	// Once the replica has replayed the create, the creator reads from it.
	rep.ResumeReplay(t)
	waitServing(t, db, rep)
	before = replicaReads(db)
	if !listsUser(t, creator, cuid) || replicaReads(db) <= before {
		t.Error("the creator's list did not come from the caught-up replica")
	}
}

// With the replica stopped, every page it serves still answers, from the
// primary, before and after a poll notices.
func TestReplicas_StoppedReplicaPagesStillAnswer(t *testing.T) {
	db, rep := replicated(t, time.Minute)
	created, err := db.CreateEndUser(t.Context(), models.Origin{Actor: models.SystemActor}, models.EndUserInput{ClientUserID: newClientUserID()})
	if err != nil {
		t.Fatal(err)
	}
	h := webtest.New(t, db)
	c, _ := h.SignIn(t, models.RoleAuditor)
	rep.Stop(t)
	paths := []string{"/users", "/users?q=acme", "/users/" + strconv.FormatInt(created.User.ID, 10), "/audit", "/audit/chart"}
	for round := range 2 {
		for _, p := range paths {
			r := c.Get(p)
			wantStatus(t, r, http.StatusOK)
		}
		if round == 0 {
			db.PollReplicas(t.Context())
		}
	}
	st := db.ReplicaStats()
	if st.Replicas[0].Serving || st.PrimaryReads < int64(len(paths)) {
		t.Errorf("with the replica stopped: %+v", st)
	}
	csv := c.Post("/users/export", url.Values{"format": {"csv"}})
	wantStatus(t, csv, http.StatusOK)
	if !strings.Contains(csv.Body, created.User.ClientUserID) {
		t.Error("the export with the replica stopped lacks the user")
	}
}

// A replica further behind than the bound serves no page until it
// catches up: a member's list shows what the primary has.
func TestReplicas_LaggingReplicaIsSkipped(t *testing.T) {
	db, rep := replicated(t, time.Second)
	h := webtest.New(t, db)
	c, _ := h.SignIn(t, models.RoleCompliance)
	rep.PauseReplay(t)
	cuid := newClientUserID()
	if _, err := db.CreateEndUser(t.Context(), models.Origin{Actor: models.SystemActor}, models.EndUserInput{ClientUserID: cuid}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.ReplicaStats().Replicas[0].Serving && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		db.PollReplicas(t.Context())
	}
	if st := db.ReplicaStats().Replicas[0]; st.Serving {
		t.Fatalf("a paused replica still serves: %+v", st)
	}
	before := replicaReads(db)
	if !listsUser(t, c, cuid) {
		t.Error("the list skipped the lagging replica but lacks the user")
	}
	if replicaReads(db) != before {
		t.Error("the lagging replica served a read")
	}
}
