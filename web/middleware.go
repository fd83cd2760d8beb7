package web

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gorilla/sessions"

	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/models/querytrace"
	"ledgerdesk/web/session"
)

// recoverPanics turns a panic into a 500 page instead of a dropped
// connection, and logs the stack with the request id.
func recoverPanics(log *slog.Logger, routes routeNames) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "request_id", current.RequestID(c), "route", routes.of(c),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// requestID gives every request a fresh id. An id sent by the client is
// not reused: it ends up in audit entries, so the portal picks it. The
// request's context carries it too, for the slow-query log.
func requestID(c *fiber.Ctx) error {
	id := models.RandomHex(8)
	current.SetRequestID(c, id)
	c.SetUserContext(querytrace.WithRequestID(c.UserContext(), id))
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

// accessLog writes one line per request. It logs the route pattern, never
// the path or query string, which may carry ids or personal data.
func accessLog(log *slog.Logger, routes routeNames) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		nextAnswered(c)
		memberID, apiKeyID := "", ""
		if m := current.Member(c); m != nil {
			memberID = m.ID
		}
		if a := current.APICaller(c); a != nil && a.Key != nil {
			apiKeyID = a.Key.ClientID
		}
		log.Info("request",
			"method", c.Method(),
			"route", routes.of(c),
			"status", c.Response().StatusCode(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"request_id", current.RequestID(c),
			"member_id", memberID,
			"api_client_id", apiKeyID,
		)
		return nil
	}
}

// nextAnswered runs the rest of the chain and, when it fails, lets the
// error handler write the answer, so that the status read afterwards is
// the one the client gets.
func nextAnswered(c *fiber.Ctx) {
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
}

// contentSecurityPolicy allows only the portal's own files: no inline
// script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

func securityHeaders(secure bool) fiber.Handler {
	cfg := helmet.Config{
		ContentSecurityPolicy:     contentSecurityPolicy,
		ContentTypeNosniff:        "nosniff",
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "same-origin",
		CrossOriginOpenerPolicy:   "same-origin",
		CrossOriginResourcePolicy: "same-origin",
		CrossOriginEmbedderPolicy: "require-corp",
		PermissionPolicy:          "camera=(), microphone=(), geolocation=(), payment=()",
		XSSProtection:             "0",
	}
	h := helmet.New(cfg)
	if !secure {
		return h
	}
	return func(c *fiber.Ctx) error {
		// Behind a TLS proxy, Fiber may see http; --secure-cookies says
		// the portal is reached over TLS all the same.
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
		return h(c)
	}
}

// requestTimeout bounds a request's database work.
func requestTimeout(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		parent := c.UserContext()
		ctx, cancel := context.WithTimeout(parent, d)
		defer func() {
			cancel()
			// The error handler renders after this returns: give it a
			// context that is still live, or every error page fails.
			c.SetUserContext(parent)
		}()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// loadSession finds the signed-in member, if any, records activity and
// saves the session's values (flash messages) after the handler ran.
func loadSession(m *session.Manager, navs map[models.Role][]current.NavItem) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if isAsset(c) {
			return c.Next()
		}
		loaded, err := m.Load(c)
		if err != nil {
			return err
		}
		current.SetSignedIn(c, loaded.Session, loaded.Row)
		var reads *models.Reads
		if loaded.Row != nil {
			var ctx context.Context
			ctx, reads = models.WithReads(c.UserContext(), readAfter(loaded.Session))
			c.SetUserContext(ctx)
			if loaded.Row.Session.MFAStage == models.SignedIn {
				current.SetNav(c, navs[loaded.Row.Member.Role])
			}
			if err := m.Store.Touch(c.UserContext(), &loaded.Row.Session); err != nil {
				return err
			}
		}
		err = c.Next()
		if reads != nil && reads.Moved() {
			keepReadAfter(c, reads.After())
		}
		if loaded.Row != nil && current.SessionDirty(c) && current.SessionRow(c) != nil {
			if serr := m.Save(c, loaded.Session); serr != nil && err == nil {
				err = serr
			}
		}
		return err
	}
}

func isAsset(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/healthz" || p == "/readyz" || len(p) > 8 && p[:8] == "/static/"
}

// readAfterValue is the session value holding where the member's last
// change ended in the primary's write-ahead log: their pages read from a
// replica only once it has replayed that far (read-your-writes).
const readAfterValue = "read_after"

func readAfter(s *sessions.Session) models.LSN {
	v, _ := s.Values[readAfterValue].(string)
	lsn, err := models.ParseLSN(v)
	if err != nil {
		return 0
	}
	return lsn
}

// keepReadAfter stores the position a change in this request moved the
// member's reads to, in the session that request still has.
func keepReadAfter(c *fiber.Ctx, lsn models.LSN) {
	if s := current.Session(c); s != nil && current.SessionRow(c) != nil {
		s.Values[readAfterValue] = lsn.String()
		current.SessionChanged(c)
	}
}
