package handlers

import (
	"context"
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
	access := h.fieldAccess(c)
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
		if err := h.recordSearch(ctx, c, req.Filter.Search, page, v); err != nil {
			return err
		}
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

// recordSearch writes the pii.search entry of a search by an email or a
// phone number that shows rows: the users shown, the kind of term and the
// fields the rows show, never the term, which is itself personal data
// and would stay in the append-only log after the person is erased. A
// search by name or id and a plain list record nothing.
func (h *Handler) recordSearch(ctx context.Context, c *fiber.Ctx, term string, page *models.UserPage, v pages.UserListView) error {
	kind := models.PersonalSearch(term)
	if kind == "" || len(page.Users) == 0 || h.SkipDataAccessLog {
		return nil
	}
	ids := make([]int64, len(page.Users))
	for i, u := range page.Users {
		ids[i] = u.ID
	}
	return h.DB.RecordDataAccess(ctx, current.Origin(c), models.DataAccess{Action: models.ActionPIISearch,
		Users: ids, Fields: v.AccessFields(), Searched: kind})
}
