package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ledgerdesk/models"
)

// benchSignIn storms a real `serve` process with sign-in attempts and
// measures what the people using it meanwhile see: the server's resident
// memory throughout, a signed-in member's /users page, and a correct
// sign-in from another address. The server runs as a child process so its
// memory is its own; the storm comes through 127.0.0.1 as a trusted proxy,
// each attempt with an X-Forwarded-For address drawn from a pool.
func benchSignIn(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("bench signin", getenv, stderr)
	dbo := benchDBOptions(s)
	users := s.Int("users", 1_000_000, 1, maxSeedUsers, "end users to have in the database (seeded if fewer)")
	workers := s.Int("concurrency", 200, 1, 10_000, "sign-in attempts in flight at once")
	duration := s.Duration("duration", "", 30*time.Second, time.Second, "how long the storm lasts")
	addresses := s.Int("addresses", 4096, 1, 1<<24, "distinct source addresses the storm comes from")
	accounts := s.Int("accounts", 64, 0, 10_000, "existing accounts the storm guesses passwords of (the rest of its attempts name unknown emails)")
	if err := s.parse(args); err != nil {
		return err
	}
	db, _, err := openBenchDB(ctx, dbo, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := ensureUsers(ctx, db, *users, stdout); err != nil {
		return err
	}
	origin := models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk bench signin"}
	newMember := func(prefix string) (string, string, error) {
		m, password, err := benchMember(ctx, db, origin, prefix, models.RoleAdmin)
		if err != nil {
			return "", "", err
		}
		return m.EmailAddress, password, nil
	}
	watcherEmail, watcherPassword, err := newMember("bench-watcher")
	if err != nil {
		return err
	}
	probeEmail, probePassword, err := newMember("bench-probe")
	if err != nil {
		return err
	}
	targets := make([]string, *accounts)
	for i := range targets {
		if targets[i], _, err = newMember("bench-target"); err != nil {
			return err
		}
	}
	settings, err := serverSettings(ctx, db)
	if err != nil {
		return err
	}
	db.Close()

	srv, err := startServeChild(ctx, *dbo)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(stdout, "server: %s; GOMAXPROCS %d; PostgreSQL %s\n", srv.base, runtime.GOMAXPROCS(0), settings)

	watcher, err := signedInClient(ctx, srv.base, watcherEmail, watcherPassword)
	if err != nil {
		return fmt.Errorf("sign in the watching member: %w", err)
	}
	watch := func(stop <-chan struct{}) []time.Duration {
		var out []time.Duration
		for {
			select {
			case <-stop:
				return out
			default:
			}
			start := time.Now()
			resp, err := watcher.Do(forwardedFrom(mustRequest(http.MethodGet, srv.base+"/users", nil), "192.0.2.200"))
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				out = append(out, time.Since(start))
			}
		}
	}
	quiet := make(chan struct{})
	time.AfterFunc(5*time.Second, func() { close(quiet) })
	before := watch(quiet)
	rssBefore := srv.rssKB()

	stormCtx, endStorm := context.WithTimeout(ctx, *duration)
	defer endStorm()
	peak := sampleRSS(srv.rssKB)
	var statuses sync.Map
	var sent atomic.Int64
	var wg sync.WaitGroup
	pool := addressPool(*addresses)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stormWorker(stormCtx, srv.base, pool, targets, &statuses, &sent)
		}()
	}
	stormDone := make(chan struct{})
	go func() { wg.Wait(); close(stormDone) }()
	duringStop := make(chan struct{})
	var during []time.Duration
	watched := make(chan struct{})
	go func() { during = watch(duringStop); close(watched) }()

	// A correct sign-in from a new address every fifth of the storm, each
	// on its own, as five people arriving would.
	probes := make([]probeResult, 5)
	var probing sync.WaitGroup
	for i := range probes {
		probing.Add(1)
		time.AfterFunc(time.Duration(i)*(*duration)/5+time.Second, func() {
			defer probing.Done()
			probes[i] = probeSignIn(srv.base, probeEmail, probePassword, fmt.Sprintf("192.0.2.%d", i+1))
		})
	}
	probing.Wait()
	<-stormDone
	close(duringStop)
	<-watched
	peakKB := peak()
	rssAfter := srv.rssKB()

	fmt.Fprintf(stdout, "\nstorm: %d attempts in flight for %s from %d addresses (%d accounts guessed, the rest unknown emails): %d sent, %.0f/s\n",
		*workers, *duration, *addresses, *accounts, sent.Load(), float64(sent.Load())/duration.Seconds())
	statuses.Range(func(k, v any) bool {
		fmt.Fprintf(stdout, "  %v: %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	fmt.Fprintf(stdout, "server RSS: %d MB before, peak %d MB during the storm, %d MB after\n", rssBefore/1024, peakKB/1024, rssAfter/1024)
	fmt.Fprintf(stdout, "signed-in GET /users: before the storm p50 %s p99 %s (%d requests); during it p50 %s p99 %s (%d requests)\n",
		ms(percentile(before, 50)), ms(percentile(before, 99)), len(before),
		ms(percentile(during, 50)), ms(percentile(during, 99)), len(during))
	for i, p := range probes {
		fmt.Fprintf(stdout, "correct sign-in from a new address #%d: %s\n", i+1, p)
	}
	return nil
}

// stormWorker sends wrong sign-ins until ctx ends, as a browser would: it
// loads the login page once for its cookie and token, then posts again
// and again from addresses drawn from pool, naming a target account or an
// unknown email.
func stormWorker(ctx context.Context, base string, pool, targets []string, statuses *sync.Map, sent *atomic.Int64) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token, err := loginToken(c, base)
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		email := fmt.Sprintf("nobody-%d@example.com", rand.IntN(1_000_000))
		if len(targets) > 0 && rand.IntN(2) == 0 {
			email = targets[rand.IntN(len(targets))]
		}
		form := url.Values{"_csrf": {token}, "email": {email}, "password": {models.RandomToken(9)}}
		req := mustRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(forwardedFrom(req.WithContext(ctx), pool[rand.IntN(len(pool))]))
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sent.Add(1)
		n, _ := statuses.LoadOrStore(statusLabel(resp, body), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
}

// statusLabel names an answer to a wrong sign-in by what refused it.
func statusLabel(resp *http.Response, body []byte) string {
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "401 wrong email or password (checked)"
	case resp.StatusCode != http.StatusTooManyRequests:
		return strconv.Itoa(resp.StatusCode)
	case strings.Contains(string(body), "checking many passwords"):
		return "429 every hashing slot busy"
	case strings.Contains(string(body), "Too many attempts"):
		return "429 per-address limit"
	}
	return "429 account or address throttled"
}

type probeResult struct {
	attempts int
	took     time.Duration
	err      error
}

func (p probeResult) String() string {
	if p.err != nil {
		return fmt.Sprintf("FAILED after %d attempts (%s): %v", p.attempts, ms(p.took), p.err)
	}
	return fmt.Sprintf("signed in at attempt %d, %s in all", p.attempts, ms(p.took))
}

// probeSignIn signs a member in from addr as a person would: load the
// page, post the form, and on a "busy, retry shortly" answer wait as long
// as it says and post again (at most five times).
func probeSignIn(base, email, password, addr string) probeResult {
	start := time.Now()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token, err := loginToken(c, base)
	if err != nil {
		return probeResult{err: err, took: time.Since(start)}
	}
	for attempt := 1; attempt <= 5; attempt++ {
		form := url.Values{"_csrf": {token}, "email": {email}, "password": {password}}
		req := mustRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(forwardedFrom(req, addr))
		if err != nil {
			return probeResult{attempts: attempt, took: time.Since(start), err: err}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusSeeOther:
			return probeResult{attempts: attempt, took: time.Since(start)}
		case http.StatusTooManyRequests:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
		default:
			return probeResult{attempts: attempt, took: time.Since(start), err: fmt.Errorf("status %d", resp.StatusCode)}
		}
	}
	return probeResult{attempts: 5, took: time.Since(start), err: errors.New("still busy")}
}

func forwardedFrom(r *http.Request, addr string) *http.Request {
	r.Header.Set("X-Forwarded-For", addr)
	return r
}

func mustRequest(method, u string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		panic(err)
	}
	return r
}

// addressPool is n documentation-range and private addresses.
func addressPool(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
	}
	return out
}

// serveChild is a `ledgerdesk serve` process the bench started.
type serveChild struct {
	cmd  *exec.Cmd
	base string
}

// startServeChild runs this binary's serve command on a free port, with
// 127.0.0.1 as a trusted proxy, and waits until it answers.
func startServeChild(ctx context.Context, dbo dbOptions) (*serveChild, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "serve", "--database-url", dbo.databaseURL, "--data", dbo.dataDir,
		"--listen", addr, "--trusted-proxies", "127.0.0.1", "--audit-checkpoint-every", "0")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serveChild{cmd: cmd, base: "http://" + addr}
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(s.base + "/healthz"); err == nil {
			resp.Body.Close()
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("the serve process did not answer within 10 s")
}

func (s *serveChild) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
}

func (s *serveChild) rssKB() int64 {
	return procStatusKB(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid), "VmRSS:")
}
