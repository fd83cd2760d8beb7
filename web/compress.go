package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// compressResponses compresses pages, partials, JSON and exports with
// brotli or gzip, as the client accepts, through the fasthttp compressors
// Fiber's compress middleware runs, at their fastest level. The default
// levels cost three times the CPU for a page a fifth smaller: at level 6
// gzip took most of a users page's time (0.8 of 1.5 ms at ten million
// users), and the default brotli level compresses an export's CSV slower
// than the database produces it. Exports are still sent as written.
// Static files come compressed from serveStatic. Pages are safe to
// compress beside what they echo because their CSRF token is masked anew
// on each (csrf.go).
func compressResponses() fiber.Handler {
	leave := func(*fasthttp.RequestCtx) {}
	compress := fasthttp.CompressHandlerBrotliLevel(leave,
		fasthttp.CompressBrotliBestSpeed, fasthttp.CompressBestSpeed)
	return func(c *fiber.Ctx) error {
		if isAsset(c) {
			return c.Next()
		}
		if err := c.Next(); err != nil {
			return err
		}
		// Said whether or not this answer was compressed, so a cache
		// never gives one client's encoding to another.
		c.Vary(fiber.HeaderAcceptEncoding)
		compress(c.Context())
		return nil
	}
}
