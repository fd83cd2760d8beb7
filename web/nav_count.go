package web

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// navCounts puts beside Approvals, in an admin's navigation, how many
// requests wait for them (those asked by someone else): counted by the
// statement that loaded the session, so the navigation costs no round
// trip of its own.
func navCounts() fiber.Handler {
	return func(c *fiber.Ctx) error {
		s := current.SignedIn(c)
		if s == nil || s.Member.Role != models.RoleAdmin {
			return c.Next()
		}
		current.SetNavCounter(c, func(path string) (int64, bool) {
			return s.WaitingApprovals, path == "/approvals"
		})
		return c.Next()
	}
}
