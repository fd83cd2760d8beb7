package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// BenchmarkRequest measures one request through the whole app, handed to
// Fiber's handler directly (app.Test's pipe would cost more than the
// request): the login page, which runs middleware and a template and no
// statement, a user's page signed in, which loads the session and reads
// the user, the items and the history, and the users list's first page. The slow-query log is on at
// serve's default; tracing off, then on, sampling everything into an
// exporter that drops the spans.
//
//	go test ./web -run XXX -bench BenchmarkRequest -benchmem
func BenchmarkRequest(b *testing.B) {
	dbs := map[string]func(testing.TB) *models.DB{"sqlite": testdb.SQLite}
	if os.Getenv(testdb.EnvURL) != "" {
		dbs["postgres"] = testdb.Postgres
	}
	for name, open := range dbs {
		for _, tracing := range []bool{false, true} {
			db := open(b)
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			settings := querytrace.Settings{Slow: 500 * time.Millisecond, Logger: log}
			cfg := webtest.Config()
			cfg.Logger = log
			if tracing {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(dropSpans{}))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				cfg.Tracing, settings.Tracing = tp, tp
			}
			db.WatchQueries(settings)
			app, err := web.Setup(cfg, db)
			if err != nil {
				b.Fatal(err)
			}
			h := &webtest.Harness{App: app, DB: db, Config: cfg}
			c, _ := h.SignIn(b, models.RoleAdmin)
			created, err := db.CreateEndUser(context.Background(), models.Origin{Actor: models.SystemActor},
				models.EndUserInput{ClientUserID: "bench-" + models.RandomHex(4)})
			if err != nil {
				b.Fatal(err)
			}
			handler := app.Handler()
			run := func(b *testing.B, path string, cookies map[string]string) {
				var ctx fasthttp.RequestCtx
				b.ReportAllocs()
				for b.Loop() {
					// What fasthttp's server does between two requests.
					ctx.ResetUserValues()
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.SetRequestURI(path)
					for k, v := range cookies {
						ctx.Request.Header.SetCookie(k, v)
					}
					handler(&ctx)
					if ctx.Response.StatusCode() != fasthttp.StatusOK {
						b.Fatalf("GET %s: %d", path, ctx.Response.StatusCode())
					}
				}
			}
			label := fmt.Sprintf("%s/tracing=%v", name, map[bool]string{false: "off", true: "on"}[tracing])
			b.Run("login/"+label, func(b *testing.B) { run(b, "/login", nil) })
			b.Run("user/"+label, func(b *testing.B) { run(b, fmt.Sprintf("/users/%d", created.User.ID), c.Cookies) })
			b.Run("users/"+label, func(b *testing.B) { run(b, "/users", c.Cookies) })
		}
	}
}

// dropSpans is an exporter that drops what it is given.
type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }
