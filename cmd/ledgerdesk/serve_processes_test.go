package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/metrics/metricstest"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/session"
	"ledgerdesk/web/webtest"
	"ledgerdesk/webhooks"
)

// --- serve as a process of its own ---

// serveProcess is a `ledgerdesk serve` running as a separate process: this
// test binary started again as the ledgerdesk binary (see childEnv), so it
// shares no memory with the test or with another serve.
type serveProcess struct {
	name    string
	URL     string
	metrics string
	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	exited  chan struct{}
}

// launchServe starts `serve --listen 127.0.0.1:0` with only the
// environment given, as a real deployment passes its settings.
func launchServe(name string, environ []string) (*serveProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &serveProcess{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(self, "serve", "--listen", "127.0.0.1:0")
	p.cmd.Env = append([]string{childEnv + "=1"}, environ...)
	if dir := os.Getenv("GOCOVERDIR"); dir != "" {
		p.cmd.Env = append(p.cmd.Env, "GOCOVERDIR="+dir)
	}
	p.cmd.Stdout = p.stdout
	// The shared log sink, so that webtest.Main fails the package when a
	// secret reaches either process's log.
	p.cmd.Stderr = io.MultiWriter(webtest.LogWriter(), p.stderr)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// ready waits until the process serves (it logs "serving" after printing
// its addresses and any first admin's credentials).
func (p *serveProcess) ready(within time.Duration) error {
	deadline := time.After(within)
	for !strings.Contains(p.stderr.String(), `"msg":"serving"`) {
		select {
		case <-p.exited:
			return fmt.Errorf("serve %s exited with %d before serving\nstdout: %s\nstderr: %s",
				p.name, p.cmd.ProcessState.ExitCode(), p.stdout, p.stderr)
		case <-deadline:
			return fmt.Errorf("serve %s did not start within %v\nstdout: %s\nstderr: %s", p.name, within, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	m := runningAt.FindStringSubmatch(p.stdout.String())
	mm := metricsAt.FindStringSubmatch(p.stdout.String())
	if m == nil || mm == nil {
		return fmt.Errorf("serve %s did not say where it serves and where its metrics are: %q", p.name, p.stdout)
	}
	p.URL, p.metrics = m[1], mm[1]
	return nil
}

// stop sends SIGTERM, as systemd and docker stop do, and returns the exit
// code; a process still running after 40 s is killed and fails the test.
func (p *serveProcess) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("signal serve %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("serve %s did not stop within 40s of SIGTERM\nstderr: %s", p.name, p.stderr)
		return -1
	}
}

// kill ends a process the test left running (it failed half-way).
func (p *serveProcess) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// randomHex is n random bytes in hex, as the key variables take them.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := hex.EncodeToString(b)
	webtest.Sensitive(v)
	return v
}

// --- a visitor of the portal, over real HTTP ---

// visitor is one person's client: its cookies, no redirects followed.
// Cookies belong to a host whatever its port, so, as behind a balancer,
// a visitor sends the same cookies to either process.
type visitor struct {
	t *testing.T
	c *http.Client
}

func newVisitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, c: &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is a response read whole: its status, redirect and HTML.
type answer struct {
	status   int
	location string
	doc      *goquery.Document
	body     string
}

// token is the CSRF token of the page, from its meta tag.
func (a answer) token() string {
	v, _ := a.doc.Find(`meta[name="csrf-token"]`).Attr("content")
	webtest.Sensitive(v)
	return v
}

func (a answer) testID(id string) *goquery.Selection {
	return a.doc.Find(`[data-testid="` + id + `"]`)
}

func (b *visitor) do(method, u string, form url.Values, header map[string]string) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(raw)))
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), doc: doc, body: string(raw)}
}

func (b *visitor) get(u string) answer { b.t.Helper(); return b.do("GET", u, nil, nil) }

func (b *visitor) post(u string, form url.Values) answer {
	b.t.Helper()
	return b.do("POST", u, form, nil)
}

// htmx sends what htmx sends: the token in its header, no form field.
func (b *visitor) htmx(method, u, token string) answer {
	b.t.Helper()
	h := map[string]string{"HX-Request": "true"}
	if token != "" {
		h["X-CSRF-Token"] = token
	}
	return b.do(method, u, url.Values{}, h)
}

// want fails the test unless the answer has the status (and, for a
// redirect, leads to location).
func (a answer) want(t *testing.T, what string, status int, location string) answer {
	t.Helper()
	if a.status != status || (location != "" && a.location != location) {
		t.Fatalf("%s: %d to %q, want %d to %q\n%s", what, a.status, a.location, status, location, a.body)
	}
	return a
}

// signIn signs in on the process at base with the token from the login
// page's meta tag, as a person signing in would.
func (b *visitor) signIn(base, email, password string) {
	b.t.Helper()
	login := b.get(base+"/login").want(b.t, "GET /login", http.StatusOK, "")
	b.post(base+"/login", url.Values{"_csrf": {login.token()}, "email": {email}, "password": {password}}).
		want(b.t, "sign in on "+base, http.StatusSeeOther, "/")
}

// sessionCookie is the visitor's session cookie for base.
func (b *visitor) sessionCookie(base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == session.CookieName {
			webtest.Sensitive(c.Value)
			return c
		}
	}
	return nil
}

// --- a webhook receiver ---

type received struct {
	id, event string
	body      []byte
	err       error // the signature's verification
}

// receiver records every delivery, checks its signature, and while hold is
// set keeps each request waiting (up to 8 s, under the worker's 10 s
// timeout) until hold is closed.
type receiver struct {
	mu      sync.Mutex
	secret  string
	got     []received
	hold    chan struct{}
	arrived chan struct{}
}

func newReceiver() *receiver { return &receiver{arrived: make(chan struct{}, 100)} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	err := webhooks.Verify(rc.secret, r.Header, body, time.Minute, time.Now())
	rc.got = append(rc.got, received{id: r.Header.Get("webhook-id"), event: r.Header.Get(webhooks.HeaderEventType), body: body, err: err})
	hold := rc.hold
	rc.mu.Unlock()
	rc.arrived <- struct{}{}
	if hold != nil {
		select {
		case <-hold:
		case <-time.After(8 * time.Second):
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) deliveries() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// await waits for the next delivery.
func (rc *receiver) await(t *testing.T, within time.Duration, what string) received {
	t.Helper()
	select {
	case <-rc.arrived:
	case <-time.After(within):
		t.Fatalf("no webhook within %v: %s", within, what)
	}
	got := rc.deliveries()
	return got[len(got)-1]
}

// endUserID is the end user a USER_CREATED or USER_DELETED body names.
func (r received) endUserID(t *testing.T) int64 {
	t.Helper()
	var body struct{ ID int64 }
	if err := json.Unmarshal(r.body, &body); err != nil || body.ID == 0 {
		t.Fatalf("webhook %s body %q: %v", r.id, r.body, err)
	}
	return body.ID
}

// --- the test ---

// Two serve processes on one PostgreSQL database, started at the same
// moment with the same keys, serve one portal: a session, a CSRF token, a
// flash message, a verification, a setting and the webhook outbox all hold
// whichever process a request reaches.
func TestServe_TwoProcessesOnOneDatabaseServeOnePortal(t *testing.T) {
	start := time.Now()
	db, appDSN := testdb.PostgresWithDSN(t)
	ctx := context.Background()

	shared := []string{
		"DATABASE_URL=" + appDSN,
		"LEDGERDESK_SESSION_KEY=" + randomHex(t, 32),
		"LEDGERDESK_FIELD_KEY=" + hex.EncodeToString(testdb.FieldKey),
		"LEDGERDESK_AUDIT_SIGNING_KEY=" + randomHex(t, 32),
		"LEDGERDESK_WEBHOOK_ALLOW_PRIVATE=true",
		"LEDGERDESK_METRICS_LISTEN=127.0.0.1:0",
		"LEDGERDESK_AUDIT_CHECKPOINT_EVERY=1s",
	}
	var procs []*serveProcess
	for _, name := range []string{"A", "B"} {
		p, err := launchServe(name, append(slices.Clone(shared), "LEDGERDESK_DATA="+t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.ready(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	a, b := procs[0], procs[1]
	t.Logf("both processes serving after %v", time.Since(start).Round(time.Millisecond))

	// Both started on an empty database at once: one created the first
	// admin and printed its password, the other found it there.
	var email, password string
	for _, p := range procs {
		if e, pw := credentials(p.stdout.String()); pw != "" {
			if password != "" {
				t.Fatal("both processes created a first admin")
			}
			email, password = e, pw
		}
	}
	if password == "" {
		t.Fatalf("neither process printed the first admin's credentials:\nA: %s\nB: %s", a.stdout, b.stdout)
	}

	t.Run("session", func(t *testing.T) {
		alice := newVisitor(t)
		alice.signIn(a.URL, email, password)
		cookie := alice.sessionCookie(a.URL)
		if cookie == nil {
			t.Fatal("signing in on A set no session cookie")
		}
		home := alice.get(b.URL+"/").want(t, "GET / on B with A's session", http.StatusOK, "")
		if got := home.testID("member").Text(); !strings.Contains(got, email) {
			t.Fatalf("B's page names %q as signed in, want %s", got, email)
		}
		// A's token, masked on A's page, is good on B: tokens are derived
		// from the shared session key and the session, never stored.
		tokenFromA := alice.get(a.URL+"/account").want(t, "GET /account on A", http.StatusOK, "").token()
		alice.post(b.URL+"/logout", url.Values{"_csrf": {tokenFromA}}).
			want(t, "sign out on B", http.StatusSeeOther, "/login?signed_out=1")

		replay := newVisitor(t)
		for _, p := range procs {
			req, _ := http.NewRequest("GET", p.URL+"/users", nil)
			req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
			resp, err := replay.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("GET /users on %s with the cookie signed out on B: %d to %q, want 303 to /login",
					p.name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	admin := newVisitor(t)
	admin.signIn(a.URL, email, password)

	t.Run("verification", func(t *testing.T) {
		owner := testdb.Owner(t, db)
		integrity := admin.get(a.URL+"/audit/integrity").want(t, "GET /audit/integrity on A", http.StatusOK, "")
		// Holding the audit log locked keeps the walk from reading it, so
		// the verification is certainly still running while B is asked.
		lock := owner.Gorm().Begin()
		release := sync.OnceFunc(func() { lock.Rollback() })
		defer release()
		if err := lock.Exec("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE").Error; err != nil {
			t.Fatal(err)
		}
		started := admin.htmx("POST", a.URL+"/audit/integrity/verify", integrity.token()).
			want(t, "start the verification on A", http.StatusOK, "")
		if st := started.testID("verify-panel").AttrOr("data-state", ""); st != "running" {
			t.Fatalf("after starting on A the panel is %q, want running:\n%s", st, started.body)
		}
		polled := admin.htmx("GET", b.URL+"/audit/integrity/verify", "").want(t, "poll on B", http.StatusOK, "")
		if st := polled.testID("verify-panel").AttrOr("data-state", ""); st != "running" {
			t.Fatalf("B answers the verification A runs as %q, want running", st)
		}
		if polled.testID("verify-panel").AttrOr("hx-get", "") != "/audit/integrity/verify" {
			t.Fatalf("the running panel does not poll:\n%s", polled.body)
		}
		// A second start, on B, with the token of A's page, joins it.
		again := admin.htmx("POST", b.URL+"/audit/integrity/verify", integrity.token()).
			want(t, "start again on B", http.StatusOK, "")
		if st := again.testID("verify-panel").AttrOr("data-state", ""); st != "running" {
			t.Fatalf("a second start on B answers %q, want the running one", st)
		}
		var rows []models.Verification
		if err := db.Gorm().Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].State != models.VerificationRunning {
			t.Fatalf("audit_verifications holds %+v, want one running row", rows)
		}
		release()

		var done answer
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			done = admin.htmx("GET", b.URL+"/audit/integrity/verify", "").want(t, "poll on B", http.StatusOK, "")
			if done.testID("verify-panel").AttrOr("data-state", "") != "running" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the verification still runs 30s after the log was unlocked")
			}
		}
		if st := done.testID("verify-panel").AttrOr("data-state", ""); st != "ok" {
			t.Fatalf("the verification ended %q, want ok:\n%s", st, done.body)
		}
		if n, _ := strconv.ParseInt(done.testID("verify-checked").Text(), 10, 64); n < rows[0].Total || n == 0 {
			t.Errorf("B reports %d entries checked, want at least the %d the run started with", n, rows[0].Total)
		}
		if err := db.Gorm().Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].State != models.VerificationDone {
			t.Fatalf("audit_verifications holds %+v, want the one row, done", rows)
		}
		// One walk of the chain, in the process that started it.
		walks := func(p *serveProcess) float64 {
			n, _ := metricstest.Fetch(t, p.metrics).Value("ledgerdesk_audit_verifications_total", "result", "intact")
			return n
		}
		if wa, wb := walks(a), walks(b); wa != 1 || wb != 0 {
			t.Errorf("walks of the chain: %v on A, %v on B; want 1 on A only", wa, wb)
		}
		// Its result is the database's: B reports it as A does. (These are
		// the first scrapes, so no figure read earlier stands in for it.)
		for _, p := range []*serveProcess{a, b} {
			if ok, found := metricstest.Fetch(t, p.metrics).Value("ledgerdesk_audit_last_verification_ok"); !found || ok != 1 {
				t.Errorf("%s reports the last verification as %v (found: %v), want 1", p.name, ok, found)
			}
		}
	})

	t.Run("settings", func(t *testing.T) {
		settings := admin.get(a.URL+"/settings").want(t, "GET /settings on A", http.StatusOK, "")
		admin.post(a.URL+"/settings", url.Values{"_csrf": {settings.token()}, "mfa_required_for_admins": {"on"}}).
			want(t, "require two-step sign-in on A", http.StatusSeeOther, "/settings")
		// The redirect lands on B: the flash message went with the session.
		onB := admin.get(b.URL+"/settings").want(t, "GET /settings on B", http.StatusOK, "")
		if got := strings.TrimSpace(onB.testID("flash").Text()); got != "Settings saved." {
			t.Errorf("B shows the flash %q, want Settings saved.", got)
		}
		if _, on := onB.testID("mfa-required-for-admins").Attr("checked"); !on {
			t.Error("B shows two-step sign-in as not required")
		}
		// The very next sign-in on B is held to the setting A saved.
		other := newVisitor(t)
		other.signIn(b.URL, email, password)
		other.get(b.URL+"/").want(t, "GET / on B after signing in there", http.StatusSeeOther, "/account/mfa")

		// And back, saved on B, applied on A at once.
		settings = admin.get(b.URL+"/settings").want(t, "GET /settings on B", http.StatusOK, "")
		admin.post(b.URL+"/settings", url.Values{"_csrf": {settings.token()}}).
			want(t, "stop requiring two-step sign-in on B", http.StatusSeeOther, "/settings")
		third := newVisitor(t)
		third.signIn(a.URL, email, password)
		third.get(a.URL+"/").want(t, "GET / on A after signing in there", http.StatusOK, "")
	})

	t.Run("webhooks", func(t *testing.T) {
		rc := newReceiver()
		srv := httptest.NewServer(rc)
		defer srv.Close()

		form := admin.get(a.URL+"/webhooks/new").want(t, "GET /webhooks/new on A", http.StatusOK, "")
		created := admin.post(a.URL+"/webhooks", url.Values{"_csrf": {form.token()}, "url": {srv.URL + "/hook"},
			"events": {"USER_CREATED", "USER_DELETED"}, "enabled": {"1"}}).
			want(t, "create the endpoint on A", http.StatusCreated, "")
		secret := created.testID("webhook-secret").AttrOr("value", "")
		webtest.Sensitive(secret)
		endpoint := created.testID("secret-continue").AttrOr("href", "")
		if secret == "" || endpoint == "" {
			t.Fatalf("creating the endpoint showed no secret or link:\n%s", created.body)
		}
		rc.mu.Lock()
		rc.secret = secret
		rc.mu.Unlock()

		clientIDs := map[int64]string{}
		createUser := func(p *serveProcess, clientID string) int64 {
			t.Helper()
			f := admin.get(p.URL+"/users/new").want(t, "GET /users/new on "+p.name, http.StatusOK, "")
			r := admin.post(p.URL+"/users", url.Values{"_csrf": {f.token()}, "client_user_id": {clientID}, "country": {"US"}}).
				want(t, "create user "+clientID+" on "+p.name, http.StatusCreated, "")
			webtest.Sensitive(r.testID("user-token").AttrOr("value", ""))
			id, err := strconv.ParseInt(strings.TrimPrefix(r.testID("token-continue").AttrOr("href", ""), "/users/"), 10, 64)
			if err != nil {
				t.Fatalf("creating %s showed no link to the user:\n%s", clientID, r.body)
			}
			clientIDs[id] = clientID
			return id
		}
		removeUser := func(p *serveProcess, id int64) {
			t.Helper()
			path := p.URL + "/users/" + strconv.FormatInt(id, 10) + "/remove"
			f := admin.get(path).want(t, "GET remove on "+p.name, http.StatusOK, "")
			admin.post(path, url.Values{"_csrf": {f.token()}, "confirm": {clientIDs[id]}}).
				want(t, "remove user on "+p.name, http.StatusSeeOther, "")
		}
		type event struct {
			kind string
			user int64
		}
		var want []event

		// While one process's worker waits on a delivery (its receiver
		// holds the request), an event from the other still goes out at
		// once: both processes' workers claim from the one outbox.
		hold := make(chan struct{})
		rc.mu.Lock()
		rc.hold = hold
		rc.mu.Unlock()
		first := createUser(a, "two-procs-1")
		want = append(want, event{"USER_CREATED", first})
		d1 := rc.await(t, 15*time.Second, "after creating a user on A")
		second := createUser(b, "two-procs-2")
		want = append(want, event{"USER_CREATED", second})
		d2 := rc.await(t, 7*time.Second, "after creating a user on B while the delivery of A's event was held: "+
			"only one process's worker delivers")
		rc.mu.Lock()
		rc.hold = nil
		rc.mu.Unlock()
		close(hold)
		if d1.endUserID(t) != first || d2.endUserID(t) != second {
			t.Fatalf("deliveries for users %d then %d, want %d then %d", d1.endUserID(t), d2.endUserID(t), first, second)
		}

		// Then events from both, as fast as the pages take them.
		for i := 3; i <= 8; i++ {
			p := procs[i%2]
			want = append(want, event{"USER_CREATED", createUser(p, fmt.Sprintf("two-procs-%d", i))})
		}
		removeUser(b, first)
		removeUser(a, second)
		want = append(want, event{"USER_DELETED", first}, event{"USER_DELETED", second})

		deadline := time.Now().Add(20 * time.Second)
		for len(rc.deliveries()) < len(want) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d webhooks delivered within 20s", len(rc.deliveries()), len(want))
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Two more rounds of both workers' polling: a duplicate would
		// arrive by then.
		time.Sleep(2500 * time.Millisecond)

		got := rc.deliveries()
		ids := map[string]bool{}
		var gotEvents []event
		for _, d := range got {
			if d.err != nil {
				t.Errorf("webhook %s (%s) does not verify: %v", d.id, d.event, d.err)
			}
			if ids[d.id] {
				t.Errorf("webhook %s delivered twice", d.id)
			}
			ids[d.id] = true
			gotEvents = append(gotEvents, event{d.event, d.endUserID(t)})
		}
		order := func(x, y event) int {
			if c := strings.Compare(x.kind, y.kind); c != 0 {
				return c
			}
			return int(x.user - y.user)
		}
		slices.SortFunc(want, order)
		slices.SortFunc(gotEvents, order)
		if !slices.Equal(gotEvents, want) {
			t.Errorf("delivered %v, want each of %v once", gotEvents, want)
		}

		// Every delivery is recorded as delivered, whichever process sent it.
		page := admin.get(b.URL+endpoint+"/deliveries").want(t, "GET the deliveries on B", http.StatusOK, "")
		rows := page.testID("delivery-row")
		if rows.Length() != len(want) {
			t.Errorf("B lists %d deliveries, want %d", rows.Length(), len(want))
		}
		rows.Each(func(_ int, s *goquery.Selection) {
			event := s.Find(`[data-testid="delivery-event"]`).Text()
			if st := s.AttrOr("data-state", ""); st != "delivered" || !ids[event] {
				t.Errorf("delivery of %s is %q (received: %v), want delivered", event, st, ids[event])
			}
		})
	})

	// Each scheduled checkpoint was signed by one process: no head twice.
	cps, err := db.ListCheckpoints(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	signed := map[int64]bool{}
	for _, cp := range cps {
		if signed[cp.Seq] {
			t.Errorf("the chain head at seq %d was signed twice", cp.Seq)
		}
		signed[cp.Seq] = true
	}
	if len(cps) == 0 {
		t.Error("neither process signed a checkpoint")
	}

	for _, p := range procs {
		if code := p.stop(t); code != 0 {
			t.Errorf("serve %s exited %d\nstderr: %s", p.name, code, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), `"msg":"webhook worker stopped"`) {
			t.Errorf("serve %s's webhook worker did not report stopping", p.name)
		}
	}
	t.Logf("two processes, start to stop: %v", time.Since(start).Round(time.Millisecond))
}
