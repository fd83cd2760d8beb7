package web_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web/webtest"
)

// pgProxy stands between the app and PostgreSQL so a test can take the
// database away and bring it back, without touching the app.
type pgProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	changed *sync.Cond // signalled on every state change
	state   proxyState
	conns   map[net.Conn]bool
}

type proxyState int

const (
	proxyOpen proxyState = iota
	// proxyRefusing: live connections are closed and new ones closed at
	// once, as when the database restarts or its host refuses.
	proxyRefusing
	// proxySilent: nothing gets through and nothing is answered, as in a
	// network partition; connections stay open and hang.
	proxySilent
)

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.changed = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pgProxy) Addr() string { return p.ln.Addr().String() }

func (p *pgProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.forward(client)
	}
}

// forward pipes one client connection to PostgreSQL until either side
// closes or the proxy cuts it.
func (p *pgProxy) forward(client net.Conn) {
	p.mu.Lock()
	if p.state == proxySilent {
		// Accepted and never answered; dropped when the silence ends.
		p.conns[client] = true
		for p.state == proxySilent {
			p.changed.Wait()
		}
		delete(p.conns, client)
	}
	open := p.state == proxyOpen
	p.mu.Unlock()
	if !open {
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 3*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.state != proxyOpen {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = true, true
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	go p.relay(server, client, done)
	go p.relay(client, server, done)
	<-done
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// relay copies src to dst, holding what it read while the proxy is silent.
func (p *pgProxy) relay(dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.state == proxySilent {
				p.changed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every live connection and closes new ones at once.
func (p *pgProxy) Cut() { p.set(proxyRefusing) }

// Silence stops all traffic without closing anything.
func (p *pgProxy) Silence() { p.set(proxySilent) }

// Restore lets connections through again. Connections held through a
// silence are dropped, as TCP gives up on them after a long partition.
func (p *pgProxy) Restore() { p.set(proxyOpen) }

func (p *pgProxy) set(s proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s == proxyRefusing || (s == proxyOpen && p.state == proxySilent) {
		for c := range p.conns {
			c.Close()
		}
	}
	p.state = s
	p.changed.Broadcast()
}

func (p *pgProxy) close() {
	p.ln.Close()
	p.Cut()
}

// internalDetail is text that would show a driver error, an address or a
// stack trace on a page.
var internalDetail = []string{"goroutine", ".go:", "panic", "dial tcp", "pgconn", "pgx", "sql:", "SQLSTATE",
	"connection refused", "connection reset", "broken pipe", "EOF", "failed to connect", "conn closed", "127.0.0.1"}

// outageSetup builds the app over a PostgreSQL connection that runs
// through a proxy, signs an admin in and checks that all is well.
func outageSetup(t *testing.T) (*webtest.Client, *models.TeamMember, *pgProxy, string) {
	t.Helper()
	_, dsn := testdb.PostgresWithDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startPGProxy(t, target)
	u.Host = proxy.Addr()
	db, err := models.OpenPostgres(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	h := webtest.New(t, db)
	c, m := h.SignIn(t, models.RoleAdmin)
	if r := c.Get("/"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET / before the outage = %d", r.StatusCode)
	}
	if r := c.Get("/readyz"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz before the outage = %d", r.StatusCode)
	}
	return c, m, proxy, target
}

// awaitRecovery polls GET / for up to 10s after the database came back and
// checks the member is still signed in.
func awaitRecovery(t *testing.T, c *webtest.Client, m *models.TeamMember) {
	t.Helper()
	restored := time.Now()
	deadline := restored.Add(10 * time.Second)
	var r *webtest.Response
	for {
		r = c.Get("/")
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET / still answers %d 10s after the database came back", r.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("GET / answered 200 again %s after the database came back", time.Since(restored).Round(time.Millisecond))
	if got := r.Doc.Find(`[data-testid="member"]`).Text(); !strings.Contains(got, m.EmailAddress) {
		t.Fatalf("after recovery the page shows %q, want the same member signed in", got)
	}
	if r := c.Get("/readyz"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /readyz after recovery = %d", r.StatusCode)
	}
}

// assertOutagePage checks a full-page answer during an outage.
func assertOutagePage(t *testing.T, r *webtest.Response, addrs ...string) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET / during the outage = %d, want 503", r.StatusCode)
	}
	if title := strings.TrimSpace(r.Doc.Find("h1").First().Text()); title != "Database unavailable" {
		t.Fatalf("the outage page is titled %q, want Database unavailable", title)
	}
	if r.Doc.Find(`[data-testid="request-id"]`).Text() == "" {
		t.Fatal("the outage page gives no request id to quote")
	}
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("the 503 carries no Retry-After")
	}
	assertNoInternalDetail(t, "the outage page", r.Body, addrs...)
}

func TestOutage_DatabaseLossAnswers503AndRecoversWithoutRestart(t *testing.T) {
	c, m, proxy, target := outageSetup(t)

	proxy.Cut()
	start := time.Now()
	r := c.Get("/")
	sawOutage := time.Since(start)
	t.Logf("GET / answered %d %s after the database was cut", r.StatusCode, sawOutage.Round(time.Millisecond))
	if sawOutage > 8*time.Second {
		t.Fatalf("GET / took %s to answer during the outage, want at most 8s", sawOutage)
	}
	assertOutagePage(t, r, proxy.Addr(), target)

	// An htmx request gets the same news as an alert in the flash area.
	r = c.Get("/", webtest.HTMX...)
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("HX-Retarget") != "#flash" {
		t.Fatalf("htmx GET / during the outage = %d, HX-Retarget %q; want 503 into #flash", r.StatusCode, r.Header.Get("HX-Retarget"))
	}
	if alert := r.Doc.Find(`[data-testid="alert"]`).Text(); !strings.Contains(alert, "Database unavailable") {
		t.Fatalf("the htmx alert says %q", alert)
	}
	assertNoInternalDetail(t, "the htmx outage alert", r.Body, proxy.Addr(), target)

	// A form posted during the outage is not blamed on the form.
	r = c.Post("/account/password", url.Values{"current": {"x"}, "new": {"y"}, "confirm": {"y"}})
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST /account/password during the outage = %d, want 503", r.StatusCode)
	}

	if r := c.Get("/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz during the outage = %d, want 503", r.StatusCode)
	}
	if r := c.Get("/healthz"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"status":"ok"`) {
		t.Fatalf("GET /healthz during the outage = %d %q, want 200: the process is up", r.StatusCode, r.Body)
	}

	proxy.Restore()
	awaitRecovery(t, c, m)
}

func TestOutage_SilentDatabaseAnswers503WithinTheRequestTimeout(t *testing.T) {
	c, m, proxy, target := outageSetup(t)

	// A partition: the database neither answers nor closes. The request
	// timeout (5s) must turn the hang into a 503.
	proxy.Silence()
	start := time.Now()
	r := c.Get("/")
	sawOutage := time.Since(start)
	t.Logf("GET / answered %d %s after the database went silent", r.StatusCode, sawOutage.Round(time.Millisecond))
	if sawOutage > 8*time.Second {
		t.Fatalf("GET / took %s to answer a silent database, want at most 8s", sawOutage)
	}
	assertOutagePage(t, r, proxy.Addr(), target)

	start = time.Now()
	if r := c.Get("/readyz"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz with a silent database = %d, want 503", r.StatusCode)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("GET /readyz took %s with a silent database; its ping timeout is 2s", d)
	}
	start = time.Now()
	if r := c.Get("/healthz"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz with a silent database = %d, want 200", r.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("GET /healthz took %s: it must not wait for the database", d)
	}

	proxy.Restore()
	awaitRecovery(t, c, m)
}

func assertNoInternalDetail(t *testing.T, what, body string, addrs ...string) {
	t.Helper()
	for _, s := range append(internalDetail, addrs...) {
		if strings.Contains(body, s) {
			t.Fatalf("%s shows internal detail %q:\n%s", what, s, body)
		}
	}
}
