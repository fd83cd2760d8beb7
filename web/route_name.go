package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// routeNames names the route of a request for the logs. Once Fiber has
// routed a request, that is the matched route's pattern; a request that
// failed in middleware (say, loading its session) never got that far, and
// Fiber reports the middleware's own "/". Then the pattern is looked up in
// the route table, so the log still says which route failed.
type routeNames struct {
	routes []Route
}

func newRouteNames(table []Route) routeNames { return routeNames{routes: table} }

// of is the route pattern of c's request, or "" when none matches.
func (n routeNames) of(c *fiber.Ctx) string {
	// Middleware added with app.Use reports the pattern "/" whatever the
	// path.
	if r := c.Route(); r.Path != "/" || c.Path() == "/" {
		return r.Path
	}
	method := c.Method()
	if method == fiber.MethodHead {
		method = fiber.MethodGet
	}
	for _, r := range n.routes {
		if r.Method == method && patternMatches(r.Path, c.Path()) {
			return r.Path
		}
	}
	return ""
}

// patternMatches matches a Fiber route pattern (":name" and
// ":name<constraint>" parameters, a trailing "*") against a path; the
// parameters' constraints are not checked.
func patternMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], ":") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if ps[i] != xs[i] {
			return false
		}
	}
	return true
}
