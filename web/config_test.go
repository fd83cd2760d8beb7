package web_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"ledgerdesk/models/testdb"
	"ledgerdesk/web"
)

func TestSetup_RefusesTimeoutsThePortalCannotKeep(t *testing.T) {
	db := testdb.SQLite(t)
	base := web.Config{SessionKey: bytes.Repeat([]byte("k"), 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		name string
		set  func(*web.Config)
		want string // in the error
	}{
		{"negative idle", func(c *web.Config) { c.IdleTimeout = -5 * time.Minute }, "negative"},
		{"negative absolute", func(c *web.Config) { c.AbsoluteTimeout = -time.Hour }, "negative"},
		{"negative request", func(c *web.Config) { c.RequestTimeout = -time.Second }, "negative"},
		{"idle under two minutes", func(c *web.Config) { c.IdleTimeout = 90 * time.Second }, "at least 2m0s"},
		{"idle of one nanosecond", func(c *web.Config) { c.IdleTimeout = 1 }, "at least 2m0s"},
		{"idle longer than absolute", func(c *web.Config) { c.IdleTimeout = 2 * time.Hour; c.AbsoluteTimeout = time.Hour }, "must not exceed the absolute"},
		{"idle longer than the default absolute", func(c *web.Config) { c.IdleTimeout = 13 * time.Hour }, "must not exceed the absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			app, err := web.Setup(cfg, db)
			if err == nil || app != nil {
				t.Fatalf("Setup accepted idle %v, absolute %v, request %v", cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.RequestTimeout)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		set  func(*web.Config)
	}{
		{"defaults", func(c *web.Config) {}},
		{"shortest idle", func(c *web.Config) { c.IdleTimeout = 2 * time.Minute }},
		{"idle equal to absolute", func(c *web.Config) { c.IdleTimeout = time.Hour; c.AbsoluteTimeout = time.Hour }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			if _, err := web.Setup(cfg, db); err != nil {
				t.Fatalf("Setup refused a valid configuration: %v", err)
			}
		})
	}
}
