package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
)

// UserBatchResetLoginConfirm asks to confirm a sandbox login reset of the
// selected users (GET /users/batch/reset-login).
func (h *Handler) UserBatchResetLoginConfirm(c *fiber.Ctx) error {
	return h.userBatchConfirm(c, models.BatchResetLogin)
}

// UserBatchResetLogin starts the reset as a batch job (POST
// /users/batch/reset-login).
func (h *Handler) UserBatchResetLogin(c *fiber.Ctx) error {
	return h.userBatchStart(c, models.BatchResetLogin)
}
