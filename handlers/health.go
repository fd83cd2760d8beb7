package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/version"
)

// health is /healthz's answer. The build it names is public on purpose
// (whoever runs the portal checks which build answers); nothing else is.
type health struct {
	Status  string       `json:"status"`
	Version version.Info `json:"version"`
}

// Healthz answers while the process is up (GET /healthz), naming the
// build that answers. It reads nothing, so it stays cheap and answers
// while the database is down.
func (h *Handler) Healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(health{Status: "ok", Version: version.Get()})
}

// Readyz answers 200 when the database is reachable, else 503 (GET /readyz).
func (h *Handler) Readyz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := h.DB.Ping(ctx); err != nil {
		c.Set(fiber.HeaderRetryAfter, "5")
		return c.Status(fiber.StatusServiceUnavailable).SendString("database unreachable")
	}
	return c.SendString("ready")
}
