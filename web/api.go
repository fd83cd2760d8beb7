package web

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers/apijson"
	"ledgerdesk/handlers/current"
	"ledgerdesk/models"
	"ledgerdesk/models/text"
)

// apiRoutes knows the JSON API's paths, so that every answer on them,
// errors included (unknown path, wrong method, body too large), is JSON in
// the right seed's shape and never an HTML page.
type apiRoutes struct {
	routes []Route
}

func newAPIRoutes(table []Route) apiRoutes {
	var out apiRoutes
	for _, r := range table {
		if r.Access.IsAPI() {
			out.routes = append(out.routes, r)
		}
	}
	return out
}

// plaidPrefixes and powensPrefix are the path spaces the API owns: an
// unknown path under them is an API 404, not a portal page.
var plaidPrefixes = []string{"/user/", "/dashboard_user/", "/sandbox/"}

const powensPrefix = "/2.0/"

// styleOf says which API a path belongs to, if any.
func (a apiRoutes) styleOf(path string) apiStyle {
	for _, r := range a.routes {
		if patternMatches(r.Path, path) {
			return r.Access.api
		}
	}
	if strings.HasPrefix(path, powensPrefix) || path == strings.TrimSuffix(powensPrefix, "/") {
		return powensAPI
	}
	for _, p := range plaidPrefixes {
		if strings.HasPrefix(path, p) {
			return plaidAPI
		}
	}
	return notAPI
}

// samePathSpace is a path of the same API as uri's path ("" when uri is
// not the API's), without allocating for the portal's own paths.
func (a apiRoutes) samePathSpace(uri []byte) string {
	if bytes.HasPrefix(uri, []byte(powensPrefix)) {
		return powensPrefix
	}
	for _, p := range plaidPrefixes {
		if bytes.HasPrefix(uri, []byte(p)) {
			return p
		}
	}
	return ""
}

// methodsFor lists the methods the API serves at path.
func (a apiRoutes) methodsFor(path string) []string {
	var out []string
	for _, r := range a.routes {
		if patternMatches(r.Path, path) {
			out = append(out, r.Method)
		}
	}
	return out
}

// fallback answers a request under the API's paths that no API route
// took: 405 for a known path with another method, else 404. It runs
// before the session and CSRF middleware, which API clients never satisfy.
func (a apiRoutes) fallback(c *fiber.Ctx) error {
	if a.styleOf(c.Path()) == notAPI {
		return c.Next()
	}
	if methods := a.methodsFor(c.Path()); len(methods) > 0 {
		c.Set(fiber.HeaderAllow, strings.Join(methods, ", "))
		return fiber.ErrMethodNotAllowed
	}
	return fiber.ErrNotFound
}

// writeError answers an error on an API path in the seed's shape.
func (a apiRoutes) writeError(c *fiber.Ctx, style apiStyle, err error, log *slog.Logger, route string) error {
	requestID := current.RequestID(c)
	if requestID == "" {
		// The body limit is enforced before any middleware runs.
		requestID = models.RandomHex(8)
		c.Set(fiber.HeaderXRequestID, requestID)
	}
	status := http.StatusInternalServerError
	var ferr *fiber.Error
	if errors.As(err, &ferr) {
		status = ferr.Code
	}
	var body any
	switch style {
	case powensAPI:
		e := apijson.PowensFromError(err, status)
		e.RequestID, status, body = requestID, e.HTTPStatus(), e
	default:
		var e *apijson.PlaidError
		switch status {
		case http.StatusRequestEntityTooLarge:
			e = apijson.BodyTooLarge()
		case http.StatusNotFound:
			e = apijson.RouteNotFound()
		case http.StatusMethodNotAllowed:
			e = apijson.MethodNotAllowed(strings.Join(a.methodsFor(c.Path()), ", "))
		case http.StatusRequestHeaderFieldsTooLarge:
			e = apijson.HeadersTooLarge()
		case http.StatusRequestTimeout:
			e = apijson.RequestTimeout()
		case http.StatusBadRequest:
			if ferr != nil {
				e = apijson.InvalidBody("the request could not be read: its headers, its length or its chunked body are malformed")
			} else {
				e = apijson.PlaidFromError(err)
			}
		default:
			e = apijson.PlaidFromError(err)
		}
		e.RequestID, status, body = requestID, e.Status, e
	}
	if status >= 500 {
		log.Error("api request failed", "request_id", requestID, "route", route, "status", status, "error", err.Error())
	}
	if status == http.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return apijson.Send(c, status, body)
}

// authorizeAPI authenticates a JSON API call and checks the key's scope.
// It reads no cookie: a signed-in member's session does not reach the API.
func authorizeAPI(db *models.DB, a Access) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var caller *current.Caller
		var err error
		if a.api == powensAPI {
			caller, err = powensCaller(c, db)
		} else {
			caller, err = plaidCaller(c, db)
		}
		if err != nil {
			return err
		}
		if caller.Key != nil && !caller.Key.Scope.Allows(a.scope) {
			if a.api == powensAPI {
				return apijson.PowensForbidden("this API key is read-only")
			}
			return apijson.ReadOnlyKey()
		}
		current.SetAPICaller(c, caller)
		return c.Next()
	}
}

// plaidCaller reads the body (the handler reuses it) and authenticates
// the client_id and secret it or the PLAID-* headers carry.
func plaidCaller(c *fiber.Ctx, db *models.DB) (*current.Caller, error) {
	body, err := apijson.ParseBody(c)
	if err != nil {
		return nil, err
	}
	apijson.SetBody(c, body)
	clientID, idOK := body.Credential("client_id")
	secret, secretOK := body.Credential("secret")
	if err := body.Err(); err != nil {
		return nil, err
	}
	if clientID == "" && idOK {
		clientID = c.Get("PLAID-CLIENT-ID")
	}
	if secret == "" && secretOK {
		secret = c.Get("PLAID-SECRET")
	}
	// A credential that breaks the text rule is a wrong credential: the
	// answer does not tell it apart, and it never reaches the database.
	if !idOK || !secretOK || (clientID != "" && !text.Key.Valid(clientID)) || (secret != "" && !text.Key.Valid(secret)) {
		return nil, apijson.InvalidAPIKeys()
	}
	var missing []string
	if clientID == "" {
		missing = append(missing, "client_id")
	}
	if secret == "" {
		missing = append(missing, "secret")
	}
	if len(missing) > 0 {
		return nil, apijson.MissingFields(missing...)
	}
	key, err := db.AuthenticateAPIKey(c.UserContext(), clientID, secret)
	if models.ErrorKind(err) == models.KindUnauthorized {
		return nil, apijson.InvalidAPIKeys()
	}
	if err != nil {
		return nil, err
	}
	return &current.Caller{Key: key}, nil
}

// powensCaller authenticates the Bearer token: an API key's secret, or an
// end user's own user_token.
func powensCaller(c *fiber.Ctx, db *models.DB) (*current.Caller, error) {
	scheme, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || !text.Key.Valid(token) {
		return nil, apijson.PowensUnauthorized()
	}
	if strings.HasPrefix(token, "user-") {
		u, err := db.EndUserByToken(c.UserContext(), token)
		if models.ErrorKind(err) == models.KindNotFound {
			return nil, apijson.PowensUnauthorized()
		}
		if err != nil {
			return nil, err
		}
		return &current.Caller{User: u}, nil
	}
	key, err := db.AuthenticateAPISecret(c.UserContext(), token)
	if models.ErrorKind(err) == models.KindUnauthorized {
		return nil, apijson.PowensUnauthorized()
	}
	if err != nil {
		return nil, err
	}
	return &current.Caller{Key: key}, nil
}
