package web

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/metrics"
)

// Default limits; Config overrides them.
const (
	defaultCredentialAttemptsPerMinute = 20
	defaultAPIRequestsPerMinute        = 1200
)

// credentialLimit refuses, with 429 and Retry-After, a client address that
// sent more than perMinute requests to the routes that check a password or
// a code, before any of it is checked. Counts are kept in this process's
// memory over a sliding minute; with several processes behind a balancer
// an address gets at most this many per process.
func credentialLimit(perMinute int, m *metrics.Metrics) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:               perMinute,
		Expiration:        time.Minute,
		LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator:      func(c *fiber.Ctx) string { return addressKey(current.ClientIP(c)) },
		LimitReached: func(c *fiber.Ctx) error {
			if m != nil {
				m.RateLimited(metrics.LimitCredentials)
			}
			return &rateLimitedError{retryAfter: string(c.Response().Header.Peek(fiber.HeaderRetryAfter))}
		},
	})
}

// apiLimit refuses, in the API's own error shape, a caller (an API key, or
// an end user with their own user_token) past perMinute requests, counted
// across both APIs.
func apiLimit(perMinute int, api apiRoutes, m *metrics.Metrics) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:               perMinute,
		Expiration:        time.Minute,
		LimiterMiddleware: limiter.SlidingWindow{},
		KeyGenerator:      apiCallerKey,
		LimitReached: func(c *fiber.Ctx) error {
			if m != nil {
				m.RateLimited(metrics.LimitAPI)
			}
			retry := string(c.Response().Header.Peek(fiber.HeaderRetryAfter))
			if api.styleOf(c.Path()) == powensAPI {
				return apijson.PowensRateLimited(perMinute, retry)
			}
			return apijson.RateLimited(perMinute, retry)
		},
	})
}

// apiCallerKey is whom the API limit counts: the key, else the end user.
func apiCallerKey(c *fiber.Ctx) string {
	a := current.APICaller(c)
	switch {
	case a == nil:
		return "address:" + addressKey(current.ClientIP(c))
	case a.Key != nil:
		return "key:" + a.Key.ClientID
	default:
		return "user:" + strconv.FormatInt(a.User.ID, 10)
	}
}

// addressKey is what a per-address limit counts: an IPv4 address, or the
// /64 an IPv6 address is in (one subscriber commonly holds a whole /64).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// rateLimitedError is a request refused by a per-address limit.
type rateLimitedError struct{ retryAfter string }

func (e *rateLimitedError) Error() string {
	return "rate limited: retry after " + e.retryAfter + " s"
}
