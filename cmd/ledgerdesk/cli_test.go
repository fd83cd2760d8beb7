package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// --- running the binary in-process ---

// syncBuffer is a writer a test can read while a command still writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a getenv that sees only kv (name, value pairs), so no test reads
// the machine's environment: DATABASE_URL is "" (embedded SQLite) unless
// given.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

type result struct {
	code           int
	stdout, stderr string
}

// ledgerdesk runs one command to completion. Its stderr also goes to the
// shared log sink that webtest.Main scans for leaked secrets.
func ledgerdesk(t *testing.T, getenv func(string) string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, args, getenv, &stdout, io.MultiWriter(webtest.LogWriter(), &stderr))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// server is a `ledgerdesk serve` running in the test's process.
type server struct {
	URL    string
	Addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
	code   int
	exited bool
}

var runningAt = regexp.MustCompile(`Ledgerdesk is running at (\S+)`)

// startServe runs `serve --listen 127.0.0.1:0 args...` and returns once it
// serves: its startup output (URL, first admin's credentials) is complete
// by then. The server is stopped when the test ends if the test did not.
func startServe(t *testing.T, getenv func(string) string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() {
		s.done <- run(ctx, args, getenv, s.stdout, io.MultiWriter(webtest.LogWriter(), s.stderr))
	}()
	t.Cleanup(func() { s.stop(t) })
	// serve logs "serving" after it printed everything to stdout.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.stderr.String(), `"msg":"serving"`) && !strings.Contains(s.stderr.String(), " msg=serving ") {
		select {
		case code := <-s.done:
			s.code, s.exited = code, true
			t.Fatalf("serve exited with %d before serving\nstdout: %s\nstderr: %s", code, s.stdout, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within 30s\nstdout: %s\nstderr: %s", s.stdout, s.stderr)
		}
	}
	m := runningAt.FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("serve printed no address: %q", s.stdout)
	}
	s.URL = m[1]
	s.Addr = strings.TrimPrefix(s.URL, "http://")
	return s
}

// stop cancels serve's context, as SIGTERM does, and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	if s.exited {
		return s.code
	}
	select {
	case s.code = <-s.done:
		s.exited = true
	case <-time.After(40 * time.Second):
		// What each goroutine waits on says which part held shutdown up.
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("serve did not stop within 40s of its context being cancelled\nstderr: %s\ngoroutines:\n%s", s.stderr, stacks.String())
	}
	return s.code
}

var (
	emailLine    = regexp.MustCompile(`(?m)^\s*email:\s*(\S+)\s*$`)
	passwordLine = regexp.MustCompile(`(?m)^\s*password:\s*(\S+)\s*$`)
)

// credentials returns the first admin's email and password serve printed,
// or "" when it printed none.
func credentials(stdout string) (email, password string) {
	if m := emailLine.FindStringSubmatch(stdout); m != nil {
		email = m[1]
	}
	if m := passwordLine.FindStringSubmatch(stdout); m != nil {
		password = m[1]
		webtest.Sensitive(password)
	}
	return email, password
}

// signIn signs in through the login form over real HTTP and returns the
// client holding the session.
func signIn(t *testing.T, baseURL, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(baseURL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	token, _ := doc.Find(`form[data-testid="login-form"] input[name="_csrf"]`).Attr("value")
	if token == "" {
		t.Fatal("the login form carries no CSRF token")
	}
	webtest.Sensitive(token)
	resp, err = c.PostForm(baseURL+"/login", url.Values{"_csrf": {token}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in as %s: status %d, Location %q; want 303 to /", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	u, _ := url.Parse(baseURL)
	for _, ck := range jar.Cookies(u) {
		webtest.Sensitive(ck.Value)
	}
	return c
}

// --- serve on the embedded database ---

func TestServe_FirstStartPrintsAdminCredentialsOnce(t *testing.T) {
	data := t.TempDir()

	first := startServe(t, env(), "--data", data)
	out := first.stdout.String()
	email, password := credentials(out)
	if email != "admin@ledgerdesk.local" || len(password) < 12 {
		t.Fatalf("first start printed email %q, password of %d characters; want the admin's credentials:\n%s", email, len(password), out)
	}
	if n := strings.Count(out, password); n != 1 {
		t.Fatalf("the password appears %d times on stdout, want once", n)
	}
	if strings.Contains(first.stderr.String(), password) {
		t.Fatal("the first admin's password reached stderr (the log)")
	}
	// The printed credentials are the real ones.
	client := signIn(t, first.URL, email, password)
	resp, err := client.Get(first.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), email) {
		t.Fatalf("GET / after signing in = %d, mentions %s: %v", resp.StatusCode, email, strings.Contains(string(body), email))
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("first serve exited %d, want 0\nstderr: %s", code, first.stderr)
	}

	second := startServe(t, env(), "--data", data)
	out = second.stdout.String()
	if e, p := credentials(out); e != "" || p != "" || strings.Contains(out, "First admin") {
		t.Fatalf("second start on the same data directory printed credentials again:\n%s", out)
	}
	if code := second.stop(t); code != 0 {
		t.Fatalf("second serve exited %d, want 0", code)
	}
}

func TestServe_SecretsFileIsPrivateAndNeverPrinted(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, env(), "--data", data)
	path := filepath.Join(data, "secrets.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("serve created no secrets file: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("secrets.json has mode %#o, want 0600", mode)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]string
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("secrets.json: %v", err)
	}
	if len(keys) < 2 {
		t.Fatalf("secrets.json holds %d keys, want the session and field keys", len(keys))
	}
	// Exercise the server so its log has requests in it, then stop it.
	email, password := credentials(s.stdout.String())
	signIn(t, s.URL, email, password)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	for name, v := range keys {
		if len(v) < 64 {
			t.Fatalf("secrets.json %s is %d hex characters, want at least 64 (32 bytes)", name, len(v))
		}
		webtest.Sensitive(v)
		if strings.Contains(s.stdout.String(), v) || strings.Contains(s.stderr.String(), v) {
			t.Fatalf("the %s from secrets.json appeared on stdout or stderr", name)
		}
	}
	// A restart reads the same keys instead of making new ones, so sessions
	// survive it.
	startServe(t, env(), "--data", data).stop(t)
	again, _ := os.ReadFile(path)
	if !bytes.Equal(raw, again) {
		t.Fatal("secrets.json changed on restart")
	}
}

func TestServe_ShutsDownGracefullyWithRequestInFlight(t *testing.T) {
	s := startServe(t, env(), "--data", t.TempDir())

	// A request whose headers are half sent is in flight on the server: it
	// has the connection and waits for the rest.
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /login HTTP/1.1\r\nHost: "+s.Addr+"\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)

	s.cancel()
	waitFor(t, 10*time.Second, "serve to begin shutting down", func() bool {
		return strings.Contains(s.stderr.String(), "shutting down")
	})
	// New connections are refused while the one in flight is kept.
	waitFor(t, 10*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case code := <-s.done:
		s.code, s.exited = code, true
		t.Fatalf("serve exited (%d) with a request still in flight", code)
	default:
	}

	if _, err := io.WriteString(conn, "User-Agent: graceful-test\r\n\r\n"); err != nil {
		t.Fatalf("finish the request in flight: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `data-testid="login-form"`) {
		t.Fatalf("the request in flight got %d, want 200 with the login page", resp.StatusCode)
	}

	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d after a graceful shutdown, want 0\nstderr: %s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"stopped"`) {
		t.Fatal("serve did not log that it stopped")
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after serve returned", s.Addr)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- admin create ---

var shownOnce = regexp.MustCompile(`Password \(shown once\): (\S+)`)

func TestAdminCreate_PrintsPasswordOnceAndRefusesDuplicateEmail(t *testing.T) {
	data := t.TempDir()
	r := ledgerdesk(t, env(), "admin", "create", "--data", data, "--email", "x@example.com", "--role", "compliance")
	if r.code != 0 {
		t.Fatalf("admin create exited %d: %s", r.code, r.stderr)
	}
	m := shownOnce.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("admin create printed no password:\n%s", r.stdout)
	}
	password := m[1]
	webtest.Sensitive(password)
	if len(password) < 12 {
		t.Fatalf("generated password has %d characters", len(password))
	}
	if n := strings.Count(r.stdout, password); n != 1 {
		t.Fatalf("password printed %d times, want once", n)
	}
	if strings.Contains(r.stderr, password) {
		t.Fatal("the password reached stderr (the log)")
	}
	if !strings.Contains(r.stdout, "x@example.com") || !strings.Contains(r.stdout, "Compliance reviewer") {
		t.Fatalf("admin create does not say whom it created:\n%s", r.stdout)
	}

	// The member exists with that role and that password.
	db, err := models.OpenSQLite(filepath.Join(data, "ledgerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	var member models.TeamMember
	err = db.Gorm().Where("email_address = ?", "x@example.com").First(&member).Error
	db.Close()
	if err != nil {
		t.Fatalf("the member is not in the database: %v", err)
	}
	if member.Role != models.RoleCompliance || !testdb.PasswordMatches(t, member.PasswordHash, password) {
		t.Fatalf("stored member has role %q, password matches %v", member.Role, testdb.PasswordMatches(t, member.PasswordHash, password))
	}

	dup := ledgerdesk(t, env(), "admin", "create", "--data", data, "--email", "x@example.com", "--role", "auditor")
	if dup.code == 0 {
		t.Fatalf("a duplicate email exited 0:\n%s", dup.stdout)
	}
	if !strings.Contains(dup.stderr, "already exists") {
		t.Fatalf("a duplicate email says %q, want that the member already exists", dup.stderr)
	}
	if strings.Contains(dup.stdout, "Password") {
		t.Fatalf("a refused create printed a password:\n%s", dup.stdout)
	}
}

func TestAdminCreate_RefusesUnknownRole(t *testing.T) {
	r := ledgerdesk(t, env(), "admin", "create", "--data", t.TempDir(), "--email", "y@example.com", "--role", "superuser")
	if r.code == 0 {
		t.Fatalf("role superuser exited 0:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, `unknown role "superuser"`) || !strings.Contains(r.stderr, "admin, compliance or auditor") {
		t.Fatalf("a bad role says %q, want the role named and the valid ones listed", r.stderr)
	}
	if strings.Contains(r.stdout, "Password") {
		t.Fatalf("a refused create printed a password:\n%s", r.stdout)
	}
}

// --- audit verify ---

var intact = regexp.MustCompile(`audit chain intact: (\d+) entries checked`)

func TestAuditVerify_PassesIntactChainAndNamesTamperedSeq(t *testing.T) {
	data := t.TempDir()
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if r := ledgerdesk(t, env(), "admin", "create", "--data", data, "--email", email, "--role", "auditor"); r.code != 0 {
			t.Fatalf("admin create %s exited %d: %s", email, r.code, r.stderr)
		}
	}
	r := ledgerdesk(t, env(), "audit", "verify", "--data", data)
	if r.code != 0 {
		t.Fatalf("audit verify on an intact chain exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if m := intact.FindStringSubmatch(r.stdout); m == nil || m[1] != "3" {
		t.Fatalf("audit verify says %q, want 3 entries checked", r.stdout)
	}

	// Edit history the way someone with the file could: drop the trigger
	// that refuses updates, then change one entry's action.
	db, err := models.OpenSQLite(filepath.Join(data, "ledgerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Gorm().Exec(`UPDATE audit_entries SET action = 'team.nothing' WHERE seq = 2`).Error; err == nil {
		t.Fatal("the append-only trigger let an audit entry be updated")
	}
	if err := db.Gorm().Exec(`DROP TRIGGER audit_entries_no_update`).Error; err != nil {
		t.Fatal(err)
	}
	res := db.Gorm().Exec(`UPDATE audit_entries SET action = 'team.nothing' WHERE seq = 2`)
	db.Close()
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("tamper with entry 2: %v, %d rows", res.Error, res.RowsAffected)
	}

	r = ledgerdesk(t, env(), "audit", "verify", "--data", data)
	if r.code != 1 {
		t.Fatalf("audit verify on a tampered chain exited %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "BROKEN at seq 2") {
		t.Fatalf("audit verify says %q, want it to name seq 2", r.stdout)
	}
}

// --- PostgreSQL ---

func TestMigrate_PostgresServeRefusesUntilMigrated(t *testing.T) {
	ownerDSN := testdb.EmptyPostgres(t)
	owner := env("DATABASE_URL", ownerDSN)
	app := env("DATABASE_URL", testdb.AppDSN(t, ownerDSN))
	data := t.TempDir()

	r := ledgerdesk(t, app, "serve", "--listen", "127.0.0.1:0", "--data", data)
	if r.code == 0 {
		t.Fatalf("serve on an unmigrated database exited 0:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "run `ledgerdesk migrate`") {
		t.Fatalf("serve on an unmigrated database says %q, want it to tell to run `ledgerdesk migrate`", r.stderr)
	}
	if strings.Contains(r.stdout, "running at") {
		t.Fatal("serve started on an unmigrated database")
	}
	// The portal's role may not change the schema.
	r = ledgerdesk(t, app, "serve", "--migrate", "--listen", "127.0.0.1:0", "--data", data)
	if r.code == 0 || !strings.Contains(r.stderr, "only the tables' owner changes the schema") {
		t.Fatalf("serve --migrate as the portal's role exited %d: %s", r.code, r.stderr)
	}

	r = ledgerdesk(t, owner, "migrate", "--data", data, "--grant-to", testdb.AppRole)
	if r.code != 0 {
		t.Fatalf("migrate exited %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "applied migration 0001") || !strings.Contains(r.stdout, "granted "+testdb.AppRole) {
		t.Fatalf("migrate says %q, want migration 0001 applied and the role granted", r.stdout)
	}
	r = ledgerdesk(t, owner, "migrate", "--data", data, "--grant-to", testdb.AppRole)
	if r.code != 0 || strings.Contains(r.stdout, "applied migration") || !strings.Contains(r.stdout, "(0 applied)") {
		t.Fatalf("a second migrate exited %d and says %q, want nothing applied", r.code, r.stdout)
	}

	// Now serve starts as the portal's role (and creates the first admin,
	// an audited change), with nothing to warn of; --migrate has nothing
	// to do and needs no DDL.
	s := startServe(t, app, "--data", data, "--migrate")
	if _, password := credentials(s.stdout.String()); password == "" {
		t.Fatalf("serve on a fresh PostgreSQL printed no first admin:\n%s", s.stdout)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if strings.Contains(s.stderr.String(), "can change the audit log") {
		t.Errorf("serve as the portal's role warns:\n%s", s.stderr)
	}

	r = ledgerdesk(t, app, "audit", "verify", "--data", data)
	if r.code != 0 {
		t.Fatalf("audit verify exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if m := intact.FindStringSubmatch(r.stdout); m == nil || m[1] == "0" {
		t.Fatalf("audit verify says %q, want the first admin's entry checked", r.stdout)
	}
}

func TestServe_WarnsWhenConnectedAsTheAuditLogsOwner(t *testing.T) {
	ownerDSN := testdb.EmptyPostgres(t)
	owner := env("DATABASE_URL", ownerDSN)
	data := t.TempDir()
	if r := ledgerdesk(t, owner, "migrate", "--data", data); r.code != 0 {
		t.Fatalf("migrate exited %d: %s", r.code, r.stderr)
	}
	s := startServe(t, owner, "--data", data)
	s.stop(t)
	var warning struct{ Level, Msg, Problem, Fix string }
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "can change the audit log") {
			json.Unmarshal([]byte(line), &warning)
		}
	}
	if warning.Level != "WARN" || !strings.Contains(warning.Problem, "superuser") && !strings.Contains(warning.Problem, "owner of audit_entries") {
		t.Fatalf("serve as the owner logs %+v, want a warning naming the problem:\n%s", warning, s.stderr)
	}
	if !strings.Contains(warning.Fix, "ledgerdesk migrate --grant-to") {
		t.Errorf("the warning's fix %q does not say how", warning.Fix)
	}

	// Granted a role of its own, the same portal starts without it.
	if r := ledgerdesk(t, owner, "migrate", "--data", data, "--grant-to", testdb.AppRole); r.code != 0 {
		t.Fatalf("migrate --grant-to exited %d: %s", r.code, r.stderr)
	}
	s = startServe(t, env("DATABASE_URL", testdb.AppDSN(t, ownerDSN)), "--data", data)
	s.stop(t)
	if strings.Contains(s.stderr.String(), "can change the audit log") {
		t.Errorf("serve as the portal's role warns:\n%s", s.stderr)
	}
}

func TestMigrate_GrantToOnSQLiteOrAnUnknownRoleFails(t *testing.T) {
	r := ledgerdesk(t, env(), "migrate", "--data", t.TempDir(), "--grant-to", "someone")
	if r.code != 1 || !strings.Contains(r.stderr, "--grant-to is for PostgreSQL") {
		t.Errorf("--grant-to on SQLite: exit %d, %q", r.code, r.stderr)
	}
	pg := env("DATABASE_URL", testdb.EmptyPostgres(t))
	r = ledgerdesk(t, pg, "migrate", "--data", t.TempDir(), "--grant-to", "ledgerdesk_no_such_role")
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("--grant-to a missing role: exit %d, %q", r.code, r.stderr)
	}
}

// TestCLI_UnknownCommandExits2 keeps the dispatcher honest.
func TestCLI_UnknownCommandExits2(t *testing.T) {
	r := ledgerdesk(t, env(), "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
}
