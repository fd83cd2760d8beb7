// Package webtest drives the real app (web.Setup) in tests: members of each
// role, clients that keep cookies and the CSRF token, goquery documents,
// and a check that nothing sensitive reached the log.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
)

// Harness is one app over one database.
type Harness struct {
	App    *fiber.App
	DB     *models.DB
	Config web.Config
}

// TestSessionKey signs session cookies in tests.
var TestSessionKey = bytes.Repeat([]byte("k"), 32)

// New builds the app that `serve` runs, over db, logging into the shared
// sink that Main scans.
func New(t testing.TB, db *models.DB, opts ...func(*web.Config)) *Harness {
	t.Helper()
	cfg := Config()
	for _, o := range opts {
		o(&cfg)
	}
	app, err := web.Setup(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{App: app, DB: db, Config: cfg}
}

// Config is the configuration test apps start from. Tests sign in far
// more often than a person would, from one address, so the per-address
// limit on credential forms is lifted; tests of that limit set their own.
func Config() web.Config {
	return web.Config{SessionKey: TestSessionKey, Logger: Logger(), CredentialAttemptsPerMinute: 1 << 20}
}

// Member creates an active member with role and a random password.
func (h *Harness) Member(t testing.TB, role models.Role) (*models.TeamMember, string) {
	t.Helper()
	pw := "pw-" + models.RandomToken(12)
	Sensitive(pw)
	m, err := h.DB.CreateMember(context.Background(), models.Origin{Actor: models.SystemActor},
		models.NewMember{Email: fmt.Sprintf("%s-%s@example.com", role, strings.ToLower(models.RandomHex(4))), Role: role, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return m, pw
}

// Client is a browser: it keeps cookies and the page's CSRF token.
type Client struct {
	t       testing.TB
	h       *Harness
	Cookies map[string]string
	CSRF    string
}

// CSRFCookie is the name of the cookie an anonymous visitor's CSRF token
// is bound to (with a __Host- prefix when cookies are Secure).
const CSRFCookie = "ledgerdesk_csrf"

// Client returns an anonymous client.
func (h *Harness) Client(t testing.TB) *Client {
	return &Client{t: t, h: h, Cookies: map[string]string{}}
}

// On returns a copy of the client (cookies, CSRF token, address) that
// talks to another app: the same browser after a restart, or reaching
// another portal process.
func (c *Client) On(h *Harness) *Client {
	cookies := make(map[string]string, len(c.Cookies))
	for k, v := range c.Cookies {
		cookies[k] = v
	}
	return &Client{t: c.t, h: h, Cookies: cookies, CSRF: c.CSRF}
}

// SignIn creates a member with role and signs in through the login form.
func (h *Harness) SignIn(t testing.TB, role models.Role) (*Client, *models.TeamMember) {
	t.Helper()
	m, pw := h.Member(t, role)
	c := h.Client(t)
	c.Login(m.EmailAddress, pw)
	return c, m
}

// Login signs the client in through the login form and fails the test if
// that does not succeed.
func (c *Client) Login(email, password string) *Response {
	c.t.Helper()
	r := c.Post("/login", url.Values{"email": {email}, "password": {password}})
	if r.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: status %d, body %s", email, r.StatusCode, r.Body)
	}
	return r
}

// Response is a response with its body read and, for HTML, parsed.
type Response struct {
	*http.Response
	Body string
	Doc  *goquery.Document
}

// Do sends req with the client's cookies and records the cookies and CSRF
// token the response carries.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	for k, v := range c.Cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := c.h.App.Test(req, -1)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		Sensitive(ck.Value)
		if ck.Value == "" || ck.MaxAge < 0 {
			delete(c.Cookies, ck.Name)
			if strings.HasSuffix(ck.Name, CSRFCookie) {
				// The token was withdrawn (sign-in, sign-out): a browser
				// would get the next one from the next page.
				c.CSRF = ""
			}
		} else {
			c.Cookies[ck.Name] = ck.Value
		}
	}
	r := &Response{Response: resp, Body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
		if err != nil {
			c.t.Fatalf("parse HTML of %s: %v", req.URL, err)
		}
		r.Doc = doc
		if tok, ok := doc.Find(`meta[name="csrf-token"]`).Attr("content"); ok && tok != "" {
			c.CSRF = tok
			Sensitive(tok)
		}
	}
	return r
}

// Get requests path; headers come as name, value pairs.
func (c *Client) Get(path string, headers ...string) *Response {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	setHeaders(req, headers)
	return c.Do(req)
}

// Post sends form to path with the client's CSRF token (fetched from the
// login page first if the client has none yet).
func (c *Client) Post(path string, form url.Values, headers ...string) *Response {
	c.t.Helper()
	if c.CSRF == "" {
		// A page carries the token: the login page for a visitor, the
		// overview for a member (whom /login only redirects).
		c.Get("/login")
		if c.CSRF == "" {
			c.Get("/")
		}
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", c.CSRF)
	return c.PostRaw(path, form, headers...)
}

// PostRaw sends form exactly as given: no CSRF token is added.
func (c *Client) PostRaw(path string, form url.Values, headers ...string) *Response {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setHeaders(req, headers)
	return c.Do(req)
}

func setHeaders(req *http.Request, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
}

// ClientIP is the address every client has as the server sees it: app.Test
// serves each request over a connection from 0.0.0.0.
const ClientIP = "0.0.0.0"

// HTMX is the header pair htmx sends.
var HTMX = []string{"HX-Request", "true"}

// --- the log and what must never be in it ---

var (
	sinkMu    sync.Mutex
	sink      bytes.Buffer
	sensitive = map[string]bool{}
)

type sinkWriter struct{}

func (sinkWriter) Write(p []byte) (int, error) {
	sinkMu.Lock()
	defer sinkMu.Unlock()
	return sink.Write(p)
}

// Logger is the logger every test app writes to.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(sinkWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// LogWriter is the shared sink, for servers a test runs with their own
// logger (the serve command).
func LogWriter() io.Writer { return sinkWriter{} }

// Sensitive registers a value (password, token, cookie, personal data)
// that must never appear in the log.
func Sensitive(v string) {
	if len(v) < 6 {
		return
	}
	sinkMu.Lock()
	sensitive[v] = true
	sinkMu.Unlock()
}

// Main runs the package's tests, then fails the run if any registered
// sensitive value reached the log. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	testdb.StopReplica()
	sinkMu.Lock()
	logged := sink.String()
	values := make([]string, 0, len(sensitive))
	for v := range sensitive {
		values = append(values, v)
	}
	leaks := Leaks(logged, values)
	lines := strings.Count(logged, "\n")
	sinkMu.Unlock()
	if leaks > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d sensitive value(s) (passwords, tokens, cookies, personal data) appeared in the log\n", leaks)
		code = 1
	} else if code == 0 {
		fmt.Fprintf(os.Stderr, "log scan: %d log lines checked against %d sensitive values, none leaked\n", lines, len(sensitive))
	}
	os.Exit(code)
}

// Leaks counts the values that appear in log, as written or as a JSON
// string escapes them (the log is JSON lines).
func Leaks(log string, values []string) int {
	n := 0
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(log, v) {
			n++
			continue
		}
		for _, html := range []bool{false, true} {
			if strings.Contains(log, jsonEscaped(v, html)) {
				n++
				break
			}
		}
	}
	return n
}

// jsonEscaped is v as it appears inside a JSON string, with or without
// <, > and & escaped (slog leaves them, encoding/json does not).
func jsonEscaped(v string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(v)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}
