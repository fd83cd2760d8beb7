package web

import (
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/models"
)

// Access is who may use a route. Its zero value is invalid, so a route
// declared without one is refused when the app is built.
type Access struct {
	name   string
	public bool
	roles  map[models.Role]bool
}

func roles(name string, rs ...models.Role) Access {
	a := Access{name: name, roles: map[models.Role]bool{}}
	for _, r := range rs {
		a.roles[r] = true
	}
	return a
}

var (
	// Public routes need no sign-in.
	Public = Access{name: "public", public: true}
	// Members are every signed-in role.
	Members = roles("members", models.RoleAdmin, models.RoleCompliance, models.RoleAuditor)
	// Reviewers may reveal personal data: admins and compliance reviewers.
	Reviewers = roles("reviewers", models.RoleAdmin, models.RoleCompliance)
	// Admins manage end users, the team, API keys and webhooks.
	Admins = roles("admins", models.RoleAdmin)
)

// IsPublic reports whether anonymous visitors may use the route.
func (a Access) IsPublic() bool { return a.public }

// Allows reports whether a member with role r may use the route.
func (a Access) Allows(r models.Role) bool { return a.public || a.roles[r] }

// Declared reports whether the access was set at all.
func (a Access) Declared() bool { return a.public || len(a.roles) > 0 }

func (a Access) String() string { return a.name }

// Route is one line of the route table.
type Route struct {
	Method  string
	Path    string
	Access  Access
	Handler fiber.Handler
	// Nav, when set, puts the route in the navigation under this label for
	// the roles it allows.
	Nav string
}

// routes is the whole route table: every page, partial and form post, with
// who may use it. Authorization is reviewed here.
func routes(h *handlers.Handler) []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Access: Public, Handler: h.Healthz},
		{Method: "GET", Path: "/readyz", Access: Public, Handler: h.Readyz},
		{Method: "GET", Path: "/static/*", Access: Public, Handler: serveStatic},

		{Method: "GET", Path: "/login", Access: Public, Handler: h.LoginShow},
		{Method: "POST", Path: "/login", Access: Public, Handler: h.LoginSubmit},
		{Method: "POST", Path: "/logout", Access: Members, Handler: h.Logout},

		{Method: "GET", Path: "/", Access: Members, Handler: h.Home, Nav: "Overview"},

		{Method: "GET", Path: "/users", Access: Members, Handler: h.UserList, Nav: "Users"},
		{Method: "GET", Path: "/users/new", Access: Admins, Handler: h.UserNew},
		{Method: "POST", Path: "/users", Access: Admins, Handler: h.UserCreate},
		{Method: "GET", Path: "/users/:id<int>", Access: Members, Handler: h.UserShow},
		{Method: "GET", Path: "/users/:id<int>/edit", Access: Admins, Handler: h.UserEdit},
		{Method: "POST", Path: "/users/:id<int>", Access: Admins, Handler: h.UserUpdate},
		{Method: "GET", Path: "/users/:id<int>/remove", Access: Admins, Handler: h.UserRemoveConfirm},
		{Method: "POST", Path: "/users/:id<int>/remove", Access: Admins, Handler: h.UserRemove},
		{Method: "GET", Path: "/users/:id<int>/reveal", Access: Reviewers, Handler: h.UserRevealForm},
		{Method: "POST", Path: "/users/:id<int>/reveal", Access: Reviewers, Handler: h.UserReveal},
		{Method: "POST", Path: "/users/:id<int>/reset-login", Access: Admins, Handler: h.UserResetLogin},
		{Method: "POST", Path: "/users/:id<int>/rotate-token", Access: Admins, Handler: h.UserRotateToken},

		// The audit screens read the log; the only write any of them makes
		// is the audit.export entry an export appends.
		{Method: "GET", Path: "/audit", Access: Members, Handler: h.AuditList, Nav: "Audit"},
		{Method: "GET", Path: "/audit/chart", Access: Members, Handler: h.AuditChart},
		{Method: "GET", Path: "/audit/:seq<int>/diff", Access: Members, Handler: h.AuditDiff},
		{Method: "POST", Path: "/audit/export", Access: Members, Handler: h.AuditExport},
		{Method: "GET", Path: "/audit/integrity", Access: Members, Handler: h.AuditIntegrity},
		{Method: "POST", Path: "/audit/integrity/verify", Access: Members, Handler: h.AuditVerifyStart},
		{Method: "GET", Path: "/audit/integrity/verify", Access: Members, Handler: h.AuditVerifyStatus},
		{Method: "GET", Path: "/audit/checkpoints/:id<int>", Access: Members, Handler: h.AuditCheckpointDownload},

		{Method: "GET", Path: "/account", Access: Members, Handler: h.AccountShow},
		{Method: "POST", Path: "/account/password", Access: Members, Handler: h.AccountPasswordChange},
	}
}

// Routes returns the route table for review and tests.
func Routes() []Route { return routes(&handlers.Handler{}) }
