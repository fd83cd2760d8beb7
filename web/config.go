// Package web assembles the portal: configuration, the route table,
// middleware (request id, headers, session, CSRF, roles), error pages and
// static files, into the Fiber app that `ledgerdesk serve` runs.
package web

import (
	"log/slog"
	"time"

	"ledgerdesk/web/mail"
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
	// IdleTimeout and AbsoluteTimeout bound a session's life.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// RequestTimeout bounds the database work of one request, so an
	// unreachable database answers 503 instead of hanging.
	RequestTimeout time.Duration
	// SessionKey signs session cookies (32 or 64 random bytes).
	SessionKey []byte
	// Logger receives the access log and internal errors.
	Logger *slog.Logger
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
