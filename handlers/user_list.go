package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserList shows the users list (GET /users). All its state is in the
// URL; htmx requests (search as you type, filters, pager) get only the
// results.
func (h *Handler) UserList(c *fiber.Ctx) error {
	req := models.UserPageRequest{
		Filter: models.UserFilter{
			Search:      utils.CopyString(c.Query("q")),
			Status:      utils.CopyString(c.Query("status")),
			Health:      utils.CopyString(c.Query("health")),
			Institution: utils.CopyString(c.Query("institution")),
		},
		Cursor: utils.CopyString(c.Query("cursor")),
	}
	req.Limit, _ = strconv.Atoi(c.Query("limit"))
	req.Normalize()
	ctx := c.UserContext()
	v := pages.UserListView{
		Filter: req.Filter, Limit: req.Limit,
		CanCreate: current.Member(c).Role.CanManageUsers(),
		Clock:     models.HealthClock{Now: models.Now()},
	}
	status := http.StatusOK
	page, err := h.DB.ListEndUsers(ctx, req)
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		// A search or filter the text rule refuses: 422, the message
		// beside its box, what was typed kept.
		v.Errors, status = merr.Fields, http.StatusUnprocessableEntity
	case err != nil:
		return err
	default:
		v.Page, v.NextURL, v.PrevURL = page, listURL(req, page.Next), listURL(req, page.Prev)
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "user-results" {
		return render.Fragment(c, status, pages.UserResults(v, true))
	}
	if v.Institutions, err = h.DB.Institutions(ctx); err != nil {
		return err
	}
	return render.Page(c, status, "End users", pages.UserList(v))
}

// listURL is the list's address for a page cursor, keeping the filter.
func listURL(req models.UserPageRequest, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := url.Values{}
	set := func(k, v, def string) {
		if v != def {
			q.Set(k, v)
		}
	}
	set("q", req.Filter.Search, "")
	set("status", req.Filter.Status, models.StatusActive)
	set("health", req.Filter.Health, "")
	set("institution", req.Filter.Institution, "")
	set("limit", strconv.Itoa(req.Limit), strconv.Itoa(models.PageSizes[0]))
	q.Set("cursor", cursor)
	return "/users?" + q.Encode()
}
