package web

import (
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// answerServerErrors takes over the errors the HTTP server meets before a
// request is routed (headers too large, a malformed Content-Length or
// chunked body, a body over the limit, a read that timed out), so they get
// the app's own error answers: JSON in the right seed's shape on the API's
// paths, an error page elsewhere, never fasthttp's text or the parser's
// echo of the request.
func answerServerErrors(app *fiber.App, api apiRoutes) {
	srv := app.Server()
	// An error in the body (broken chunking, too large) comes after the
	// request's headers were parsed but without them: note, per request,
	// whether the path was the API's, by a path of the same API.
	var apiPathOf sync.Map // *fasthttp.RequestHeader → string
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if same := api.samePathSpace(h.RequestURI()); same != "" {
			apiPathOf.Store(h, same)
		} else {
			apiPathOf.Delete(h)
		}
		return fasthttp.RequestConfig{}
	}
	srv.ErrorHandler = func(fctx *fasthttp.RequestCtx, err error) {
		noted, _ := apiPathOf.LoadAndDelete(&fctx.Request.Header)
		if len(fctx.Request.Header.RequestURI()) <= 1 {
			if line := requestLineIn(err); line != nil {
				// Headers refused as too large or malformed are not kept;
				// the parser's message still quotes the request line.
				fctx.Request.Header.SetMethod(line[1])
				fctx.Request.SetRequestURI(line[2])
			} else if path, ok := noted.(string); ok {
				fctx.Request.SetRequestURI(path)
			}
		}
		c := app.AcquireCtx(fctx)
		defer app.ReleaseCtx(c)
		if herr := app.ErrorHandler(c, serverError(err)); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
}

// serverError is the HTTP error a server-level failure stands for.
func serverError(err error) *fiber.Error {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		return fiber.ErrRequestHeaderFieldsTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fiber.ErrRequestEntityTooLarge
	case errors.As(err, &netErr) && netErr.Timeout(), strings.Contains(err.Error(), "timeout"):
		return fiber.ErrRequestTimeout
	}
	return fiber.NewError(fiber.StatusBadRequest, malformedRequest)
}

const malformedRequest = "The request could not be read: its headers, its length or its chunked body are malformed."

// requestLine finds the request line in the snippet of the request that
// the header parser quotes in its error.
var requestLine = regexp.MustCompile(`contents: "([A-Z]{3,7}) (/[^ "\\]*) HTTP/1\.[01]\\r\\n`)

func requestLineIn(err error) []string {
	return requestLine.FindStringSubmatch(err.Error())
}
