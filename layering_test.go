// Package ledgerdesk holds the checks on how the module's packages depend
// on each other: data flows one way, request → handler → models → view,
// and no folder reaches up into one that builds on it.
package ledgerdesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "ledgerdesk"

// layers ranks the module's top-level folders from the bottom up. A package
// may depend on packages of its own folder and of folders ranked lower;
// folders of the same rank stay apart. A new folder takes its place here.
var layers = map[string]int{
	"models":   0, // domain rules, queries and migrations
	"static":   0, // the embedded CSS, htmx and icons
	"version":  0, // which build is running
	"mail":     1, // invitation emails
	"webhooks": 1, // webhook delivery from the outbox
	"batches":  1, // batch actions run in the background
	"views":    1, // templ: models' types in, HTML out
	"metrics":  1, // Prometheus metrics: models' events and state in, a scrape out
	"sso":      1, // OpenID Connect sign-in: discovery, code exchange, ID token checks
	"handlers": 2, // parse, authorize, call models, pick a view
	"web":      3, // the app: routes, middleware, sessions
	"cmd":      4, // the binary and its subcommands
}

// forbiddenImports are libraries a folder's own code never imports itself
// (a handler still reads the database, through models).
var forbiddenImports = map[string][]string{
	// A model never sees a request, and reports to metrics through an
	// Observer rather than a metrics library.
	"models": {"net/http", "github.com/gofiber/fiber", "github.com/valyala/fasthttp", "github.com/prometheus"},
	// Metrics read the database through models, and never a request's
	// own values (the web middleware hands them the route pattern).
	"metrics": {"database/sql", "gorm.io", "github.com/jackc/pgx", "github.com/gofiber/fiber", "github.com/valyala/fasthttp"},
	// The identity provider's answers are checked here, and judged and
	// stored by models.
	"sso": {"database/sql", "gorm.io", "github.com/jackc/pgx", "github.com/gofiber/fiber", "github.com/valyala/fasthttp"},
	// A handler never builds SQL: models does.
	"handlers": {"database/sql", "gorm.io", "github.com/jackc/pgx"},
	// A view never queries and never reads the request: it is given values.
	"views": {"database/sql", "gorm.io", "github.com/jackc/pgx", "github.com/gofiber/fiber", "github.com/valyala/fasthttp"},
}

// pkg is what `go list -json` says of one package. Imports leaves out
// what only its tests import: tests may build the whole app. Checking each
// import is enough: a package cannot reach a layer above or a test helper
// without one import along the way doing so.
type pkg struct {
	ImportPath string
	Imports    []string
}

// isOurs reports whether path is one of this module's packages.
func isOurs(path string) bool { return strings.HasPrefix(path, module+"/") }

// folder is the top-level folder of one of the module's packages:
// ledgerdesk/handlers/render → handlers.
func folder(path string) string {
	f, _, _ := strings.Cut(strings.TrimPrefix(path, module+"/"), "/")
	return f
}

// isTestHelper reports whether a package exists for tests only:
// models/testdb, web/webtest, mail/mailtest.
func isTestHelper(path string) bool {
	last := path[strings.LastIndex(path, "/")+1:]
	return last == "testdb" || strings.HasSuffix(last, "test")
}

// within reports whether path is lib or one of its packages.
func within(path, lib string) bool { return path == lib || strings.HasPrefix(path, lib+"/") }

// loadPackages lists the module's packages with what each imports.
func loadPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("read go list's output: %v", err)
		}
		if isOurs(p.ImportPath) {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found none of the module's packages")
	}
	return pkgs
}

func TestLayering_DataFlowsOneWay(t *testing.T) {
	pkgs := loadPackages(t)

	t.Run("every folder has a layer", func(t *testing.T) {
		for _, p := range pkgs {
			if _, ok := layers[folder(p.ImportPath)]; !ok {
				t.Errorf("%s: folder %s/ has no place in layers: rank it among the others", p.ImportPath, folder(p.ImportPath))
			}
		}
	})

	t.Run("no package imports a layer above its own", func(t *testing.T) {
		for _, p := range pkgs {
			from := folder(p.ImportPath)
			rank, ok := layers[from]
			if !ok {
				continue
			}
			for _, imp := range p.Imports {
				if !isOurs(imp) || folder(imp) == from {
					continue
				}
				if impRank, ok := layers[folder(imp)]; ok && impRank >= rank {
					t.Errorf("%s imports %s: %s/ may not depend on %s/", p.ImportPath, imp, from, folder(imp))
				}
			}
		}
	})

	t.Run("each layer keeps to its own libraries", func(t *testing.T) {
		for _, p := range pkgs {
			for _, imp := range p.Imports {
				for _, lib := range forbiddenImports[folder(p.ImportPath)] {
					if within(imp, lib) {
						t.Errorf("%s imports %s: not in %s/", p.ImportPath, imp, folder(p.ImportPath))
					}
				}
			}
		}
	})

	t.Run("test helpers stay in tests", func(t *testing.T) {
		for _, p := range pkgs {
			if isTestHelper(p.ImportPath) {
				continue
			}
			for _, imp := range p.Imports {
				if isOurs(imp) && isTestHelper(imp) {
					t.Errorf("%s imports the test helper %s, which would then ship in the binary", p.ImportPath, imp)
				}
			}
		}
	})
}
