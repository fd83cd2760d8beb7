package web

import (
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
)

// navCounts puts beside Approvals, in an admin's navigation, how many
// requests wait for them (those asked by someone else). It is counted
// only when a full page draws the navigation; a count that fails is left
// out and logged, rather than failing the page around it.
func navCounts(db *models.DB, log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		m := current.Member(c)
		if m == nil || m.Role != models.RoleAdmin {
			return c.Next()
		}
		current.SetNavCounter(c, func(path string) (int64, bool) {
			if path != "/approvals" {
				return 0, false
			}
			n, err := db.CountDecidableApprovals(c.UserContext(), m.ID)
			if err != nil {
				log.Warn("count pending approvals", "request_id", current.RequestID(c), "error", err.Error())
				return 0, false
			}
			return n, true
		})
		return c.Next()
	}
}
