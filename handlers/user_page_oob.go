package handlers

import (
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// userPageOOB is what an action on a user's page (reset login, rotate
// token, reveal) sends out of band beside its own answer: the History
// with the action's entry, the "Updated" time and the Data access list
// (a reveal is an access), read after the commit.
func (h *Handler) userPageOOB(c *fiber.Ctx, id int64) (templ.Component, error) {
	u, err := h.DB.EndUserByID(c.UserContext(), id)
	if err != nil {
		return nil, err
	}
	access := h.fieldAccess(c)
	history, err := h.history(c.UserContext(), access, models.EndUserTarget(id))
	if err != nil {
		return nil, err
	}
	zone := current.Location(c)
	accessed, err := h.dataAccess(c.UserContext(), access, id, "", zone)
	if err != nil {
		return nil, err
	}
	return templ.Join(pages.UserHistory(u, history, zone, true), pages.UserUpdated(u, zone, true),
		pages.UserDataAccess(accessed, true)), nil
}
