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

// TeamList shows the team (GET /team): filters and cursor in the URL;
// htmx requests from the filter or pager get only the results.
func (h *Handler) TeamList(c *fiber.Ctx) error {
	req := models.MemberPageRequest{
		Filter: models.MemberFilter{
			Search: utils.CopyString(c.Query("q")),
			Status: utils.CopyString(c.Query("status")),
			Role:   utils.CopyString(c.Query("role")),
		},
		Cursor: utils.CopyString(c.Query("cursor")),
	}
	req.Limit, _ = strconv.Atoi(c.Query("limit"))
	typed := req.Filter.Search
	req.Normalize()
	v := pages.TeamListView{Filter: req.Filter, Limit: req.Limit, Zone: current.Location(c)}
	status := http.StatusOK
	page, err := h.DB.ListMembers(c.UserContext(), req)
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		// A search the text rule refuses: 422, the message beside the box,
		// what was typed kept.
		v.Errors, status = merr.Fields, http.StatusUnprocessableEntity
		v.Filter.Search = typed
	case err != nil:
		return err
	default:
		q := memberListQuery(req)
		v.Page, v.NextURL, v.PrevURL = page, pageURL("/team", q, page.Next), pageURL("/team", q, page.Prev)
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "team-results" {
		return render.Fragment(c, status, pages.TeamResults(v, true))
	}
	return render.Page(c, status, "Team", pages.TeamList(v))
}

// memberListQuery is the list's filter and page size as query values.
func memberListQuery(req models.MemberPageRequest) url.Values {
	q := url.Values{}
	setUnlessDefault(q, "q", req.Filter.Search, "")
	setUnlessDefault(q, "status", req.Filter.Status, "")
	setUnlessDefault(q, "role", req.Filter.Role, "")
	setUnlessDefault(q, "limit", strconv.Itoa(req.Limit), strconv.Itoa(models.PageSizes[0]))
	return q
}
