package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/pages"
)

// formArgs are a request's query or form values.
type formArgs interface {
	Peek(key string) []byte
	PeekMulti(key string) [][]byte
}

// userFilterOf reads the users list's filter from query or form values;
// its search looks inside personal fields as the member's field access
// allows (models.SearchScope).
func userFilterOf(a formArgs, access models.FieldAccess) models.UserFilter {
	return models.UserFilter{Search: string(a.Peek("q")), Status: string(a.Peek("status")),
		Health: string(a.Peek("health")), Institution: string(a.Peek("institution")),
		ErrorCode: string(a.Peek("error_code")), CreatedFrom: string(a.Peek("created_from")),
		Scope: access.SearchScope()}
}

// userSelectionOf reads what a batch form selects: scope "filter" takes
// every user the filter selects; any other scope, the ticked ids.
//
// A batch job keeps its filter without the scope and runs it as the
// plain search: jobs are for admins, whose field policy keeps every
// searched field visible (models.Allowed), so that is the same search.
func userSelectionOf(a formArgs, access models.FieldAccess) (models.UserSelection, error) {
	sel := models.UserSelection{ByFilter: string(a.Peek("scope")) == "filter", Filter: userFilterOf(a, access)}
	if sel.ByFilter {
		return sel, nil
	}
	raw := a.PeekMulti("ids")
	ids := make([]string, len(raw))
	for i, b := range raw {
		ids[i] = string(b)
	}
	var err error
	sel.IDs, err = models.ParseSelectedIDs(ids)
	return sel, err
}

// listURLOf is the users list a batch form came from, to go back to.
func listURLOf(sel models.UserSelection) string {
	q := sel.Filter.Values()
	if len(q) == 0 {
		return "/users"
	}
	return "/users?" + q.Encode()
}

// userBatchView is the confirmation page of an action over the selection
// the request names, with a fresh count; a refused selection gives the
// page with its messages and 422.
func (h *Handler) userBatchView(c *fiber.Ctx, action string, a formArgs) (pages.UserBatchView, int, error) {
	access := h.fieldAccess(c)
	v := pages.UserBatchView{Action: action, CSRFToken: current.CSRFToken(c), Zone: current.Location(c),
		Clock: models.HealthClock{Now: models.Now()}, Access: access}
	sel, err := userSelectionOf(a, access)
	v.Selection, v.BackURL = sel, listURLOf(sel)
	if err == nil {
		preview := h.DB.PreviewBatch
		if action == pages.BatchExport {
			preview = h.DB.PreviewExport
		}
		var release func()
		if release, err = h.counts.enter(c, countsBusy); err != nil {
			return v, 0, err
		}
		v.Preview, err = preview(c.UserContext(), sel)
		release()
	}
	var merr *models.Error
	switch {
	case errors.As(err, &merr) && len(merr.Fields) > 0:
		v.Errors = merr.Fields
		return v, http.StatusUnprocessableEntity, nil
	case err != nil:
		return v, 0, err
	}
	v.Selection = v.Preview.Selection
	return v, http.StatusOK, nil
}

func (h *Handler) userBatchConfirm(c *fiber.Ctx, action string) error {
	v, status, err := h.userBatchView(c, action, c.Context().QueryArgs())
	if err != nil {
		return err
	}
	return render.Page(c, status, v.Title(), pages.UserBatchPage(v))
}

// userBatchStart starts a batch job from its confirmation form, or shows
// the form again, with a fresh count, saying why it was refused.
func (h *Handler) userBatchStart(c *fiber.Ctx, action string) error {
	a := c.Context().PostArgs()
	access := h.fieldAccess(c)
	sel, err := userSelectionOf(a, access)
	var job *models.BatchJob
	if err == nil {
		expect, _ := strconv.ParseInt(string(a.Peek("expect")), 10, 64)
		job, err = h.DB.StartBatch(c.UserContext(), current.Origin(c), models.BatchRequest{Action: action,
			Selection: sel, Expect: expect, Confirm: string(a.Peek("confirm"))})
	}
	var merr *models.Error
	if !errors.As(err, &merr) || merr.Kind == models.KindInternal {
		if err != nil {
			return err
		}
		current.AddFlash(c, "Batch job "+strconv.FormatInt(job.ID, 10)+" started: "+pages.JobSummary(job)+".")
		return redirect(c, "/batches/"+strconv.FormatInt(job.ID, 10))
	}
	v, status, verr := h.userBatchView(c, action, a)
	if verr != nil {
		return verr
	}
	if status == http.StatusOK {
		// The selection still reads: what was refused is the count.
		v.Confirm = string(a.Peek("confirm"))
		if merr.Fields["confirm"] != "" {
			v.Errors, status = merr.Fields, http.StatusUnprocessableEntity
		} else {
			v.Problem, status = merr.Message, http.StatusConflict
		}
	}
	stayOn(c, confirmURL(action, a))
	return render.Page(c, status, v.Title(), pages.UserBatchPage(v))
}

// confirmURL is the address of a batch's confirmation page, for the
// address bar when its form is refused.
func confirmURL(action string, a formArgs) string {
	q := url.Values{}
	for _, k := range []string{"scope", "q", "status", "health", "institution", "error_code", "created_from"} {
		if v := string(a.Peek(k)); v != "" {
			q.Set(k, v)
		}
	}
	for _, id := range a.PeekMulti("ids") {
		q.Add("ids", string(id))
	}
	path := "/users/batch/remove"
	if action == models.BatchResetLogin {
		path = "/users/batch/reset-login"
	}
	return path + "?" + q.Encode()
}
