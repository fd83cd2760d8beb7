package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/errgroup"

	"ledgerdesk/models"
	"ledgerdesk/views/pages"
	"ledgerdesk/web/current"
	"ledgerdesk/web/render"
)

// historyLimit is how many audit entries a record's page lists.
const historyLimit = 50

// endUserParam loads the user named by the :id route parameter.
func (h *Handler) endUserParam(c *fiber.Ctx) (*models.EndUser, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, fiber.ErrNotFound
	}
	return h.DB.EndUserByID(c.UserContext(), id)
}

// UserShow is a user's detail page (GET /users/:id): ids, the identity
// with SSN and date of birth masked, items with health, and history.
func (h *Handler) UserShow(c *fiber.Ctx) error {
	u, err := h.endUserParam(c)
	if err != nil {
		return err
	}
	v, err := h.userShowView(c, u)
	if err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "User "+strconv.FormatInt(u.ID, 10), pages.UserShow(*v))
}

func (h *Handler) userShowView(c *fiber.Ctx, u *models.EndUser) (*pages.UserShowView, error) {
	ctx := c.UserContext()
	ident, err := h.DB.Identity(u)
	if err != nil {
		return nil, err
	}
	// Items and history are independent reads: side by side, the page
	// waits for the slower one only.
	var items []models.Item
	var history []pages.HistoryEntry
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		items, err = h.DB.ItemsOfUser(gctx, u.ID)
		return err
	})
	g.Go(func() (err error) {
		history, err = h.history(gctx, u.AuditTarget())
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	role := current.Member(c).Role
	return &pages.UserShowView{
		User: u, Identity: maskIdentity(ident), Items: items, History: history,
		Clock:   models.HealthClock{Now: models.Now()},
		CanEdit: role.CanManageUsers(), CanReveal: role.CanRevealPII(),
		CSRFToken: current.CSRFToken(c),
	}, nil
}

// history lists the audit entries about a record, naming the members and
// API keys who acted.
func (h *Handler) history(ctx context.Context, t models.Target) ([]pages.HistoryEntry, error) {
	return h.auditHistory(ctx, models.FilterForTarget(t))
}
