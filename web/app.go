package web

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/web/session"
)

// Setup builds the Fiber app that `ledgerdesk serve` runs and tests drive
// with app.Test.
func Setup(cfg Config, db *models.DB) (*fiber.App, error) {
	return setup(cfg, db, routes)
}

// setup is Setup over a given route table, so tests can check how the
// assembly treats a table that is not the portal's own.
func setup(cfg Config, db *models.DB, routes func(*handlers.Handler) []Route) (*fiber.App, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("web: the session key must be at least 32 bytes")
	}
	addresses, err := newClientAddress(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	limits := models.SessionLimits{Idle: cfg.IdleTimeout, Absolute: cfg.AbsoluteTimeout}
	sessions := &session.Manager{Store: session.NewStore(db, cfg.SessionKey, cfg.SecureCookies, limits)}
	h := &handlers.Handler{DB: db, Sessions: sessions, Logger: cfg.Logger, Webhooks: cfg.WebhookGuard, Mailer: cfg.Mailer, PublicURL: cfg.PublicURL,
		SSO: cfg.SSO, SecureCookies: cfg.SecureCookies, SkipDataAccessLog: cfg.SkipDataAccessLog}
	if rp, err := models.NewRelyingParty(cfg.PublicURL); err == nil {
		h.Passkeys = rp
	} else {
		h.PasskeysOff = err.Error()
	}
	csrf, err := newCSRFGuard(cfg, sessions)
	if err != nil {
		return nil, err
	}
	table := routes(h)
	api := newAPIRoutes(table)
	names := newRouteNames(table)

	app := fiber.New(fiber.Config{
		AppName:               "Ledgerdesk",
		ErrorHandler:          errorHandler(cfg.Logger, api, names),
		DisableStartupMessage: true,
		BodyLimit:             1 << 20,
		// Bound how long a connection may sit without sending a request
		// (slow clients, a browser's speculative sockets): such sockets
		// would otherwise hold a graceful shutdown open forever.
		ReadTimeout:    15 * time.Second,
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    60 * time.Second,
		ReadBufferSize: 16 << 10,
		// Fiber believes X-Forwarded-Proto and X-Forwarded-Host only from
		// these; the client's address is clientAddress's to decide, so
		// c.IP() stays the connection's peer.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
	})

	answerServerErrors(app, api)
	navs := navByRole(table)
	for _, r := range table {
		if !r.Access.Declared() {
			return nil, fmt.Errorf("web: route %s %s declares no access", r.Method, r.Path)
		}
		if r.Nav != "" && !slices.Contains(navOrder, r.Path) {
			return nil, fmt.Errorf("web: route %s %s is in the navigation but not in navOrder", r.Method, r.Path)
		}
	}

	app.Use(addresses.handler, requestID)
	if cfg.Tracing != nil {
		app.Use(traceRequests(cfg.Tracing, names, addresses.isTrusted))
	}
	if cfg.Metrics != nil {
		app.Use(countRequests(cfg.Metrics, names))
	}
	app.Use(
		// Outside accessLog, which turns errors into their pages: those
		// are compressed too.
		compressResponses(),
		accessLog(cfg.Logger, names),
		recoverPanics(cfg.Logger, names),
		securityHeaders(cfg.SecureCookies),
		requestTimeout(cfg.RequestTimeout),
	)
	// The JSON API comes before the session and CSRF middleware: Fiber
	// runs handlers in the order they were added, so these routes (and
	// the API's own 404/405) answer without a session being loaded or a
	// CSRF token asked for. They authenticate with API keys alone, which
	// a browser never sends by itself, so there is nothing to forge.
	var perCaller fiber.Handler
	if cfg.APIRequestsPerMinute > 0 {
		perCaller = apiLimit(cfg.APIRequestsPerMinute, api, cfg.Metrics)
	}
	for _, r := range table {
		if r.Access.IsAPI() {
			chain := []fiber.Handler{authorize(db, r.Access)}
			if perCaller != nil {
				chain = append(chain, perCaller)
			}
			app.Add(r.Method, r.Path, append(chain, r.Handler)...)
		}
	}
	app.Use(api.fallback)

	app.Use(
		loadSession(sessions, navs),
		navCounts(),
		csrf.handler,
	)
	credentials := credentialLimit(cfg.CredentialAttemptsPerMinute, cfg.Metrics)
	for _, r := range table {
		if r.Access.IsAPI() {
			continue
		}
		chain := []fiber.Handler{authorize(db, r.Access), r.Handler}
		if r.ChecksCredentials {
			chain = append([]fiber.Handler{credentials}, chain...)
		}
		app.Add(r.Method, r.Path, chain...)
		if r.Method == fiber.MethodGet {
			// Uptime checks and link checkers ask with HEAD: the same
			// answer, without its body (fasthttp drops it).
			app.Add(fiber.MethodHead, r.Path, chain...)
		}
	}
	return app, nil
}

// navByRole builds each role's navigation once, from the route table, in
// navOrder.
func navByRole(table []Route) map[models.Role][]current.NavItem {
	out := map[models.Role][]current.NavItem{}
	for _, role := range models.Roles {
		for _, r := range table {
			if r.Nav != "" && r.Method == fiber.MethodGet && r.Access.Allows(role) {
				out[role] = append(out[role], current.NavItem{Label: r.Nav, Path: r.Path})
			}
		}
		slices.SortStableFunc(out[role], func(a, b current.NavItem) int {
			return slices.Index(navOrder, a.Path) - slices.Index(navOrder, b.Path)
		})
	}
	return out
}

// authorize enforces a route's access on the server, for pages, partials,
// form posts and the JSON API alike.
func authorize(db *models.DB, a Access) fiber.Handler {
	if a.IsAPI() {
		return authorizeAPI(db, a)
	}
	return func(c *fiber.Ctx) error {
		if a.IsPublic() {
			return c.Next()
		}
		m := current.Member(c)
		if m == nil {
			return signInRequired(c)
		}
		if stage := current.SessionRow(c).MFAStage; !a.AllowsStage(stage) {
			return continueSignIn(c, stage)
		}
		if !a.Allows(m.Role) {
			return fiber.ErrForbidden
		}
		return c.Next()
	}
}

// signInRequired sends an anonymous visitor to the login page: a redirect
// for a browser, 401 with HX-Redirect for htmx.
func signInRequired(c *fiber.Ctx) error {
	return sendTo(c, "/login")
}

// continueSignIn sends a session to the step its sign-in is at: the code,
// or the authenticator setup an admin owes. Until then it reaches nothing
// else. A completed sign-in that asks for the code step goes home.
func continueSignIn(c *fiber.Ctx, stage models.SignInStage) error {
	switch stage {
	case models.AwaitingSecondFactor:
		return sendTo(c, "/login/mfa")
	case models.AwaitingEnrolment:
		return sendTo(c, "/account/mfa")
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}

// sendTo answers a request that may not go on with a redirect to target,
// remembering the page asked for; htmx gets 401 and HX-Redirect.
func sendTo(c *fiber.Ctx, target string) error {
	if c.Method() == fiber.MethodGet && c.Path() != "/" {
		target += "?next=" + url.QueryEscape(c.OriginalURL())
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}
