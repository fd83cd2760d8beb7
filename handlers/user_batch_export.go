package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/views/pages"
)

// UserBatchExport asks to confirm an export of the selected users (GET
// /users/batch/export); the page posts to /users/export.
func (h *Handler) UserBatchExport(c *fiber.Ctx) error {
	return h.userBatchConfirm(c, pages.BatchExport)
}
