package handlers

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/models"
)

// UserBatchRemoveConfirm asks to type the number of selected users to
// remove them (GET /users/batch/remove).
func (h *Handler) UserBatchRemoveConfirm(c *fiber.Ctx) error {
	return h.userBatchConfirm(c, models.BatchRemove)
}

// UserBatchRemove starts the removal as a batch job (POST
// /users/batch/remove).
func (h *Handler) UserBatchRemove(c *fiber.Ctx) error {
	return h.userBatchStart(c, models.BatchRemove)
}
