package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/metrics"
)

// countRequests counts every request by its route pattern, method and
// status, and times it. It runs first, so the time covers every other
// middleware, and it reads the status once the error handler has set it.
func countRequests(m *metrics.Metrics, routes routeNames) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		nextAnswered(c)
		status := c.Response().StatusCode()
		m.ObserveRequest(requestRoute(c, routes, status), c.Method(), status, time.Since(start))
		return nil
	}
}

// requestRoute is the route pattern that served c, as routeNames finds it,
// or "" for none. A 404 that Fiber answered itself matched no route, so it
// is not looked up in the route table: a flood of made-up paths costs a
// comparison each, not a walk of the table.
func requestRoute(c *fiber.Ctx, routes routeNames, status int) string {
	if r := c.Route(); r.Path != "/" || c.Path() == "/" {
		return r.Path
	}
	if status == fiber.StatusNotFound {
		return ""
	}
	return routes.of(c)
}
