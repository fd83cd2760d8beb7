// Package handlers turns HTTP requests into calls on models and picks the
// view to answer with: one file per action, each a method on Handler.
//
// The file is named after the URL: the path's words without the ids,
// joined by "_", the collection singular. /team/:id/role → team_role.go,
// /webhooks/:id/rotate-secret → webhook_rotate_secret.go,
// /account/sessions/end-others → account_sessions_end_others.go. A
// collection's own URLs name no action, so the method does: GET /users →
// user_list.go, GET /users/:id → user_show.go, GET /users/new and POST
// /users → user_create.go, GET /users/:id/edit and POST /users/:id →
// user_update.go. A form and the POST it sends share a file. The JSON API
// is in plaid_*.go and powens_*.go, after the seed API each endpoint
// speaks: POST /user/create → plaid_user_create.go, GET /2.0/users/:id →
// powens_user_get.go. The probes /healthz and /readyz share health.go.
// Helpers several files use are in files named for what they hold:
// params.go, redirect.go.
//
// A domain error is read one way: var merr *models.Error; errors.As(err, &merr).
package handlers

import (
	"context"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/mail"
	"ledgerdesk/models"
	"ledgerdesk/sso"
)

// Handler holds what the actions depend on.
type Handler struct {
	DB       *models.DB
	Sessions Sessions
	Logger   *slog.Logger
	// Webhooks decides which webhook URLs may be saved.
	Webhooks WebhookGuard
	// Mailer sends invitations; nil when no SMTP server is configured.
	Mailer mail.Sender
	// PublicURL is the portal's address as people reach it, for links
	// in emails; empty: the address of the request.
	PublicURL string
	// SSO signs members in through the company's identity provider; nil
	// when none is configured.
	SSO *sso.Client
	// SecureCookies marks the cookies handlers set themselves Secure.
	SecureCookies bool
	// Passkeys is the portal as passkeys know it, from PublicURL; nil
	// when passkeys are off, and PasskeysOff says why.
	Passkeys    *models.RelyingParty
	PasskeysOff string
	// SkipDataAccessLog leaves out the access entries of page views and
	// searches, for `ledgerdesk bench` to measure what they cost; no flag
	// or variable sets it.
	SkipDataAccessLog bool

	// exports counts the exports streaming.
	exports exportGate
	// counts counts the exact counts of batch confirmations running: each
	// may read a million rows.
	counts exportGate
}

// Sessions is what the actions need of the session cookie: the middleware
// that owns the cookie store implements it.
type Sessions interface {
	// Prepare draws a fresh session id and the row that sign-in will
	// insert for it.
	Prepare(c *fiber.Ctx, ip string) (id string, row models.Session)
	// Begin sets the cookie for a session whose row was just inserted.
	Begin(c *fiber.Ctx, id string) error
	// Expire clears the session cookie.
	Expire(c *fiber.Ctx) error
	// Limits are the idle and absolute lifetimes sessions get.
	Limits() models.SessionLimits
}

// WebhookGuard decides which webhook URLs may be saved.
type WebhookGuard interface {
	// CheckURL returns why a URL may not be saved, or "" when it may.
	CheckURL(ctx context.Context, raw string) string
}
