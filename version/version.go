// Package version says which build of Ledgerdesk is running: its
// version, the commit it was built from and when.
package version

import (
	"runtime/debug"
	"sync"
)

// Set when linking (make release, the Dockerfile):
//
//	-ldflags "-X ledgerdesk/version.version=v0.5.0 -X ledgerdesk/version.commit=SHA -X ledgerdesk/version.built=2026-12-06T10:00:00Z"
//
// An empty one is read from what the go command records in every binary
// it builds (the module version and the vcs.* settings).
var version, commit, built string

// Unknown stands for a commit or time the build did not record (go run,
// a build outside a git checkout).
const Unknown = "unknown"

// Info names a build. It is public: /healthz answers it to anyone.
type Info struct {
	Version string `json:"version"` // v0.5.0, v0.5.0-3-gabc1234-dirty, or "devel"
	Commit  string `json:"commit"`  // the full commit hash, "-dirty" appended when the tree had changes
	Built   string `json:"built"`   // RFC 3339, UTC: the commit's time
}

// Get is the running binary's build, read once.
func Get() Info { return current() }

var current = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(bi, version, commit, built)
})

// resolve prefers what the linker was told, then what the go command
// recorded.
func resolve(bi *debug.BuildInfo, version, commit, built string) Info {
	var recorded Info
	if bi != nil {
		// "(devel)" is what go run, go test and builds without a
		// version control checkout record.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			recorded.Version = v
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				recorded.Commit = s.Value
			case "vcs.time":
				recorded.Built = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && recorded.Commit != "" {
			recorded.Commit += "-dirty"
		}
	}
	return Info{
		Version: first(version, recorded.Version, "devel"),
		Commit:  first(commit, recorded.Commit, Unknown),
		Built:   first(built, recorded.Built, Unknown),
	}
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
