//go:build unix

package models_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ledgerdesk/models"
)

// sqliteFiles returns the mode of every file in dir.
func sqliteFiles(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]os.FileMode{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.Mode().Perm()
	}
	return out
}

func checkPrivate(t *testing.T, dir, when string) {
	t.Helper()
	files := sqliteFiles(t, dir)
	if files["ledgerdesk.db"] != 0o600 {
		t.Errorf("%s: ledgerdesk.db has mode %v, want 0600 (all: %v)", when, files["ledgerdesk.db"], files)
	}
	for name, mode := range files {
		if mode&0o077 != 0 {
			t.Errorf("%s: %s has mode %v: readable beyond its owner", when, name, mode)
		}
	}
}

func TestOpenSQLite_FilesAreReadableByTheOwnerOnly(t *testing.T) {
	// The usual umask, under which SQLite's own default would be 0644.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	dir := t.TempDir()
	db := openSQLiteFile(t, filepath.Join(dir, "ledgerdesk.db"))
	if _, err := db.CountMembers(ctx); err != nil {
		t.Fatal(err)
	}
	// While open, in WAL mode: the database, its -wal and its -shm.
	files := sqliteFiles(t, dir)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, ok := files["ledgerdesk.db"+suffix]; !ok {
			t.Fatalf("no ledgerdesk.db%s while the database is open: %v", suffix, files)
		}
	}
	checkPrivate(t, dir, "open")
	db.Close()
	checkPrivate(t, dir, "closed")
}

func TestOpenSQLite_TightensAFileLeftReadableByOthers(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	dir := t.TempDir()
	path := filepath.Join(dir, "ledgerdesk.db")
	db := openSQLiteFile(t, path)
	db.Close()
	// A file made by an older release, or copied in with cp.
	for name := range sqliteFiles(t, dir) {
		if strings.HasPrefix(name, "ledgerdesk.db") {
			if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := models.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CountMembers(ctx); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir, "reopened")
}
