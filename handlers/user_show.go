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
// as the field policy shows it to the member, items with health, history,
// and who accessed the user's data. Every view is recorded (pii.view),
// with the fields it showed, before the page is sent.
func (h *Handler) UserShow(c *fiber.Ctx) error {
	id, err := endUserID(c)
	if err != nil {
		return err
	}
	// Read before the reads below run side by side: they may not touch c.
	access, origin, me := h.fieldAccess(c), current.Origin(c), current.Member(c)
	v := &pages.UserShowView{
		Clock:     models.HealthClock{Now: models.Now()},
		CanEdit:   me.Role.CanManageUsers(),
		CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
	}
	// The user, their items, their history and the approvals asked about
	// them are independent reads of one id: side by side, the page waits
	// for the slowest only. The access entry needs only the user, so it
	// commits while the other reads run; the data access list is read
	// after it, on the primary, so it shows this view too. For an unknown
	// id the other reads find nothing and are dropped.
	g, ctx := errgroup.WithContext(c.UserContext())
	reads := models.ReplicaReads(ctx)
	g.Go(func() error {
		u, err := h.DB.EndUserByID(reads, id)
		if err != nil {
			return err
		}
		ident, err := h.DB.Identity(u)
		if err != nil {
			return err
		}
		v.User, v.Identity = u, access.Identity(ident)
		if !h.SkipDataAccessLog {
			err = h.DB.RecordDataAccess(ctx, origin, models.DataAccess{Action: models.ActionPIIView,
				Users: []int64{u.ID}, Fields: v.Identity.AccessFields()})
			if err != nil {
				return err
			}
		}
		v.Access, err = h.dataAccess(ctx, access, id, "", v.Zone)
		return err
	})
	g.Go(func() (err error) {
		v.Items, err = h.DB.ItemsOfUser(reads, id)
		return err
	})
	g.Go(func() (err error) {
		v.History, err = h.history(reads, access, models.EndUserTarget(id))
		return err
	})
	if v.CanEdit {
		// On the primary: a request just made shows at once.
		g.Go(func() (err error) {
			if v.ApprovalsRequired, err = h.approvalsRequired(ctx); err != nil {
				return err
			}
			v.Approvals, err = h.targetApprovals(ctx, me, models.EndUserTarget(id))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return render.Page(c, http.StatusOK, "User "+strconv.FormatInt(v.User.ID, 10), pages.UserShow(*v))
}
