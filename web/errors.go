package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/current"
	"ledgerdesk/handlers/render"
	"ledgerdesk/models"
	"ledgerdesk/views/layout"
	"ledgerdesk/views/pages"
)

// errorHandler is the app's one ErrorHandler: every error a handler or
// middleware returns becomes a page, or an alert in the flash area for
// htmx, with a status that says what happened. Internal details go to the
// log with the request id; the page shows only the id. On the JSON API's
// paths the error is JSON in the seed's shape instead.
func errorHandler(log *slog.Logger, api apiRoutes, routes routeNames) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		if style := api.styleOf(c.Path()); style != notAPI {
			return api.writeError(c, style, err, log, routes.of(c))
		}
		info := classify(err)
		info.RequestID = current.RequestID(c)
		info.SignedIn = current.Member(c) != nil
		switch {
		case info.Status >= 500:
			log.Error("request failed", "request_id", info.RequestID, "route", routes.of(c),
				"status", info.Status, "error", err.Error())
		case info.Status == fiber.StatusForbidden:
			log.Warn("request refused", "request_id", info.RequestID, "route", routes.of(c), "error", err.Error())
		}
		if info.Status == fiber.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "5")
		}
		if models.ErrorKind(err) == models.KindBusy && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, "2")
		}
		if errors.Is(err, models.ErrBadCursor) {
			info.FirstPage = firstPage(c)
		}
		if current.IsHTMX(c) {
			// Show the problem where messages appear instead of swapping an
			// error page into whatever the request targeted.
			c.Set("HX-Retarget", "#flash")
			c.Set("HX-Reswap", "innerHTML")
			return render.Fragment(c, info.Status, layout.Alert(info.Title, info.Message, info.RequestID))
		}
		return render.Page(c, info.Status, info.Title, pages.Error(info))
	}
}

func classify(err error) pages.ErrorInfo {
	var ferr *fiber.Error
	var merr *models.Error
	var cerr *csrfError
	var oerr *crossOriginError
	var lerr *rateLimitedError
	switch {
	case errors.As(err, &lerr):
		return pages.ErrorInfo{Status: http.StatusTooManyRequests, Title: "Too many attempts",
			Message: "Too many sign-in, code or password attempts came from your address. Wait " + lerr.retryAfter +
				" seconds, then try again; nothing was checked or changed."}
	case errors.As(err, &oerr):
		return pages.ErrorInfo{Status: http.StatusForbidden, Title: "Cross-site request refused",
			Message: "Your browser says this form was sent from another site, so Ledgerdesk refused it; nothing was changed. Open Ledgerdesk directly and try again."}
	case errors.As(err, &cerr):
		return pages.ErrorInfo{Status: http.StatusForbidden, Title: "Form expired",
			Message: "This form could not be verified as sent from Ledgerdesk (it may have expired). Reload the page and try again; nothing was changed."}
	case models.IsUnavailable(err):
		return pages.ErrorInfo{Status: http.StatusServiceUnavailable, Title: "Database unavailable",
			Message: "Ledgerdesk cannot reach its database right now. It reconnects by itself; try again in a moment. Nothing was changed."}
	case errors.As(err, &merr):
		return pages.ErrorInfo{Status: statusOf(merr.Kind), Title: titleOf(statusOf(merr.Kind)), Message: merr.Message}
	case errors.As(err, &ferr):
		return pages.ErrorInfo{Status: ferr.Code, Title: titleOf(ferr.Code), Message: messageOf(ferr)}
	}
	return pages.ErrorInfo{Status: http.StatusInternalServerError, Title: titleOf(500),
		Message: "Something went wrong on our side. The problem was logged; nothing you typed was saved."}
}

func statusOf(k models.Kind) int {
	switch k {
	case models.KindInvalid:
		return http.StatusUnprocessableEntity
	case models.KindNotFound:
		return http.StatusNotFound
	case models.KindConflict:
		return http.StatusConflict
	case models.KindForbidden:
		return http.StatusForbidden
	case models.KindUnauthorized:
		return http.StatusUnauthorized
	case models.KindThrottled, models.KindBusy:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func titleOf(status int) string {
	switch status {
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusUnprocessableEntity:
		return "Check your input"
	case http.StatusInternalServerError:
		return "Something went wrong"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

func messageOf(e *fiber.Error) string {
	switch e.Code {
	case http.StatusForbidden:
		return "Your role does not give access to this page or action."
	case http.StatusNotFound:
		return "There is nothing at this address."
	case http.StatusRequestEntityTooLarge:
		return "The request is larger than Ledgerdesk accepts (1 MiB)."
	case http.StatusRequestHeaderFieldsTooLarge:
		return "The request's headers are larger than Ledgerdesk accepts (16 KiB). Clearing this site's cookies usually helps."
	}
	if e.Code >= 500 {
		return "Something went wrong on our side. The problem was logged."
	}
	return e.Message
}

// firstPage is the request's list without its cursor: the same filter,
// from the top.
func firstPage(c *fiber.Ctx) string {
	path := c.Path()
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return "" // never a link to another host
	}
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if string(k) != "cursor" {
			q.Add(string(k), string(v))
		}
	})
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
