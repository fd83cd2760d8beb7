package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestConfigReference_DocsAreWhatTheFlagsSayNow(t *testing.T) {
	want, err := configReference()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", configReferenceFile))
	if err != nil {
		t.Fatalf("%v: run `make docs` to write it", err)
	}
	if string(got) == want {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("%s is stale: run `make docs` (ledgerdesk config-reference) and commit it.\nline %d is\n  %s\nwant\n  %s",
				configReferenceFile, i+1, g, w)
		}
	}
}

func TestConfigReference_ListsEveryCommandsFlagsWithoutRunningAny(t *testing.T) {
	// A command that ran would create its data directory, ./data, here.
	dir := t.TempDir()
	t.Chdir(dir)
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("describing the commands left %v in the working directory: one of them ran", entries)
	}
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	for _, want := range []string{"serve", "migrate", "admin create", "audit verify", "audit checkpoint", "seed",
		"bench", "bench api", "version", "healthcheck", "config-reference"} {
		if !slices.Contains(names, want) {
			t.Errorf("the reference leaves out %q (it has %v)", want, names)
		}
	}

	doc, err := configReference()
	if err != nil {
		t.Fatal(err)
	}
	// Every flag of serve, with its variable and default, is in the text.
	serve := cmds[slices.Index(names, "serve")]
	if len(serve.settings.declared) < 20 {
		t.Fatalf("serve declares %d settings, want its 20 or more", len(serve.settings.declared))
	}
	for _, d := range serve.settings.declared {
		row := "| `--" + d.flag + "` | "
		if d.env != "" {
			row += "`" + d.env + "`"
		}
		if !strings.Contains(doc, row) {
			t.Errorf("no row %q in the reference", row)
		}
	}
	for _, want := range []string{
		"| `--idle-timeout` | `LEDGERDESK_IDLE_TIMEOUT` | `30m0s` | duration |",
		"| `--secure-cookies` | `LEDGERDESK_SECURE_COOKIES` | off | on/off |",
		"| `--database-url` | `DATABASE_URL` | empty | URL |",
		"| `--users` |  | required | number |",
		"| `LEDGERDESK_FIELD_KEY` |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the reference lacks %q", want)
		}
	}
}

func TestUsageCommands_ReadsNamesAlternativesAndWrappedLines(t *testing.T) {
	got := usageCommands(`usage: ledgerdesk [command] [flags]

commands:
  serve                              run the portal (default)
  migrate [--grant-to ROLE]          apply pending migrations; with --grant-to, give
                                     the portal's role what it needs
  audit verify                       check the chain
  audit verify --checkpoint FILE --public-key KEY
                                     ... and that it still matches a checkpoint
  keys reseal|status                 seal again with the current key, or say which keys seal what

Run "ledgerdesk COMMAND -h" for a command's flags.
`)
	want := []documented{
		{name: "serve", about: "run the portal (default)"},
		{name: "migrate", about: "apply pending migrations; with --grant-to, give the portal's role what it needs"},
		{name: "audit verify", about: "check the chain"},
		{name: "keys reseal", about: "seal again with the current key, or say which keys seal what"},
		{name: "keys status", about: "seal again with the current key, or say which keys seal what"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("usageCommands =\n%+v\nwant\n%+v", got, want)
	}
}

func TestConfigReference_CellsStayInTheirColumn(t *testing.T) {
	if got := cell("a|b\nc"); got != `a\|b c` {
		t.Fatalf("cell = %q", got)
	}
	if got := anchor("ledgerdesk admin create"); got != "ledgerdesk-admin-create" {
		t.Fatalf("anchor = %q", got)
	}
	if got := anchor("ledgerdesk config-reference"); got != "ledgerdesk-config-reference" {
		t.Fatalf("anchor = %q", got)
	}
}
