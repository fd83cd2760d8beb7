package main

import (
	"runtime"
	"strings"
	"testing"

	"ledgerdesk/version"
)

func TestVersion_PrintsTheBuildAndGo(t *testing.T) {
	r := ledgerdesk(t, env(), "version")
	if r.code != 0 {
		t.Fatalf("version exited %d: %s", r.code, r.stderr)
	}
	v := version.Get()
	want := "ledgerdesk " + v.Version + "\ncommit: " + v.Commit + "\nbuilt:  " + v.Built + "\ngo:     " +
		runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if r.stdout != want {
		t.Fatalf("version printed\n%s\nwant\n%s", r.stdout, want)
	}
}

func TestVersion_RefusesArguments(t *testing.T) {
	r := ledgerdesk(t, env(), "version", "--json")
	if r.code != 2 || !strings.Contains(r.stderr, "-json") {
		t.Fatalf("version --json: exit %d, stderr %q", r.code, r.stderr)
	}
}
