package web

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"ledgerdesk/metrics"
	"ledgerdesk/models/testdb"
)

// BenchmarkCountRequests measures what counting a request costs: a bare
// route with and without the middleware, and the portal's own app
// answering GET /healthz (every middleware, no database) with metrics off
// and on. It reports; it never fails on a time.
//
//	go test ./web -run '^$' -bench CountRequests -benchmem
func BenchmarkCountRequests(b *testing.B) {
	db := testdb.SQLite(b)
	m := metrics.New(db)
	serve := func(b *testing.B, h fasthttp.RequestHandler, path string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fiber.MethodGet)
		ctx.Request.SetRequestURI(path)
		b.ReportAllocs()
		for b.Loop() {
			h(&ctx)
			if ctx.Response.StatusCode() != fiber.StatusOK {
				b.Fatalf("status %d", ctx.Response.StatusCode())
			}
			ctx.Response.Reset()
		}
	}
	bare := func(counted bool) fasthttp.RequestHandler {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		if counted {
			app.Use(countRequests(m, newRouteNames(nil)))
		}
		app.Get("/users/:id<int>", func(c *fiber.Ctx) error { return c.SendString("ok") })
		return app.Handler()
	}
	portal := func(counted *metrics.Metrics) fasthttp.RequestHandler {
		cfg := Config{SessionKey: bytes.Repeat([]byte("k"), 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: counted}
		app, err := Setup(cfg, db)
		if err != nil {
			b.Fatal(err)
		}
		return app.Handler()
	}
	b.Run("bare/off", func(b *testing.B) { serve(b, bare(false), "/users/42") })
	b.Run("bare/on", func(b *testing.B) { serve(b, bare(true), "/users/42") })
	b.Run("portal/off", func(b *testing.B) { serve(b, portal(nil), "/healthz") })
	b.Run("portal/on", func(b *testing.B) { serve(b, portal(m), "/healthz") })
}
