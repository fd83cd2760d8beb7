// Package web assembles the portal: configuration, the route table,
// middleware (request id, headers, session, CSRF, roles), error pages and
// static files, into the Fiber app that `ledgerdesk serve` runs.
package web

import (
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"ledgerdesk/mail"
	"ledgerdesk/metrics"
	"ledgerdesk/models"
	"ledgerdesk/sso"
	"ledgerdesk/webhooks"
)

// Config is everything Setup needs to build the app.
type Config struct {
	// SecureCookies marks cookies Secure and turns on HSTS; set it whenever
	// the portal is reached over TLS.
	SecureCookies bool
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	// Empty: forwarded headers are ignored.
	TrustedProxies []string
	// IdleTimeout and AbsoluteTimeout bound a session's life (zero: 30
	// minutes and 12 hours). The idle timeout is at least
	// models.MinIdleTimeout and at most the absolute one.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// RequestTimeout bounds the database work of one request, so an
	// unreachable database answers 503 instead of hanging (zero: 5
	// seconds).
	RequestTimeout time.Duration
	// SessionKey signs session cookies (32 or 64 random bytes).
	SessionKey []byte
	// Logger receives the access log and internal errors.
	Logger *slog.Logger
	// Tracing gives every request a span; nil: none, and no cost. The
	// database's statements join them through models.DB.WatchQueries.
	Tracing trace.TracerProvider
	// WebhookGuard decides which webhook URLs may be saved; nil refuses
	// private, loopback and link-local destinations.
	WebhookGuard *webhooks.Guard
	// Mailer sends invitation emails; nil: links are only shown.
	Mailer mail.Sender
	// PublicURL is the portal's address for links in emails; empty: the
	// address each request came to.
	PublicURL string
	// CredentialAttemptsPerMinute bounds the sign-in, two-step code and
	// password forms one client address may send a minute (0: 20).
	CredentialAttemptsPerMinute int
	// APIRequestsPerMinute bounds the JSON API calls of one API key, or
	// one end user's own user_token, a minute (0: 1,200; negative: no
	// limit).
	APIRequestsPerMinute int
	// SSO signs members in through the company's OpenID Connect provider;
	// nil: passwords only.
	SSO *sso.Client
	// SkipDataAccessLog leaves out the access entries of user pages and
	// searches. Only `ledgerdesk bench` sets it, to measure the page with
	// and without them in one run; no flag or variable does.
	SkipDataAccessLog bool
	// Metrics counts requests and rate limits; nil: nothing is counted.
	// They are served on a listener of their own, never by this app.
	Metrics *metrics.Metrics
}

// withDefaults fills what the caller left zero.
func (c Config) withDefaults() Config {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = 12 * time.Hour
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.CredentialAttemptsPerMinute == 0 {
		c.CredentialAttemptsPerMinute = defaultCredentialAttemptsPerMinute
	}
	if c.APIRequestsPerMinute == 0 {
		c.APIRequestsPerMinute = defaultAPIRequestsPerMinute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.WebhookGuard == nil {
		c.WebhookGuard = &webhooks.Guard{}
	}
	return c
}

// validate refuses a configuration the portal cannot run safely with; it
// sees the values after withDefaults.
func (c Config) validate() error {
	switch {
	case c.IdleTimeout < 0, c.AbsoluteTimeout < 0, c.RequestTimeout < 0:
		return fmt.Errorf("web: negative timeout (idle %v, absolute %v, request %v)", c.IdleTimeout, c.AbsoluteTimeout, c.RequestTimeout)
	case c.IdleTimeout < models.MinIdleTimeout:
		return fmt.Errorf("web: the idle timeout (%v) must be at least %v: activity is recorded once a minute, so a shorter one ends sessions in use",
			c.IdleTimeout, models.MinIdleTimeout)
	case c.IdleTimeout > c.AbsoluteTimeout:
		return fmt.Errorf("web: the idle timeout (%v) must not exceed the absolute timeout (%v)", c.IdleTimeout, c.AbsoluteTimeout)
	}
	return nil
}
