package main

import (
	"path/filepath"
	"strings"
	"testing"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
)

// endUserCount counts the users in an embedded data directory.
func endUserCount(t *testing.T, data string) int64 {
	t.Helper()
	db, err := models.OpenSQLite(filepath.Join(data, "ledgerdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.Gorm().Model(&models.EndUser{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSeed_CLIEmbeddedDrawsProgressAndAuditsOnce(t *testing.T) {
	data := t.TempDir()
	r := ledgerdesk(t, env(), "seed", "--users", "200", "--seed", "5", "--data", data)
	if r.code != 0 {
		t.Fatalf("seed exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "\r[") || !strings.Contains(r.stdout, "] 100% 200/200 users") {
		t.Fatalf("seed drew no progress bar ending at 100%%:\n%q", r.stdout)
	}
	if !strings.Contains(r.stdout, "Seeded 200 users") || !strings.Contains(r.stdout, "items") || !strings.Contains(r.stdout, "users/s") {
		t.Fatalf("seed printed no summary:\n%s", r.stdout)
	}
	if n := endUserCount(t, data); n != 200 {
		t.Fatalf("%d end users after seeding 200", n)
	}
	v := ledgerdesk(t, env(), "audit", "verify", "--data", data)
	if m := intact.FindStringSubmatch(v.stdout); v.code != 0 || m == nil || m[1] != "1" {
		t.Fatalf("audit verify after a seed: exit %d, %q; want 1 entry (the seed) intact", v.code, v.stdout)
	}
}

func TestSeed_CLIWithoutUsersShowsUsage(t *testing.T) {
	r := ledgerdesk(t, env(), "seed", "--data", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "ledgerdesk seed --users N") {
		t.Fatalf("seed without --users: exit %d, stderr %q; want 2 and the usage", r.code, r.stderr)
	}
}

func TestSeed_CLIPostgres(t *testing.T) {
	// seed runs as the tables' owner, who may rebuild their indexes.
	dsn := testdb.EmptyPostgres(t)
	pg := env("DATABASE_URL", dsn)
	data := t.TempDir()
	if r := ledgerdesk(t, pg, "migrate", "--data", data, "--grant-to", testdb.AppRole); r.code != 0 {
		t.Fatalf("migrate exited %d: %s", r.code, r.stderr)
	}
	r := ledgerdesk(t, env("DATABASE_URL", testdb.AppDSN(t, dsn)), "seed", "--users", "300", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "seed runs as the tables' owner") {
		t.Fatalf("seed as the portal's role exited %d: %s", r.code, r.stderr)
	}
	r = ledgerdesk(t, pg, "seed", "--users", "300", "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "Seeded 300 users") {
		t.Fatalf("seed on PostgreSQL exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	db, err := models.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var users, items int64
	db.Gorm().Model(&models.EndUser{}).Count(&users)
	db.Gorm().Model(&models.Item{}).Count(&items)
	if users != 300 || items < 300 {
		t.Fatalf("%d users and %d items after seeding 300 users", users, items)
	}
}

func TestServe_SeedsDemoDataOnFirstStartOnly(t *testing.T) {
	data := t.TempDir()
	first := startServe(t, env(), "--data", data)
	if !strings.Contains(first.stdout.String(), "Added 1,000 demo end users") {
		t.Fatalf("the first start says nothing of demo data:\n%s", first.stdout)
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if n := endUserCount(t, data); n != 1000 {
		t.Fatalf("%d end users after the first start, want the 1,000 demo users", n)
	}

	second := startServe(t, env(), "--data", data)
	if strings.Contains(second.stdout.String(), "demo") {
		t.Fatalf("the second start added demo data again:\n%s", second.stdout)
	}
	second.stop(t)
	if n := endUserCount(t, data); n != 1000 {
		t.Fatalf("%d end users after the second start, want 1,000", n)
	}

	for name, s := range map[string]*server{
		"flag": startServe(t, env(), "--data", t.TempDir(), "--no-demo-data"),
		"env":  startServe(t, env("LEDGERDESK_NO_DEMO_DATA", "true"), "--data", t.TempDir()),
	} {
		if strings.Contains(s.stdout.String(), "demo end users") {
			t.Fatalf("--no-demo-data (%s) still added demo data:\n%s", name, s.stdout)
		}
		s.stop(t)
	}
}
