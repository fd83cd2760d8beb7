package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

// What every benchmark shares: the app served on a local port, a member
// to sign in as, a timed loop and its percentiles, and the process's
// memory.

// startApp serves the app web.Setup builds from cfg on a free local port,
// logging nowhere, until shutdown is called; base is its URL.
func startApp(db *models.DB, cfg web.Config) (base string, shutdown func() error, err error) {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := web.Setup(cfg, db)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go app.Listener(ln)
	return "http://" + ln.Addr().String(), app.Shutdown, nil
}

// benchMember adds a member with role, an email made from prefix and a
// random password, for a benchmark to sign in as.
func benchMember(ctx context.Context, db *models.DB, o models.Origin, prefix string, role models.Role) (member *models.TeamMember, password string, err error) {
	password = models.RandomToken(15)
	member, err = db.CreateMember(ctx, o, models.NewMember{
		Email: prefix + "-" + strings.ToLower(models.RandomHex(5)) + "@ledgerdesk.local", Role: role, Password: password})
	return member, password, err
}

// signedInClient signs in at base as a browser would and returns a client
// that carries the session.
func signedInClient(ctx context.Context, base, email, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token, err := loginToken(c, base)
	if err != nil {
		return nil, err
	}
	resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {token}, "email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in: status %d", resp.StatusCode)
	}
	return c, nil
}

var csrfMeta = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// loginToken loads the login page with c and returns its CSRF token.
func loginToken(c *http.Client, base string) (string, error) {
	resp, err := c.Get(base + "/login")
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindSubmatch(body)
	if m == nil {
		return "", errors.New("no CSRF token on the login page")
	}
	return string(m[1]), nil
}

// call sends r and checks the status, draining the body.
func call(c *http.Client, r *http.Request, want int) error {
	resp, err := c.Do(r)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return nil
}

// timeRuns calls each of runs in turn, warmup times untimed and then n
// times timed, and returns each one's n durations. Runs compared with
// each other alternate, so both meet the same conditions.
func timeRuns(warmup, n int, runs ...func() error) ([][]time.Duration, error) {
	ds := make([][]time.Duration, len(runs))
	for i := 0; i < warmup+n; i++ {
		for j, run := range runs {
			start := time.Now()
			if err := run(); err != nil {
				return nil, err
			}
			if i >= warmup {
				ds[j] = append(ds[j], time.Since(start))
			}
		}
	}
	return ds, nil
}

func percentile(ds []time.Duration, pct int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*pct + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// sampleRSS watches a resident memory figure in kB, read by rss, every
// 50 ms until the returned function is called, which gives the peak.
func sampleRSS(rss func() int64) (stop func() int64) {
	var peak atomic.Int64
	peak.Store(rss())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if r := rss(); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		if r := rss(); r > peak.Load() {
			peak.Store(r)
		}
		return peak.Load()
	}
}

// rssKB is this process's resident set size (Linux), 0 elsewhere.
func rssKB() int64 { return procStatusKB("/proc/self/status", "VmRSS:") }

// procStatusKB reads a kB figure of a /proc/PID/status file.
func procStatusKB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}
