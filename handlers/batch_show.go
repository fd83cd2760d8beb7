package handlers

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/views/pages"
)

// BatchShow shows a batch job's progress (GET /batches/:id); htmx polls it
// for the progress section alone until the job finishes.
func (h *Handler) BatchShow(c *fiber.Ctx) error {
	v, err := h.batchJobView(c)
	if err != nil {
		return err
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "batch-progress" {
		return render.Fragment(c, http.StatusOK, pages.BatchProgress(v))
	}
	return render.Page(c, http.StatusOK, pages.JobTitle(v.Job), pages.BatchJobPage(v))
}

// batchJobView loads the job the :id parameter names, who asked for it
// and its first failures.
func (h *Handler) batchJobView(c *fiber.Ctx) (pages.BatchJobView, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return pages.BatchJobView{}, err
	}
	ctx := c.UserContext()
	j, err := h.DB.BatchJobByID(ctx, id)
	if err != nil {
		return pages.BatchJobView{}, err
	}
	v := pages.BatchJobView{Job: j, CSRFToken: current.CSRFToken(c), Zone: current.Location(c)}
	emails, err := h.DB.MemberEmails(ctx, []string{j.ActorID})
	if err != nil {
		return v, err
	}
	v.Requester = emails[j.ActorID]
	if j.Failed > 0 {
		if v.Failures, err = h.DB.BatchFailures(ctx, j.ID, pages.BatchFailuresShown); err != nil {
			return v, err
		}
	}
	return v, nil
}
