package handlers

import (
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

// WebhookDeliveries lists an endpoint's deliveries, one row per event with
// its attempts beneath, newest first, a page at a time by cursor, in one
// state or all (GET /webhooks/:id/deliveries?state=failing).
func (h *Handler) WebhookDeliveries(c *fiber.Ctx) error {
	e, err := h.webhookParam(c)
	if err != nil {
		return err
	}
	state, err := deliveryStateQuery(c.Query("state"))
	if err != nil {
		return err
	}
	page, err := h.DB.WebhookDeliveries(c.UserContext(), models.DeliveryPageRequest{
		EndpointID: e.ID, State: state, Cursor: utils.CopyString(c.Query("cursor"))})
	if err != nil {
		return err
	}
	base := "/webhooks/" + strconv.FormatInt(e.ID, 10) + "/deliveries"
	filter := url.Values{}
	setUnlessDefault(filter, "state", string(state), "")
	v := pages.WebhookDeliveriesView{Endpoint: e, State: state, Page: page, Now: models.Now(), CSRFToken: current.CSRFToken(c),
		Zone: current.Location(c)}
	v.NextURL, v.PrevURL = pageURL(base, filter, page.Next), pageURL(base, filter, page.Prev)
	return render.Page(c, http.StatusOK, "Deliveries", pages.WebhookDeliveries(v))
}

// deliveryStateQuery reads the state filter: "" for every state, a 400
// for a state there is not (the value is not repeated back).
func deliveryStateQuery(s string) (models.DeliveryState, error) {
	if s == "" {
		return "", nil
	}
	state, ok := models.ParseDeliveryState(s)
	if !ok {
		return "", fiber.NewError(http.StatusBadRequest,
			"There is no such delivery state: choose pending, failing, delivered or given_up, or leave it out for every delivery.")
	}
	return state, nil
}
