package version

import (
	"runtime/debug"
	"testing"
)

func stamped(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "ledgerdesk", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestResolve_LinkerValuesWinOverWhatGoRecorded(t *testing.T) {
	bi := stamped("v0.0.0-20261206100000-ad196a8f0c1e+dirty",
		"vcs.revision", "ad196a8f0c1e", "vcs.time", "2026-12-06T10:00:00Z", "vcs.modified", "true")
	got := resolve(bi, "v0.5.0", "0123456789abcdef", "2026-12-07T08:00:00Z")
	want := Info{Version: "v0.5.0", Commit: "0123456789abcdef", Built: "2026-12-07T08:00:00Z"}
	if got != want {
		t.Fatalf("resolve = %+v, want %+v", got, want)
	}
}

func TestResolve_FallsBackToTheVCSSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want Info
	}{
		{"clean checkout", stamped("v0.0.0-20261206100000-ad196a8f0c1e",
			"vcs.revision", "ad196a8f0c1e", "vcs.time", "2026-12-06T10:00:00Z", "vcs.modified", "false"),
			Info{"v0.0.0-20261206100000-ad196a8f0c1e", "ad196a8f0c1e", "2026-12-06T10:00:00Z"}},
		{"changed tree", stamped("(devel)",
			"vcs.revision", "ad196a8f0c1e", "vcs.time", "2026-12-06T10:00:00Z", "vcs.modified", "true"),
			Info{"devel", "ad196a8f0c1e-dirty", "2026-12-06T10:00:00Z"}},
		{"go run, no vcs", stamped("(devel)"), Info{"devel", Unknown, Unknown}},
		{"no build info", nil, Info{"devel", Unknown, Unknown}},
		{"modified but no revision", stamped("", "vcs.modified", "true"), Info{"devel", Unknown, Unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.bi, "", "", ""); got != tc.want {
				t.Fatalf("resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolve_OneLinkerValueKeepsTheOthersRecorded(t *testing.T) {
	bi := stamped("(devel)", "vcs.revision", "ad196a8f0c1e", "vcs.time", "2026-12-06T10:00:00Z")
	got := resolve(bi, "v0.5.0", "", "")
	want := Info{"v0.5.0", "ad196a8f0c1e", "2026-12-06T10:00:00Z"}
	if got != want {
		t.Fatalf("resolve = %+v, want %+v", got, want)
	}
}

func TestGet_NamesEveryField(t *testing.T) {
	got := Get()
	if got.Version == "" || got.Commit == "" || got.Built == "" {
		t.Fatalf("Get = %+v: every field has a value, if only %q", got, Unknown)
	}
	if Get() != got {
		t.Fatal("Get changed between two calls")
	}
}
