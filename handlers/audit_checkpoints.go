package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// AuditCheckpointDownload sends one signed checkpoint as a JSON file (GET
// /audit/checkpoints/:id) for `ledgerdesk audit verify --checkpoint`.
func (h *Handler) AuditCheckpointDownload(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	cp, err := h.DB.CheckpointByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="ledgerdesk-checkpoint-seq-`+strconv.FormatInt(cp.Seq, 10)+`.json"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(cp.File())
}
