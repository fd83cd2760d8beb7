package web

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/models/testdb"
)

func TestSetup_RouteWithoutAccessIsRefused(t *testing.T) {
	db := testdb.SQLite(t)
	cfg := Config{SessionKey: bytes.Repeat([]byte("k"), 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	table := func(access Access) func(*handlers.Handler) []Route {
		return func(h *handlers.Handler) []Route {
			return append(routes(h), Route{Method: fiber.MethodGet, Path: "/reports", Access: access, Handler: ok})
		}
	}

	// The same table with the access declared builds: the refusal below is
	// about the missing access, nothing else.
	if _, err := setup(cfg, db, table(Admins)); err != nil {
		t.Fatalf("a table whose routes all declare access: %v", err)
	}

	app, err := setup(cfg, db, table(Access{}))
	if err == nil {
		t.Fatal("Setup accepted a route that declares no access")
	}
	if app != nil {
		t.Fatal("Setup returned an app along with the error")
	}
	if !strings.Contains(err.Error(), "GET /reports") {
		t.Fatalf("error %q does not name the route", err)
	}
}

func TestRoutes_EveryRouteDeclaresAccess(t *testing.T) {
	for _, r := range Routes() {
		if !r.Access.Declared() {
			t.Errorf("%s %s declares no access", r.Method, r.Path)
		}
		if r.Handler == nil {
			t.Errorf("%s %s has no handler", r.Method, r.Path)
		}
	}
}
