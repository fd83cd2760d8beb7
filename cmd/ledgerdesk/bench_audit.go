package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"ledgerdesk/models"
	"ledgerdesk/web"
)

// benchAudit measures the audit screens at scale on PostgreSQL: it fills
// the log up to --entries (COPY, chained and hashed), then times the list
// through the portal (first page, by actor, by target, 10,000 pages deep,
// the chart), a full verification, and a CSV export of every entry while
// sampling the process's RSS.
func benchAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("bench audit", getenv, stderr)
	dbo := benchDBOptions(s)
	entries := s.Int("entries", 1_000_000, 1, maxSeedUsers, "audit entries to have in the database (filled if fewer)")
	requests := s.Int("requests", 300, 1, maxBenchRequests, "measured requests per page")
	explain := s.Bool("explain", "", true, "print EXPLAIN ANALYZE for each page's query")
	if err := s.parse(args); err != nil {
		return err
	}
	db, secrets, err := openBenchDB(ctx, dbo, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	settings, err := serverSettings(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "PostgreSQL: %s\n", settings)
	origin := models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk bench audit"}
	member, password, err := benchMember(ctx, db, origin, "bench", models.RoleAuditor)
	if err != nil {
		return err
	}

	head, err := db.AuditHead(ctx)
	if err != nil {
		return err
	}
	if missing := *entries - int(head.Seq); missing > 0 {
		members := make([]string, 40)
		for i := range members {
			members[i] = models.NewMemberID()
		}
		members[0] = member.ID
		fmt.Fprintf(stdout, "filling %d audit entries...\n", missing)
		start := time.Now()
		err := fillAudit(ctx, db, missing, 29*24*time.Hour, members, func(done int) {
			fmt.Fprintf(stdout, "  %d\n", done)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "filled %d entries in %.1f s\n", missing, time.Since(start).Seconds())
		if err := db.Gorm().Exec(`VACUUM ANALYZE audit_entries`).Error; err != nil {
			return err
		}
	}
	if head, err = db.AuditHead(ctx); err != nil {
		return err
	}

	base, shutdown, err := startApp(db, web.Config{SessionKey: secrets.SessionKey})
	if err != nil {
		return err
	}
	defer shutdown()
	client, err := signedInClient(ctx, base, member.EmailAddress, password)
	if err != nil {
		return err
	}

	// Real values to filter by: a member and an end user with entries, a
	// seq 10,000 pages of 25 deep.
	var actor string
	if err := db.Gorm().Raw(`SELECT actor_id FROM audit_entries WHERE actor_type = 'member' AND seq > ? ORDER BY seq LIMIT 1`, head.Seq/2).Scan(&actor).Error; err != nil {
		return err
	}
	var target string
	if err := db.Gorm().Raw(`SELECT target_id FROM audit_entries WHERE target_type = 'end_user' AND seq > ? ORDER BY seq DESC LIMIT 1`, head.Seq/2).Scan(&target).Error; err != nil {
		return err
	}
	deep := head.Seq - 10_000*25
	// One day three weeks back, and the seq bounds the list derives from
	// it (the day's edges pushed out by the allowed clock skew).
	day := models.Now().Truncate(24*time.Hour).AddDate(0, 0, -21)
	var lo, hi int64
	if err := db.Gorm().Raw(`SELECT seq FROM audit_entries WHERE occurred_at < ? ORDER BY occurred_at DESC LIMIT 1`, day.Add(-5*time.Minute)).Scan(&lo).Error; err != nil {
		return err
	}
	if err := db.Gorm().Raw(`SELECT seq FROM audit_entries WHERE occurred_at >= ? ORDER BY occurred_at LIMIT 1`, day.Add(24*time.Hour+5*time.Minute)).Scan(&hi).Error; err != nil {
		return err
	}
	pages := []struct{ name, path, sql string }{
		{"audit page 1", "/audit", `SELECT * FROM audit_entries ORDER BY seq DESC LIMIT 26`},
		{"by actor", "/audit?actor=member:" + url.QueryEscape(actor),
			`SELECT * FROM audit_entries WHERE actor_type = 'member' AND actor_id = '` + actor + `' ORDER BY seq DESC LIMIT 26`},
		{"by target", "/audit?target_type=end_user&target_id=" + target,
			`SELECT * FROM audit_entries WHERE target_type = 'end_user' AND target_id = '` + target + `' ORDER BY seq DESC LIMIT 26`},
		{"by action group (auth)", "/audit?action=auth",
			`SELECT * FROM audit_entries WHERE split_part(action, '.', 1) = 'auth' ORDER BY seq DESC LIMIT 26`},
		{"page 10,000 (cursor)", "/audit?cursor=" + models.AuditCursorBefore(deep),
			fmt.Sprintf(`SELECT * FROM audit_entries WHERE seq < %d ORDER BY seq DESC LIMIT 26`, deep)},
		{"one day, 3 weeks back", "/audit?from=" + day.Format("2006-01-02") + "&to=" + day.Format("2006-01-02"),
			fmt.Sprintf(`SELECT * FROM audit_entries WHERE occurred_at >= '%s' AND occurred_at < '%s' AND seq > %d AND seq < %d ORDER BY seq DESC LIMIT 26`,
				day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339), lo, hi)},
		{"chart, 30 days (htmx)", "/audit/chart", ""},
	}
	fmt.Fprintf(stdout, "process RSS high-water mark after setup: %d MB\n", procStatusKB("/proc/self/status", "VmHWM:")/1024)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(stdout, "\n%d audit entries, head seq %d; load average %s\n", head.Seq, head.Seq, strings.TrimSpace(string(load)))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\tp50\tp99\trows\t")
	rowRE := regexp.MustCompile(`data-testid="audit-row"`)
	for _, p := range pages {
		n := *requests
		if p.sql == "" {
			n = 10 // the chart counts a month of entries: a handful of runs tell
		}
		var body []byte
		timed, err := timeRuns(n/10+3, n, func() error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+p.path, nil)
			req.Header.Set("HX-Request", "true")
			if p.sql != "" {
				req.Header.Set("HX-Target", "audit-results")
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %d", p.path, resp.StatusCode)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ds, rows := timed[0], len(rowRE.FindAll(body, -1))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", p.name, ms(percentile(ds, 50)), ms(percentile(ds, 99)), rows)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "process RSS high-water mark after the pages: %d MB\n", procStatusKB("/proc/self/status", "VmHWM:")/1024)

	debug.FreeOSMemory()
	stopRSS := sampleRSS(rssKB)
	start := time.Now()
	res, err := db.VerifyAuditChain(ctx, nil)
	peakKB := stopRSS()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nverify: %d entries in %.2f s, intact %v; process RSS peak %d MB\n",
		res.Checked, time.Since(start).Seconds(), res.OK(), peakKB/1024)

	if err := benchExport(ctx, client, base, "/audit", stdout); err != nil {
		return err
	}

	if *explain {
		for _, p := range pages {
			if p.sql == "" {
				continue
			}
			var plan []string
			if err := db.Gorm().Raw("EXPLAIN (ANALYZE, BUFFERS) " + p.sql).Scan(&plan).Error; err != nil {
				return fmt.Errorf("explain %s: %w", p.name, err)
			}
			fmt.Fprintf(stdout, "\n-- %s\n%s\n", p.name, strings.Join(plan, "\n"))
		}
	}
	return nil
}

// benchExport downloads a whole list (the audit log, the users) as CSV
// from its export, reading it as a browser would, while sampling this
// process's resident memory.
func benchExport(ctx context.Context, client *http.Client, base, list string, stdout io.Writer) error {
	resp, err := client.Get(base + list)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindSubmatch(page)
	if m == nil {
		return errors.New("no CSRF token on " + list)
	}
	debug.FreeOSMemory()
	before := rssKB()
	stopRSS := sampleRSS(rssKB)
	start := time.Now()
	slow := &http.Client{Jar: client.Jar, Transport: client.Transport} // no overall timeout: the export is long
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+list+"/export",
		strings.NewReader(url.Values{"_csrf": {string(m[1])}, "format": {"csv"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = slow.Do(req)
	if err != nil {
		stopRSS()
		return err
	}
	var rows, bytes int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rows++
		bytes += int64(len(sc.Bytes())) + 1
	}
	resp.Body.Close()
	peak := stopRSS()
	if err := sc.Err(); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: %d", resp.StatusCode)
	}
	fmt.Fprintf(stdout, "%s export CSV: %d rows (with header), %.1f MB in %.2f s; process RSS %d MB before, peak %d MB\n",
		list, rows, float64(bytes)/(1<<20), time.Since(start).Seconds(), before/1024, peak/1024)
	return nil
}
