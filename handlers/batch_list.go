package handlers

import (
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// BatchList lists the batch jobs, newest first (GET /batches).
func (h *Handler) BatchList(c *fiber.Ctx) error {
	page, err := h.DB.ListBatchJobs(c.UserContext(), models.BatchJobPageRequest{Cursor: utils.CopyString(c.Query("cursor"))})
	if err != nil {
		return err
	}
	emails, err := h.memberEmailsOf(c, page.Jobs)
	if err != nil {
		return err
	}
	v := pages.BatchListView{Page: page, Emails: emails, Zone: current.Location(c),
		NextURL: pageURL("/batches", url.Values{}, page.Next), PrevURL: pageURL("/batches", url.Values{}, page.Prev)}
	return render.Page(c, http.StatusOK, "Batch jobs", pages.BatchListPage(v))
}

// memberEmailsOf maps the members who asked for jobs to their addresses.
func (h *Handler) memberEmailsOf(c *fiber.Ctx, jobs []models.BatchJob) (map[string]string, error) {
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		ids = append(ids, j.ActorID)
	}
	return h.DB.MemberEmails(c.UserContext(), ids)
}
