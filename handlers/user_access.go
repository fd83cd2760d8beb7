package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserAccess is a page of who accessed a user's personal data within
// models.AccessWindow (GET /users/:id/access): the user page's "Data
// access" section, paged. It shows member names, times and field names,
// never the user's data, so it records no access of its own.
func (h *Handler) UserAccess(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	access := h.fieldAccess(c)
	v, err := h.dataAccess(c.UserContext(), access, u.ID, utils.CopyString(c.Query("cursor")), current.Location(c))
	if err != nil {
		return err
	}
	if current.IsHTMX(c) {
		return render.Fragment(c, http.StatusOK, pages.UserDataAccess(v, false))
	}
	return render.Page(c, http.StatusOK, "Data access of user "+strconv.FormatInt(u.ID, 10), pages.UserDataAccessPage(v))
}

// accessPageSize is how many access entries a page of the section lists.
var accessPageSize = models.PageSizes[0]

// dataAccess is one page of the access entries about user id, as the
// member's field access may see them.
func (h *Handler) dataAccess(ctx context.Context, access models.FieldAccess, id int64, cursor string, zone *time.Location) (pages.DataAccessView, error) {
	now := models.Now()
	page, err := h.DB.DataAccessPage(ctx, id, now, cursor, accessPageSize)
	if err != nil {
		return pages.DataAccessView{}, err
	}
	rows, err := h.auditRows(ctx, access, page.Entries)
	if err != nil {
		return pages.DataAccessView{}, err
	}
	v := pages.DataAccessView{UserID: id, Zone: zone,
		AuditURL: "/audit?" + models.DataAccessFilter(id, now).Values().Encode()}
	for _, r := range rows {
		v.Rows = append(v.Rows, pages.HistoryEntry(r))
	}
	base := "/users/" + strconv.FormatInt(id, 10) + "/access"
	v.NextURL, v.PrevURL = pageURL(base, url.Values{}, page.Next), pageURL(base, url.Values{}, page.Prev)
	return v, nil
}
