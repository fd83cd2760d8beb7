package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"ledgerdesk/models"
	"ledgerdesk/models/demo"
	"ledgerdesk/web"
)

// bench measures the users pages at scale against a bare reference: the
// same queries through pgx, the same rows as plain HTML, no session, role
// check, CSRF or layout. Both run in this process; one client requests
// them one after the other.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "api" {
		return benchAPI(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "audit" {
		return benchAudit(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "signin" {
		return benchSignIn(ctx, args[1:], getenv, stdout, stderr)
	}
	s := newSettings("bench", getenv, stderr)
	dbo := benchDBOptions(s)
	users := s.Int("users", 1_000_000, 1, maxSeedUsers, "end users to have in the database (seeded if fewer)")
	requests := s.Int("requests", 2000, 1, maxBenchRequests, "measured requests per page and side")
	explain := s.Bool("explain", "", true, "print EXPLAIN ANALYZE for each page's list query, as the reference handler asks it")
	cpuProfile := s.String("cpuprofile", "", "", "write a CPU profile of the measured requests to this `file`", nil)
	only := s.String("only", "", "", "measure only the pages whose name contains this text", nil)
	connections := s.Int("connections", 8, 1, 1024, "concurrent clients of the throughput run on page 1")
	throughputFor := s.Duration("throughput-for", "", 10*time.Second, time.Second, "how long each side of the throughput run lasts, per round")
	var replicas replicaOptions
	replicas.register(s, dbo)
	if err := s.parse(args); err != nil {
		return err
	}
	db, secrets, err := openBenchDB(ctx, dbo, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := replicas.add(db, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	db.PollReplicas(ctx)
	settings, err := serverSettings(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "PostgreSQL: %s\n", settings)

	if err := ensureUsers(ctx, db, *users, stdout); err != nil {
		return err
	}

	pool, err := pgxpool.New(ctx, models.PostgresDSN(dbo.databaseURL))
	if err != nil {
		return err
	}
	defer pool.Close()

	member, password, err := benchMember(ctx, db, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk bench"},
		"bench", models.RoleAdmin)
	if err != nil {
		return err
	}
	appBase, shutdown, err := startApp(db, web.Config{SessionKey: secrets.SessionKey})
	if err != nil {
		return err
	}
	defer shutdown()
	refLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+referenceReads+` (id bigserial PRIMARY KEY, end_user_id bigint NOT NULL, read_at timestamptz NOT NULL)`); err != nil {
		return err
	}
	defer pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+referenceReads)
	ref := &referenceServer{pool: pool}
	refSrv := &http.Server{Handler: ref}
	go refSrv.Serve(refLn)
	defer refSrv.Close()

	client, err := signedInClient(ctx, appBase, member.EmailAddress, password)
	if err != nil {
		return err
	}
	pages, err := benchPages(ctx, db, member.ID)
	if err != nil {
		return err
	}
	if strings.Contains("search", *only) || strings.HasPrefix(*only, "search") {
		terms, err := searchSweep(ctx, db)
		if err != nil {
			return err
		}
		pages = slices.Insert(pages, 2, sweepPages(terms)...)
	}
	// The overview's figures are computed on a schedule, not per page:
	// what one refresh costs is reported beside the page it serves.
	start := time.Now()
	if _, err := db.RefreshOverview(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "overview refresh (serve runs it every %s): %.0f ms\n", models.OverviewEvery, float64(time.Since(start).Microseconds())/1000)

	refBase := "http://" + refLn.Addr().String()
	// Each row is printed once measured: a long run shows its progress,
	// and a failing page leaves the rows before it.
	fmt.Fprintf(stdout, "%-58s %11s %11s %11s %11s %7s %5s\n", "page", "portal p50", "portal p99", "ref. p50", "ref. p99", "ratio", "rows")
	results := map[string]float64{}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	pages = slices.DeleteFunc(pages, func(p benchPage) bool { return !strings.Contains(p.name, *only) })
	for _, p := range pages {
		rows, err := checkSame(client, appBase+p.portal, refBase+p.reference)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		portal, reference, err := measure(client, appBase+p.portal, refBase+p.reference, *requests)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		ratio := float64(percentile(portal, 50)) / float64(percentile(reference, 50))
		results[p.name] = float64(percentile(portal, 50))
		fmt.Fprintf(stdout, "%-58s %11s %11s %11s %11s %6.2fx %5d\n", p.name,
			ms(percentile(portal, 50)), ms(percentile(portal, 99)),
			ms(percentile(reference, 50)), ms(percentile(reference, 99)), ratio, rows)
	}
	if strings.Contains("user detail", *only) {
		fmt.Fprintln(stdout)
		if err := benchAccessLog(db, secrets, client, appBase, pages, *requests, stdout); err != nil {
			return fmt.Errorf("user detail access entry: %w", err)
		}
	}
	if strings.Contains("users export", *only) {
		fmt.Fprintln(stdout)
		if err := benchExport(ctx, client, appBase, "/users", stdout); err != nil {
			return fmt.Errorf("users export: %w", err)
		}
	}
	if *only == "batch" {
		fmt.Fprintln(stdout)
		if err := benchBatch(ctx, db, member, 20*time.Second, stdout); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	deep := slices.IndexFunc(pages, func(p benchPage) bool { return strings.Contains(p.name, "cursor") })
	if f := results["users page 1"]; f > 0 && deep >= 0 {
		d := results[pages[deep].name]
		fmt.Fprintf(stdout, "\ndeep page / page 1 (p50): %.2fx\n", d/f)
	}
	if strings.Contains("users page 1", *only) {
		fmt.Fprintln(stdout)
		if err := benchThroughput(client, appBase+"/users", refBase+"/users", *connections, *throughputFor, stdout); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if *explain {
		for _, p := range pages {
			if p.explainSQL == "" {
				continue
			}
			var plan []string
			if err := db.Gorm().Raw("EXPLAIN (ANALYZE, BUFFERS) "+p.explainSQL, p.explainArgs...).Scan(&plan).Error; err != nil {
				return fmt.Errorf("explain %s: %w", p.name, err)
			}
			fmt.Fprintf(stdout, "\n-- %s, as the reference handler asks it\n%s\n", p.name, strings.Join(plan, "\n"))
		}
	}
	return nil
}

// ensureUsers seeds end users until the database has n.
func ensureUsers(ctx context.Context, db *models.DB, n int, stdout io.Writer) error {
	var have int64
	if err := db.Gorm().Raw(`SELECT COUNT(*) FROM end_users`).Scan(&have).Error; err != nil {
		return err
	}
	if int(have) < n {
		fmt.Fprintf(stdout, "seeding %d users...\n", n-int(have))
		start := time.Now()
		// The seed follows from what is there: an empty database always
		// gets the same people (so runs on two machines measure the same
		// data, search terms included), a topped-up one new ones.
		res, err := demo.Seed(ctx, db, models.Origin{Actor: models.SystemActor, UserAgent: "ledgerdesk bench"},
			demo.Options{Users: n - int(have), Seed: uint64(have) + 1, Note: func(msg string) {
				fmt.Fprintf(stdout, "%6.1f s  %s\n", time.Since(start).Seconds(), msg)
			}}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded %d users and %d items in %.1f s\n", res.Users, res.Items, time.Since(start).Seconds())
	}
	// As autovacuum would after a bulk load: statistics for the planner and
	// a visibility map, so index-only scans need not visit the table.
	for _, table := range []string{"end_users", "items", "pii_access"} {
		if err := db.Gorm().Exec("VACUUM (ANALYZE) " + table).Error; err != nil {
			return err
		}
	}
	return nil
}

// The benchmarks' bounds: a seed of more than a hundred million users, or
// more requests than that, is a typing mistake.
const (
	maxSeedUsers     = 100_000_000
	maxBenchRequests = 100_000_000
)

// benchDBOptions are the database settings of a benchmark, which runs on
// PostgreSQL, with the keys checked.
func benchDBOptions(s *settings) *dbOptions {
	var dbo dbOptions
	dbo.register(s)
	s.check(func() string {
		if dbo.embedded() {
			return "the benchmarks run on PostgreSQL only: set " + s.label("database-url")
		}
		return ""
	})
	s.checkSecrets()
	return &dbo
}

// openBenchDB opens the PostgreSQL database a benchmark runs on, with the
// configured keys: the benchmarks measure production's database only.
func openBenchDB(ctx context.Context, dbo *dbOptions, getenv func(string) string) (*models.DB, web.Secrets, error) {
	return dbo.openWithPII(ctx, getenv, true, "sandbox")
}

// benchPage is one page measured: the portal's URL, the reference's, and
// the list query to explain.
type benchPage struct {
	name        string
	portal      string
	reference   string
	explainSQL  string
	explainArgs []any
}

var listColumns = models.ListColumns.String()

var listSQL = `SELECT ` + listColumns + ` FROM end_users WHERE %s ORDER BY created_at DESC, id DESC LIMIT 26`

// searchSQL is the portal's search on PostgreSQL: a substring branch that
// stops after a page and an exact-id branch, each on its own index.
var searchSQL = `SELECT ` + listColumns + ` FROM end_users WHERE id IN (
	SELECT id FROM (SELECT id FROM end_users WHERE removed_at IS NULL AND search_key LIKE $1
		ORDER BY created_at DESC, id DESC LIMIT 26) AS matched
	UNION ALL SELECT id FROM end_users WHERE removed_at IS NULL AND (user_id = $2 OR client_user_id = $2))
	ORDER BY created_at DESC, id DESC LIMIT 26`

// searchCountSQL selects the matches (%s bounds the substring branch): all
// of them for the plan's row estimate, a bounded number to count.
const searchCountSQL = `SELECT 1 FROM end_users WHERE id IN (
	SELECT id FROM (SELECT id FROM end_users WHERE removed_at IS NULL AND search_key LIKE $1 %s) AS matched
	UNION ALL SELECT id FROM end_users WHERE removed_at IS NULL AND (user_id = $2 OR client_user_id = $2))`

func searchArgs(term string) []any {
	return []any{"%" + models.SearchKey(term) + "%", term}
}

// benchPages picks real values from the data: a deep cursor and a user
// with items (the searches are searchSweep's).
func benchPages(ctx context.Context, db *models.DB, memberID string) ([]benchPage, error) {
	g := db.Gorm().WithContext(ctx)
	var deep struct {
		CreatedAt time.Time
		ID        int64
	}
	// Half way down the list: 500,000 rows deep at 1M users, 5,000,000 at
	// 10M (page 200,000 of 25 rows).
	var active int64
	if err := g.Raw(`SELECT count(*) FROM end_users WHERE removed_at IS NULL`).Scan(&active).Error; err != nil {
		return nil, err
	}
	depth := max(active/2, 1)
	if err := g.Raw(`SELECT created_at, id FROM end_users WHERE removed_at IS NULL ORDER BY created_at DESC, id DESC OFFSET ? LIMIT 1`, depth-1).Scan(&deep).Error; err != nil {
		return nil, err
	}
	var sample struct{ ID int64 }
	if err := g.Raw(`SELECT id FROM end_users WHERE removed_at IS NULL AND has_identity AND item_count >= 3 ORDER BY id LIMIT 1 OFFSET 5000`).Scan(&sample).Error; err != nil {
		return nil, err
	}
	cursor := models.CursorAfter(deep.CreatedAt, deep.ID)
	q := url.QueryEscape
	id := strconv.FormatInt(sample.ID, 10)
	return []benchPage{
		{name: "users page 1", portal: "/users", reference: "/users",
			explainSQL: fmt.Sprintf(listSQL, "removed_at IS NULL")},
		{name: "users, cursor " + models.GroupDigits(depth) + " deep", portal: "/users?cursor=" + q(cursor), reference: "/users?after=" + q(deep.CreatedAt.Format(time.RFC3339Nano)) + "&id=" + strconv.FormatInt(deep.ID, 10),
			explainSQL:  fmt.Sprintf(listSQL, "removed_at IS NULL AND (created_at, id) < ($1, $2)"),
			explainArgs: []any{deep.CreatedAt, deep.ID}},
		{name: "filter item health: error", portal: "/users?health=error", reference: "/users?health=error",
			explainSQL: fmt.Sprintf(listSQL, "removed_at IS NULL AND error_item_count > 0")},
		{name: "overview", portal: "/", reference: "/overview?member=" + q(memberID)},
		{name: "user detail", portal: "/users/" + id, reference: "/user?id=" + id,
			explainSQL: `SELECT * FROM items WHERE end_user_id = $1 ORDER BY id`, explainArgs: []any{sample.ID}},
	}, nil
}

// referenceReads is the table the reference records its reads of a
// user's page in, made for the run and dropped after it.
const referenceReads = "bench_reference_reads"

// referenceServer answers the same queries as the portal with pgx and
// writes the rows as plain HTML.
type referenceServer struct{ pool *pgxpool.Pool }

func (s *referenceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body><table>")
	var err error
	switch r.URL.Path {
	case "/users":
		where, args := "removed_at IS NULL", []any{}
		if after := q.Get("after"); after != "" {
			t, _ := time.Parse(time.RFC3339Nano, after)
			id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
			where += " AND (created_at, id) < ($1, $2)"
			args = append(args, t, id)
		}
		if q.Get("health") == "error" {
			where += " AND error_item_count > 0"
		}
		list, all := fmt.Sprintf(listSQL, where), "SELECT 1 FROM end_users WHERE "+where
		bounded := all
		if s := q.Get("q"); s != "" {
			// As the portal sends a search: unnamed, planned for its pattern.
			list, args = searchSQL, append([]any{pgx.QueryExecModeCacheDescribe}, searchArgs(s)...)
			all, bounded = fmt.Sprintf(searchCountSQL, ""), fmt.Sprintf(searchCountSQL, "LIMIT 1001")
		}
		err = s.rows(ctx, &b, list, args...)
		if err == nil {
			err = s.count(ctx, &b, all, bounded, args, q.Get("q") == "" && q.Get("health") == "")
		}
	case "/user":
		id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
		err = s.rows(ctx, &b, `SELECT * FROM end_users WHERE id = $1`, id)
		if err == nil {
			err = s.rows(ctx, &b, `SELECT * FROM items WHERE end_user_id = $1 ORDER BY id`, id)
		}
		if err == nil {
			err = s.rows(ctx, &b, `SELECT * FROM audit_entries WHERE target_type = 'end_user' AND target_id = $1 ORDER BY seq DESC LIMIT 50`, strconv.FormatInt(id, 10))
		}
		if err == nil {
			// As the portal records every read of a user's page (pii.view)
			// before sending it: one row, committed.
			_, err = s.pool.Exec(ctx, `INSERT INTO `+referenceReads+` (end_user_id, read_at) VALUES ($1, now())`, id)
		}
	case "/overview":
		// What the overview reads per request: the stored figures, the
		// live ones, the chain head and the member's recent activity.
		for _, read := range []struct {
			sql  string
			args []any
		}{
			{`SELECT figures, computed_at FROM overview_snapshot WHERE id = 1`, nil},
			{`SELECT count(*) FROM team_members WHERE status = 'invited'`, nil},
			{`SELECT count(*) FROM audit_entries WHERE action = $1 AND occurred_at >= $2`,
				[]any{models.ActionPIIReveal, time.Now().UTC().Truncate(24 * time.Hour)}},
			{`SELECT count(*) FROM webhook_endpoints e WHERE EXISTS (SELECT 1 FROM (SELECT a.status_code, a.error FROM webhook_attempts a
				WHERE a.endpoint_id = e.id ORDER BY a.id DESC LIMIT 1) latest
				WHERE latest.error <> '' OR latest.status_code < 200 OR latest.status_code > 299)`, nil},
			{`SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' LIMIT 10001) AS backlog`, nil},
			{`SELECT signed_at FROM audit_checkpoints ORDER BY id DESC LIMIT 1`, nil},
			{`SELECT * FROM audit_chain_head WHERE id = 1`, nil},
			{`SELECT * FROM audit_entries WHERE actor_type = 'member' AND actor_id = $1 ORDER BY seq DESC LIMIT 10`, []any{q.Get("member")}},
		} {
			if err = s.rows(ctx, &b, read.sql, read.args...); err != nil {
				break
			}
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	b.WriteString("</table></body></html>")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}

func (s *referenceServer) rows(ctx context.Context, b *strings.Builder, sql string, args ...any) error {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		b.WriteString(`<tr data-row>`)
		for _, v := range vals {
			b.WriteString("<td>" + html.EscapeString(fmt.Sprint(v)) + "</td>")
		}
		b.WriteString("</tr>")
	}
	return rows.Err()
}

// count is the portal's count: the table's estimate for the plain list,
// the plan's estimate for a filter, and an exact count when that is small.
func (s *referenceServer) count(ctx context.Context, b *strings.Builder, selectAll, selectBounded string, args []any, table bool) error {
	var n float64
	if table {
		if err := s.pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'end_users'::regclass`).Scan(&n); err != nil {
			return err
		}
	} else {
		var plan []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			} `json:"Plan"`
		}
		if err := s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+selectAll, args...).Scan(&plan); err != nil {
			return err
		}
		n = plan[0].Plan.Rows
	}
	if n <= 1000 {
		var c int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (`+selectBounded+` LIMIT 1001) AS capped`, args...).Scan(&c); err != nil {
			return err
		}
		n = float64(c)
	}
	fmt.Fprintf(b, "<p>%.0f</p>", n)
	return nil
}

var rowPattern = regexp.MustCompile(`data-testid="(user-row|item)"|<tr data-row>`)

// checkSame fetches both sides once and returns the rows the portal shows.
func checkSame(c *http.Client, portal, reference string) (int, error) {
	var counts [2]int
	for i, u := range []string{portal, reference} {
		resp, err := c.Get(u)
		if err != nil {
			return 0, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d", u, resp.StatusCode)
		}
		counts[i] = len(rowPattern.FindAll(body, -1))
	}
	return counts[0], nil
}

// fetch requests u as a browser does, accepting gzip, and reads the
// answer without unpacking it: the page's cost is the server's, and a
// client unpacking only the portal's answers (the reference sends them
// plain) would count its own work against the portal.
func fetch(c *http.Client, u string) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// Set explicitly, so the transport does not unpack the body.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return err
}

// measure requests both URLs n times, alternating, after a warm-up, and
// returns each side's latencies.
func measure(c *http.Client, portal, reference string, n int) (p, r []time.Duration, err error) {
	get := func(u string) func() error { return func() error { return fetch(c, u) } }
	ds, err := timeRuns(n/10+20, n, get(portal), get(reference))
	if err != nil {
		return nil, nil, err
	}
	return ds[0], ds[1], nil
}

// benchAccessLog measures the user page with its access entry (pii.view,
// as served) against the same page from a second app that skips it, both
// on this database, alternating, in one run.
func benchAccessLog(db *models.DB, secrets web.Secrets, client *http.Client, appBase string, pages []benchPage, n int, stdout io.Writer) error {
	i := slices.IndexFunc(pages, func(p benchPage) bool { return p.name == "user detail" })
	if i < 0 {
		return nil
	}
	without, shutdown, err := startApp(db, web.Config{SessionKey: secrets.SessionKey, SkipDataAccessLog: true})
	if err != nil {
		return err
	}
	defer shutdown()
	// One session serves both apps: it is a row of the shared database,
	// and cookies do not tell ports apart.
	with, skipped, err := measure(client, appBase+pages[i].portal, without+pages[i].portal, n)
	if err != nil {
		return err
	}
	p50, p50Without := percentile(with, 50), percentile(skipped, 50)
	fmt.Fprintf(stdout, "user detail with its access entry: p50 %s, p99 %s; without: p50 %s, p99 %s; the entry adds %s at p50\n",
		ms(p50), ms(percentile(with, 99)), ms(p50Without), ms(percentile(skipped, 99)), ms(p50-p50Without))
	return nil
}

// serverSettings names the PostgreSQL settings a figure depends on; each
// bench prints them first, so its figures say what server they ran on.
func serverSettings(ctx context.Context, db *models.DB) (string, error) {
	var rows []struct{ Name, Setting string }
	// current_setting says each in its own unit ("6GB"), where pg_settings
	// counts some in 8 kB pages.
	err := db.Gorm().WithContext(ctx).Raw(`SELECT name, current_setting(name) AS setting FROM pg_settings
		WHERE name IN ('server_version', 'shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem',
			'max_wal_size', 'max_connections', 'synchronous_commit', 'autovacuum')
		ORDER BY name`).Scan(&rows).Error
	if err != nil {
		return "", err
	}
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Name + "=" + r.Setting
	}
	return strings.Join(parts, ", "), nil
}
