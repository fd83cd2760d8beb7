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
	// stages are the stages of sign-in a session may be at to use the
	// route; nil means a completed sign-in only.
	stages map[models.SignInStage]bool
	// api, when set, makes the route part of the JSON API: it is called
	// with an API key (or a user_token), never a session, and answers
	// errors in the seed's own shape.
	api   apiStyle
	scope models.APIScope
}

// apiStyle says which seed's authentication and error shape a JSON API
// route speaks.
type apiStyle int

const (
	notAPI apiStyle = iota
	// plaidAPI: client_id and secret in the body or the PLAID-CLIENT-ID
	// and PLAID-SECRET headers; Plaid error objects.
	plaidAPI
	// powensAPI: a Bearer token (an API key's secret, or the end user's
	// own user_token); Powens-style errors.
	powensAPI
)

func roles(name string, rs ...models.Role) Access {
	a := Access{name: name, roles: map[models.Role]bool{}}
	for _, r := range rs {
		a.roles[r] = true
	}
	return a
}

// atStages is a with the stages of sign-in it is open to.
func (a Access) atStages(name string, ss ...models.SignInStage) Access {
	a.name = name
	a.stages = map[models.SignInStage]bool{}
	for _, s := range ss {
		a.stages[s] = true
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

	// SecondFactor is the code step of sign-in: only a session that gave
	// its password and owes a code. A completed session is sent on.
	SecondFactor = Members.atStages("second factor", models.AwaitingSecondFactor)
	// MembersEnrolling are Members, and also an admin whose sign-in waits
	// until they set up an authenticator (the setup itself).
	MembersEnrolling = Members.atStages("members, also while enrolling", models.SignedIn, models.AwaitingEnrolment)
	// AnySession is any signed-in session, whatever its stage: signing out.
	AnySession = Members.atStages("any session", models.SignedIn, models.AwaitingSecondFactor, models.AwaitingEnrolment)
	// PlaidRead is a Plaid-style endpoint any API key may call.
	PlaidRead = Access{name: "plaid api, any key", api: plaidAPI, scope: models.ScopeRead}
	// PlaidWrite is a Plaid-style endpoint that changes data: read-write
	// keys only.
	PlaidWrite = Access{name: "plaid api, read-write key", api: plaidAPI, scope: models.ScopeWrite}
	// PowensRead is a Powens-style endpoint for any API key, or for the end
	// user's own user_token where the handler allows it.
	PowensRead = Access{name: "powens api, any key or own user_token", api: powensAPI, scope: models.ScopeRead}
	// PowensWrite is a Powens-style endpoint that changes data: read-write
	// keys, or the end user's own user_token.
	PowensWrite = Access{name: "powens api, read-write key or own user_token", api: powensAPI, scope: models.ScopeWrite}
)

// IsPublic reports whether anonymous visitors may use the route.
func (a Access) IsPublic() bool { return a.public }

// Allows reports whether a member with role r may use the route.
func (a Access) Allows(r models.Role) bool { return a.public || a.roles[r] }

// AllowsStage reports whether a session at stage s of sign-in may use the
// route.
func (a Access) AllowsStage(s models.SignInStage) bool {
	if a.stages == nil {
		return s == models.SignedIn
	}
	return a.stages[s]
}

// Declared reports whether the access was set at all.
func (a Access) Declared() bool { return a.public || len(a.roles) > 0 || a.api != notAPI }

// IsAPI reports whether the route is part of the JSON API (API keys, no
// session, no CSRF token, JSON errors).
func (a Access) IsAPI() bool { return a.api != notAPI }

// Scope is what an API key needs for the route.
func (a Access) Scope() models.APIScope { return a.scope }

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
	// ChecksCredentials marks a form that checks a password or a two-step
	// code: one client address may send only so many a minute, refused
	// before anything is checked (Config.CredentialAttemptsPerMinute).
	ChecksCredentials bool
}

// navOrder is the navigation's order, by how often each screen is used;
// the route table keeps its routes grouped by area instead. A route with a
// Nav label must be listed here (Setup refuses the app otherwise).
var navOrder = []string{"/", "/users", "/audit", "/approvals", "/team", "/api-keys", "/webhooks", "/settings", "/api"}

// routes is the whole route table: every page, partial and form post, with
// who may use it. Authorization is reviewed here.
func routes(h *handlers.Handler) []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", Access: Public, Handler: h.Healthz},
		{Method: "GET", Path: "/readyz", Access: Public, Handler: h.Readyz},
		{Method: "GET", Path: "/static/*", Access: Public, Handler: serveStatic},

		{Method: "GET", Path: "/login", Access: Public, Handler: h.LoginShow},
		{Method: "POST", Path: "/login", Access: Public, Handler: h.LoginSubmit, ChecksCredentials: true},
		{Method: "GET", Path: "/login/mfa", Access: SecondFactor, Handler: h.LoginMFAShow},
		{Method: "POST", Path: "/login/mfa", Access: SecondFactor, Handler: h.LoginMFASubmit, ChecksCredentials: true},
		{Method: "POST", Path: "/login/passkey/options", Access: Public, Handler: h.LoginPasskeyOptions, ChecksCredentials: true},
		{Method: "POST", Path: "/login/passkey", Access: Public, Handler: h.LoginPasskey, ChecksCredentials: true},
		{Method: "POST", Path: "/login/mfa/passkey/options", Access: SecondFactor, Handler: h.LoginMFAPasskeyOptions, ChecksCredentials: true},
		{Method: "POST", Path: "/login/mfa/passkey", Access: SecondFactor, Handler: h.LoginMFAPasskey, ChecksCredentials: true},
		{Method: "POST", Path: "/logout", Access: AnySession, Handler: h.Logout},
		// Sign-in through the identity provider: both write a row for an
		// anonymous visitor, and the callback checks a credential.
		{Method: "GET", Path: "/login/oidc", Access: Public, Handler: h.LoginOIDC, ChecksCredentials: true},
		{Method: "GET", Path: "/login/oidc/callback", Access: Public, Handler: h.LoginOIDCCallback, ChecksCredentials: true},

		{Method: "GET", Path: "/", Access: Members, Handler: h.Home, Nav: "Overview"},

		{Method: "GET", Path: "/users", Access: Members, Handler: h.UserList, Nav: "Users"},
		{Method: "POST", Path: "/users/export", Access: Members, Handler: h.UserExport},
		{Method: "GET", Path: "/users/batch/export", Access: Members, Handler: h.UserBatchExport},
		{Method: "GET", Path: "/users/batch/reset-login", Access: Admins, Handler: h.UserBatchResetLoginConfirm},
		{Method: "POST", Path: "/users/batch/reset-login", Access: Admins, Handler: h.UserBatchResetLogin},
		{Method: "GET", Path: "/users/batch/remove", Access: Admins, Handler: h.UserBatchRemoveConfirm},
		{Method: "POST", Path: "/users/batch/remove", Access: Admins, Handler: h.UserBatchRemove},
		{Method: "GET", Path: "/batches", Access: Admins, Handler: h.BatchList},
		{Method: "GET", Path: "/batches/:id<int>", Access: Admins, Handler: h.BatchShow},
		{Method: "POST", Path: "/batches/:id<int>/cancel", Access: Admins, Handler: h.BatchCancel},
		{Method: "GET", Path: "/users/new", Access: Admins, Handler: h.UserNew},
		{Method: "POST", Path: "/users", Access: Admins, Handler: h.UserCreate},
		{Method: "GET", Path: "/users/:id<int>", Access: Members, Handler: h.UserShow},
		// Who accessed the user's data: every role, as the audit log that
		// holds the same entries is open to every role.
		{Method: "GET", Path: "/users/:id<int>/access", Access: Members, Handler: h.UserAccess},
		{Method: "GET", Path: "/users/:id<int>/edit", Access: Admins, Handler: h.UserEdit},
		{Method: "POST", Path: "/users/:id<int>", Access: Admins, Handler: h.UserUpdate},
		{Method: "GET", Path: "/users/:id<int>/remove", Access: Admins, Handler: h.UserRemoveConfirm},
		{Method: "POST", Path: "/users/:id<int>/remove", Access: Admins, Handler: h.UserRemove},
		{Method: "GET", Path: "/users/:id<int>/reveal", Access: Reviewers, Handler: h.UserRevealForm},
		{Method: "POST", Path: "/users/:id<int>/reveal", Access: Reviewers, Handler: h.UserReveal},
		{Method: "POST", Path: "/users/:id<int>/reset-login", Access: Admins, Handler: h.UserResetLogin},
		{Method: "POST", Path: "/users/:id<int>/rotate-token", Access: Admins, Handler: h.UserRotateToken},

		{Method: "GET", Path: "/account/mfa", Access: MembersEnrolling, Handler: h.AccountMFAShow},
		{Method: "POST", Path: "/account/mfa/setup", Access: MembersEnrolling, Handler: h.AccountMFASetup, ChecksCredentials: true},
		{Method: "POST", Path: "/account/mfa/confirm", Access: MembersEnrolling, Handler: h.AccountMFAConfirm, ChecksCredentials: true},
		{Method: "POST", Path: "/account/mfa/recovery-codes", Access: Members, Handler: h.AccountMFARecoveryCodes, ChecksCredentials: true},
		{Method: "POST", Path: "/account/mfa/disable", Access: Members, Handler: h.AccountMFADisable, ChecksCredentials: true},

		{Method: "GET", Path: "/settings", Access: Admins, Handler: h.SettingsShow, Nav: "Settings"},
		{Method: "POST", Path: "/settings", Access: Admins, Handler: h.SettingsUpdate},
		{Method: "POST", Path: "/settings/field-policy", Access: Admins, Handler: h.SettingsFieldPolicyUpdate},
		{Method: "POST", Path: "/settings/approvals", Access: Admins, Handler: h.SettingsApprovalsUpdate},

		// Four-eyes approvals: admins decide each other's requests.
		{Method: "GET", Path: "/approvals", Access: Admins, Handler: h.ApprovalList, Nav: "Approvals"},
		{Method: "POST", Path: "/approvals/:id<int>/approve", Access: Admins, Handler: h.ApprovalApprove},
		{Method: "POST", Path: "/approvals/:id<int>/deny", Access: Admins, Handler: h.ApprovalDeny},
		{Method: "POST", Path: "/settings/sso", Access: Admins, Handler: h.SettingsSSOUpdate},

		{Method: "GET", Path: "/webhooks", Access: Admins, Handler: h.WebhookList, Nav: "Webhooks"},
		{Method: "GET", Path: "/webhooks/new", Access: Admins, Handler: h.WebhookNew},
		{Method: "POST", Path: "/webhooks", Access: Admins, Handler: h.WebhookCreate},
		{Method: "GET", Path: "/webhooks/:id<int>", Access: Admins, Handler: h.WebhookShow},
		{Method: "POST", Path: "/webhooks/:id<int>", Access: Admins, Handler: h.WebhookUpdate},
		{Method: "POST", Path: "/webhooks/:id<int>/delete", Access: Admins, Handler: h.WebhookDelete},
		{Method: "POST", Path: "/webhooks/:id<int>/rotate-secret", Access: Admins, Handler: h.WebhookRotateSecret},
		{Method: "POST", Path: "/webhooks/:id<int>/test-event", Access: Admins, Handler: h.WebhookTestEvent},
		{Method: "GET", Path: "/webhooks/:id<int>/deliveries", Access: Admins, Handler: h.WebhookDeliveries},
		{Method: "POST", Path: "/webhooks/:id<int>/deliveries/:delivery<int>/retry", Access: Admins, Handler: h.WebhookDeliveryRetry},

		{Method: "GET", Path: "/api-keys", Access: Admins, Handler: h.APIKeyList, Nav: "API keys"},
		{Method: "POST", Path: "/api-keys", Access: Admins, Handler: h.APIKeyCreate},
		{Method: "GET", Path: "/api-keys/:id<int>", Access: Admins, Handler: h.APIKeyShow},
		{Method: "POST", Path: "/api-keys/:id<int>/revoke", Access: Admins, Handler: h.APIKeyRevoke},
		{Method: "GET", Path: "/api", Access: Admins, Handler: h.APIPage, Nav: "API"},
		{Method: "GET", Path: "/api/openapi.json", Access: Public, Handler: h.APIOpenAPI},

		// The seed-compatible JSON API. These routes run before the session
		// and CSRF middleware: they authenticate with API keys only.
		{Method: "POST", Path: "/dashboard_user/get", Access: PlaidRead, Handler: h.PlaidDashboardUserGet},
		{Method: "POST", Path: "/dashboard_user/list", Access: PlaidRead, Handler: h.PlaidDashboardUserList},
		{Method: "POST", Path: "/user/create", Access: PlaidWrite, Handler: h.PlaidUserCreate},
		{Method: "POST", Path: "/user/update", Access: PlaidWrite, Handler: h.PlaidUserUpdate},
		{Method: "POST", Path: "/user/remove", Access: PlaidWrite, Handler: h.PlaidUserRemove},
		{Method: "POST", Path: "/user/items/get", Access: PlaidRead, Handler: h.PlaidUserItemsGet},
		{Method: "POST", Path: "/sandbox/user/reset_login", Access: PlaidWrite, Handler: h.PlaidSandboxUserResetLogin},
		{Method: "GET", Path: "/2.0/users", Access: PowensRead, Handler: h.PowensUserList},
		{Method: "GET", Path: "/2.0/users/:id", Access: PowensRead, Handler: h.PowensUserGet},
		{Method: "DELETE", Path: "/2.0/users/:id", Access: PowensWrite, Handler: h.PowensUserDelete},

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
		{Method: "POST", Path: "/account/password", Access: Members, Handler: h.AccountPasswordChange, ChecksCredentials: true},
		{Method: "POST", Path: "/account/time-zone", Access: Members, Handler: h.AccountTimeZone},
		{Method: "GET", Path: "/account/sessions", Access: Members, Handler: h.AccountSessions},
		{Method: "POST", Path: "/account/sessions/end-others", Access: Members, Handler: h.AccountSessionsEndOthers},
		{Method: "POST", Path: "/account/sessions/:session/end", Access: Members, Handler: h.AccountSessionEnd},
		{Method: "POST", Path: "/account/passkeys/options", Access: Members, Handler: h.AccountPasskeyOptions, ChecksCredentials: true},
		{Method: "POST", Path: "/account/passkeys", Access: Members, Handler: h.AccountPasskeyRegister, ChecksCredentials: true},
		{Method: "POST", Path: "/account/passkeys/:id<int>/remove", Access: Members, Handler: h.AccountPasskeyRemove, ChecksCredentials: true},

		{Method: "GET", Path: "/team", Access: Admins, Handler: h.TeamList, Nav: "Team"},
		{Method: "GET", Path: "/team/invite", Access: Admins, Handler: h.TeamInviteForm},
		{Method: "POST", Path: "/team/invite", Access: Admins, Handler: h.TeamInvite},
		{Method: "GET", Path: "/team/:id<len(24)>", Access: Admins, Handler: h.TeamShow},
		{Method: "POST", Path: "/team/:id<len(24)>/role", Access: Admins, Handler: h.TeamRoleChange},
		{Method: "POST", Path: "/team/:id<len(24)>/deactivate", Access: Admins, Handler: h.TeamDeactivate},
		{Method: "POST", Path: "/team/:id<len(24)>/reactivate", Access: Admins, Handler: h.TeamReactivate},
		{Method: "POST", Path: "/team/:id<len(24)>/invite/resend", Access: Admins, Handler: h.TeamInviteResend},
		{Method: "POST", Path: "/team/:id<len(24)>/invite/revoke", Access: Admins, Handler: h.TeamInviteRevoke},
		{Method: "POST", Path: "/team/:id<len(24)>/sessions/:session/end", Access: Admins, Handler: h.TeamSessionEnd},
		{Method: "GET", Path: "/team/:id<len(24)>/mfa-reset", Access: Admins, Handler: h.TeamMFAResetConfirm},
		{Method: "POST", Path: "/team/:id<len(24)>/mfa-reset", Access: Admins, Handler: h.TeamMFAReset},
		{Method: "GET", Path: "/invite/:token", Access: Public, Handler: h.InviteShow},
		{Method: "POST", Path: "/invite/:token", Access: Public, Handler: h.InviteAccept, ChecksCredentials: true},
	}
}

// Routes returns the route table for review and tests.
func Routes() []Route { return routes(&handlers.Handler{}) }
