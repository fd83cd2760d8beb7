package web

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/models"
)

// SetupWithRoutes is Setup over another route table, for tests that need
// routes the portal does not have (yet), such as an admins-only probe.
func SetupWithRoutes(cfg Config, db *models.DB, table func(*handlers.Handler) []Route) (*fiber.App, error) {
	return setup(cfg, db, table)
}

// RouteTable is the portal's own route table over h, for tests to extend.
func RouteTable(h *handlers.Handler) []Route { return routes(h) }
