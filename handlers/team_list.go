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
	v := pages.TeamListView{Filter: req.Filter, Limit: req.Limit}
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
		v.Page = page
		if page.NextCursor != "" {
			v.NextURL = teamListURL(req, page.NextCursor)
		}
		if req.Cursor != "" {
			v.FirstURL = teamListURL(req, "")
		}
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "team-results" {
		return render.Fragment(c, status, pages.TeamResults(v, true))
	}
	return render.Page(c, status, "Team", pages.TeamList(v))
}

// teamListURL is the list's address at a cursor ("" for the first page),
// keeping the filter.
func teamListURL(req models.MemberPageRequest, cursor string) string {
	q := url.Values{}
	set := func(k, v, def string) {
		if v != def {
			q.Set(k, v)
		}
	}
	set("q", req.Filter.Search, "")
	set("status", req.Filter.Status, "")
	set("role", req.Filter.Role, "")
	set("limit", strconv.Itoa(req.Limit), strconv.Itoa(models.PageSizes[0]))
	set("cursor", cursor, "")
	if len(q) == 0 {
		return "/team"
	}
	return "/team?" + q.Encode()
}
