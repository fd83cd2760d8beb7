package testdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"ledgerdesk/models"
)

// ReplicaServer is a streaming standby of the TEST_DATABASE_URL cluster,
// started once per test binary by Replica: pg_basebackup -R into a
// temporary folder, then a second postmaster on a free port. It holds
// every database and role of the cluster, test schemas included, a moment
// after the primary has them.
type ReplicaServer struct {
	Port int
	dir  string
	bin  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
}

var replica struct {
	sync.Mutex
	server *ReplicaServer
	err    error
}

// replicaDirPrefix names the folders replicas live in, with the test
// process's id, so a later run removes those a killed run left.
const replicaDirPrefix = "ledgerdesk-replica-"

// Replica returns the test binary's replica, starting it on first use
// (pg_basebackup copies the whole cluster: large databases on it make
// this slower). Without PostgreSQL's server programs, or when the primary
// refuses replication connections, the test skips saying how to enable
// it; with CI=true it fails. The package's TestMain stops it (StopReplica).
func Replica(t testing.TB) *ReplicaServer {
	t.Helper()
	base := PostgresURL(t)
	replica.Lock()
	defer replica.Unlock()
	if replica.server == nil && replica.err == nil {
		start := time.Now()
		replica.server, replica.err = startReplica(base)
		if replica.err == nil {
			t.Logf("replica on port %d started in %s", replica.server.Port, time.Since(start).Round(time.Millisecond))
		}
	}
	if replica.err != nil {
		msg := fmt.Sprintf("replica test skipped: %v", replica.err)
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return replica.server
}

// StopReplica stops the replica Replica started, if any, and removes its
// folder: the TestMain of each package that uses one calls it.
func StopReplica() {
	replica.Lock()
	defer replica.Unlock()
	if r := replica.server; r != nil {
		r.stop()
		os.RemoveAll(r.dir)
		replica.server = nil
	}
}

func startReplica(base string) (*ReplicaServer, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		return nil, err
	}
	var version int
	settings := map[string]string{}
	err = conn.QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&version)
	if err == nil {
		// A hot standby needs these at least as high as its primary's.
		for _, name := range []string{"max_connections", "max_worker_processes", "max_wal_senders",
			"max_prepared_transactions", "max_locks_per_transaction"} {
			var v string
			if err = conn.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
				break
			}
			settings[name] = v
		}
	}
	conn.Close(context.Background())
	if err != nil {
		return nil, err
	}
	bin := fmt.Sprintf("/usr/lib/postgresql/%d/bin", version/10000)
	for _, prog := range []string{"pg_basebackup", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			return nil, fmt.Errorf("%s not found: install the PostgreSQL %d server package (apt-get install postgresql-%d)", prog, version/10000, version/10000)
		}
	}
	removeStaleReplicas()
	dir, err := os.MkdirTemp("", replicaDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	r := &ReplicaServer{dir: dir, bin: bin}
	if os.Getuid() == 0 {
		// PostgreSQL refuses to run as root: the cluster's own OS user
		// runs it.
		pg, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, and no OS user postgres to run the replica as: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		r.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	fail := func(err error) (*ReplicaServer, error) {
		r.stop()
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// A copy cut short (the server ended the connection, as a test that
	// ends other sessions may) is tried again; a refusal is not.
	for attempt := 1; ; attempt++ {
		backup := exec.Command(filepath.Join(bin, "pg_basebackup"), "-h", u.Hostname(), "-p", portOf(u), "-U", u.User.Username(),
			"-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
		backup.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, Pdeathsig: syscall.SIGKILL}
		out, err := backup.CombinedOutput()
		if err == nil {
			break
		}
		msg := strings.TrimSpace(string(out))
		refused := strings.Contains(msg, "pg_hba.conf")
		if refused {
			msg += " (let the test user replicate: add `host replication all 127.0.0.1/32 trust` to pg_hba.conf and reload; .ci/test does)"
		}
		if refused || attempt == 3 {
			return fail(fmt.Errorf("pg_basebackup: %v: %s", err, msg))
		}
		os.RemoveAll(data)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	r.Port = port
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(port),
		"unix_socket_directories = '" + dir + "'",
		"hot_standby = on",
		"shared_buffers = 32MB",
		"fsync = off",
		"logging_collector = off",
	}
	for k, v := range settings {
		conf = append(conf, k+" = "+v)
	}
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\n"
	if err := r.writeFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return fail(err)
	}
	if err := r.writeFile(filepath.Join(data, "pg_hba.conf"), hba); err != nil {
		return fail(err)
	}
	if err := r.start(); err != nil {
		return fail(err)
	}
	if err := r.waitCaughtUp(base, time.Minute); err != nil {
		return fail(err)
	}
	return r, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "5432"
}

// removeStaleReplicas removes the folders of replicas whose test process
// is gone (killed before its TestMain could stop them).
func removeStaleReplicas() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), replicaDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), replicaDirPrefix), "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

func (r *ReplicaServer) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	if r.cred != nil {
		return os.Chown(path, int(r.cred.Uid), int(r.cred.Gid))
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the postmaster and waits until it accepts connections.
func (r *ReplicaServer) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	logFile, err := os.OpenFile(filepath.Join(r.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(r.bin, "postgres"), "-D", filepath.Join(r.dir, "data"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Should the test process die, the replica goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	logFile.Close()
	r.cmd = cmd
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.Connect(context.Background(), r.adminDSN("postgres"))
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "postgres.log"))
			return fmt.Errorf("replica did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts the postmaster down (fast: open connections are ended).
func (r *ReplicaServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// Stop stops the replica until the test ends (or Start), as an outage
// would.
func (r *ReplicaServer) Stop(t testing.TB) {
	t.Helper()
	r.stop()
	t.Cleanup(func() {
		if err := r.start(); err != nil {
			t.Errorf("restart the replica: %v", err)
		}
	})
}

// Start starts the replica again after Stop, and waits until it has
// caught up with the primary.
func (r *ReplicaServer) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	r.CatchUp(t)
}

// CatchUp waits until the replica has replayed everything the primary
// has written so far. "Written" is the insert position, as a commit's
// recorded position is (replica_lsn.go): it may run ahead of what is
// flushed while other sessions commit asynchronously (the other test
// binaries do), and the WAL writer sends the rest within a moment.
func (r *ReplicaServer) CatchUp(t testing.TB) {
	t.Helper()
	if err := r.waitCaughtUp(PostgresURL(t), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (r *ReplicaServer) waitCaughtUp(primaryURL string, limit time.Duration) error {
	ctx := context.Background()
	p, err := pgx.Connect(ctx, primaryURL)
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	var target string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
		return err
	}
	want, err := models.ParseLSN(target)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		got, err := r.replayed(ctx)
		if err == nil && got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica has not replayed %s in %s (at %s, %v)", want, limit, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *ReplicaServer) replayed(ctx context.Context) (models.LSN, error) {
	c, err := pgx.Connect(ctx, r.adminDSN("postgres"))
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var s *string
	if err := c.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&s); err != nil || s == nil {
		return 0, fmt.Errorf("no replay position: %v", err)
	}
	return models.ParseLSN(*s)
}

// PauseReplay stops the replica applying WAL until the test ends (or
// ResumeReplay): it falls behind as the primary writes on.
func (r *ReplicaServer) PauseReplay(t testing.TB) {
	t.Helper()
	r.Exec(t, "postgres", "SELECT pg_wal_replay_pause()")
	t.Cleanup(func() { r.ResumeReplay(t) })
}

// ResumeReplay lets a paused replica apply WAL again.
func (r *ReplicaServer) ResumeReplay(t testing.TB) {
	t.Helper()
	r.Exec(t, "postgres", "SELECT pg_wal_replay_resume()")
}

// Exec runs a statement on the replica's database dbname as a superuser.
func (r *ReplicaServer) Exec(t testing.TB, dbname, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, r.adminDSN(dbname))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("replica: %s: %v", sql, err)
	}
}

// Scans is how many scans (sequential and by index) the server at dsn has
// counted on schema's table since it started, for tests to see where a
// read went. Each backend reports its counts within about a second of
// its query; tests wait for them.
func Scans(t testing.TB, dsn, schema, table string) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	err = c.QueryRow(ctx, `SELECT COALESCE(sum(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0)::bigint
		FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`, schema, table).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// adminDSN reaches the replica's database dbname as the cluster's
// superuser, over its socket folder.
func (r *ReplicaServer) adminDSN(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable connect_timeout=3", r.dir, r.Port, dbname)
}

// URL is dsn (a URL of the primary) pointed at the replica: the same
// user, database and settings.
func (r *ReplicaServer) URL(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	return u.String()
}

// SchemaOf is the schema a testdb URL's search_path names first.
func SchemaOf(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(u.Query().Get("search_path"), ",")[0]
}
