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
	access, err := h.fieldAccess(c)
	if err != nil {
		return err
	}
	req := models.UserPageRequest{
		Filter: userFilterOf(c.Context().QueryArgs(), access),
		Cursor: utils.CopyString(c.Query("cursor")),
	}
	req.Limit, _ = strconv.Atoi(c.Query("limit"))
	req.Normalize()
	ctx := models.ReplicaReads(c.UserContext())
	v := pages.UserListView{
		Filter: req.Filter, Limit: req.Limit,
		CanCreate: current.Member(c).Role.CanManageUsers(), Access: access,
		Clock:     models.HealthClock{Now: models.Now()},
		CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
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
		q := userListQuery(req)
		v.Page, v.NextURL, v.PrevURL = page, pageURL("/users", q, page.Next), pageURL("/users", q, page.Prev)
	}
	if current.IsHTMX(c) && c.Get("HX-Target") == "user-results" {
		return render.Fragment(c, status, pages.UserResults(v, true))
	}
	if v.Institutions, err = h.DB.Institutions(ctx); err != nil {
		return err
	}
	return render.Page(c, status, "End users", pages.UserList(v))
}

// userListQuery is the list's filter and page size as query values.
func userListQuery(req models.UserPageRequest) url.Values {
	q := url.Values{}
	setUnlessDefault(q, "q", req.Filter.Search, "")
	setUnlessDefault(q, "status", req.Filter.Status, models.StatusActive)
	setUnlessDefault(q, "health", req.Filter.Health, "")
	setUnlessDefault(q, "institution", req.Filter.Institution, "")
	setUnlessDefault(q, "error_code", req.Filter.ErrorCode, "")
	setUnlessDefault(q, "created_from", req.Filter.CreatedFrom, "")
	setUnlessDefault(q, "limit", strconv.Itoa(req.Limit), strconv.Itoa(models.PageSizes[0]))
	return q
}
