// Package handlers turns HTTP requests into calls on models and picks the
// view to answer with: one file per action, each a method on Handler.
package handlers

import (
	"log/slog"

	"ledgerdesk/models"
	"ledgerdesk/web/session"
)

// Handler holds what the actions depend on.
type Handler struct {
	DB       *models.DB
	Sessions *session.Manager
	Logger   *slog.Logger

	// auditVerify runs the integrity page's background verification.
	auditVerify auditVerifier
}
