package handlers

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// BatchCancel asks a running batch job to stop before its next user (POST
// /batches/:id/cancel). A job already finished is shown as it ended.
func (h *Handler) BatchCancel(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	err = h.DB.CancelBatch(c.UserContext(), current.Origin(c), id)
	var merr *models.Error
	if err != nil && !(errors.As(err, &merr) && merr.Kind == models.KindConflict) {
		return err
	}
	if err == nil {
		current.AddFlash(c, "Batch job "+c.Params("id")+" stops before its next user.")
	} else {
		current.AddFlash(c, merr.Message)
	}
	if !current.IsHTMX(c) {
		return c.Redirect("/batches/"+c.Params("id"), fiber.StatusSeeOther)
	}
	v, err := h.batchJobView(c)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "", pages.BatchProgress(v))
}
