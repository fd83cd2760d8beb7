// Package handlers turns HTTP requests into calls on models and picks the
// view to answer with: one file per action, each a method on Handler.
package handlers

import (
	"log/slog"

	"ledgerdesk/models"
	"ledgerdesk/web/mail"
	"ledgerdesk/web/session"
	"ledgerdesk/webhooks"
)

// Handler holds what the actions depend on.
type Handler struct {
	DB       *models.DB
	Sessions *session.Manager
	Logger   *slog.Logger
	// Webhooks decides which webhook URLs may be saved.
	Webhooks *webhooks.Guard
	// Mailer sends invitations; nil when no SMTP server is configured.
	Mailer mail.Sender
	// PublicURL is the portal's address as people reach it, for links
	// in emails; empty: the address of the request.
	PublicURL string

	// auditVerify runs the integrity page's background verification.
	auditVerify auditVerifier
}
