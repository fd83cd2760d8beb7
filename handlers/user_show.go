package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/errgroup"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// UserShow is a user's detail page (GET /users/:id): ids, the identity
// as the field policy shows it to the member, items with health, and
// history.
func (h *Handler) UserShow(c *fiber.Ctx) error {
	id, err := endUserID(c)
	if err != nil {
		return err
	}
	// Read before the reads below run side by side: they may not touch c.
	access, err := h.fieldAccess(c)
	if err != nil {
		return err
	}
	// The user, their items and their history are independent reads of
	// one id: side by side, the page waits for the slowest only. For an
	// unknown id the other two find nothing and are dropped.
	var u *models.EndUser
	var items []models.Item
	var history []pages.HistoryEntry
	g, ctx := errgroup.WithContext(models.ReplicaReads(c.UserContext()))
	g.Go(func() (err error) {
		u, err = h.DB.EndUserByID(ctx, id)
		return err
	})
	g.Go(func() (err error) {
		items, err = h.DB.ItemsOfUser(ctx, id)
		return err
	})
	g.Go(func() (err error) {
		history, err = h.history(ctx, access, models.EndUserTarget(id))
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	v, err := h.userView(c, u, items, history)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "User "+strconv.FormatInt(u.ID, 10), pages.UserShow(*v))
}

// userView is the detail page's view of a user, their items and history.
func (h *Handler) userView(c *fiber.Ctx, u *models.EndUser, items []models.Item, history []pages.HistoryEntry) (*pages.UserShowView, error) {
	ident, err := h.DB.Identity(u)
	if err != nil {
		return nil, err
	}
	access, err := h.fieldAccess(c)
	if err != nil {
		return nil, err
	}
	v := &pages.UserShowView{
		User: u, Identity: access.Identity(ident), Items: items, History: history,
		Clock:     models.HealthClock{Now: models.Now()},
		CanEdit:   current.Member(c).Role.CanManageUsers(),
		CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
	}
	if v.CanEdit {
		if v.ApprovalsRequired, err = h.approvalsRequired(c.UserContext()); err != nil {
			return nil, err
		}
		if v.Approvals, err = h.targetApprovals(c, u.AuditTarget()); err != nil {
			return nil, err
		}
	}
	return v, nil
}
