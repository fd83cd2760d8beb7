package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// fieldAccess is what the field policy shows the signed-in member of end
// users' personal fields. The policy is read from the database with the
// session, on every request, so a change holds on the next request in
// every process. Every page, partial, search and export of end users,
// and every audit view, goes through it.
func (h *Handler) fieldAccess(c *fiber.Ctx) models.FieldAccess {
	s := current.SignedIn(c)
	return s.FieldPolicy.For(s.Member.Role)
}
