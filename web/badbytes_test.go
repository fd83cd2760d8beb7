package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/getkin/kin-openapi/openapi3"
	"golang.org/x/crypto/argon2"

	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	textrule "ledgerdesk/models/text"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// badValue is one kind of hostile text. Each request carries its own
// marker inside the value, so a value that reached the database is found
// afterwards and traced back to the request that sent it.
type badValue struct {
	name, bits string
}

var badValues = []badValue{
	{"NUL", "\x00"},
	{"invalid UTF-8", "\xff\xc3("},
	// Under the 1 MiB body limit with the rest of a form or body. In a
	// URL it is cut to what the 16 KiB request head holds (see inURL).
	{"1 MB", strings.Repeat("a", 1_000_000)},
	{"right-to-left override", "\u202Egnp.exe"},
	{"zero-width space", "\u200B"},
}

// badWalk sends hostile values to every form, query parameter, path
// parameter and API field, and remembers each marker it sent.
type badWalk struct {
	t   *testing.T
	h   *webtest.Harness
	fx  walkFixtures
	key testKey // read-write
	// good overrides goodValues: the anonymous walk signs in with a
	// member of its own.
	good map[string]string
	// sent maps each marker to the request that carried it.
	sent map[string]string
	n    int
}

// inject puts bad into good the way a person would slip it in: before
// the @ of an address, else at the end, after a marker of its own.
func (w *badWalk) inject(good string, bad badValue, what string) string {
	marker := "mk" + strings.ToLower(models.RandomHex(6))
	w.sent[marker] = what
	ins := marker + bad.bits
	if at := strings.LastIndexByte(good, '@'); at > 0 {
		return good[:at] + ins + good[at:]
	}
	return good + ins
}

// inURL is bad as a URL can carry it: a request head holds 16 KiB, so
// the megabyte becomes 12,000 characters (more is answered 431 before
// the app sees it).
func inURL(bad badValue) badValue {
	if bad.name != "1 MB" {
		return bad
	}
	return badValue{name: "12,000 characters", bits: strings.Repeat("a", 12_000)}
}

// check fails on a 5xx, and on a page or JSON answer that is not valid
// UTF-8: a refused value is shown back with U+FFFD for its bad bytes.
func (w *badWalk) check(what string, r *webtest.Response) {
	w.t.Helper()
	w.n++
	what = short(what)
	if r.StatusCode >= 500 {
		w.t.Errorf("%s: status %d\n%s", what, r.StatusCode, short(r.Body))
	}
	if !utf8.ValidString(r.Body) {
		w.t.Errorf("%s: the %d answer (%s) is not valid UTF-8", what, r.StatusCode, r.Header.Get("Content-Type"))
	}
}

// short cuts a long text for a failure message.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// goodValues are values the portal's forms accept, by field name, so that
// a bad value in one field is the only thing wrong with a form.
func goodValues(name string) (string, bool) {
	switch name {
	case "client_user_id":
		return "walk-" + models.RandomHex(6), true
	case "first_name":
		return "Carmen", true
	case "last_name":
		return "Berzatto", true
	case "phone_numbers":
		return "+13125551212", true
	case "emails":
		return "carmy@example.com", true
	case "date_of_birth":
		return "1987-01-31", true
	case "street":
		return "3200 W Armitage Ave", true
	case "city":
		return "Chicago", true
	case "region":
		return "IL", true
	case "postal_code":
		return "60657", true
	case "country":
		return "US", true
	case "name":
		return "walk key", true
	case "url":
		return "https://93.184.216.34/walk", true
	case "email":
		return "walk-" + strings.ToLower(models.RandomHex(4)) + "@example.com", true
	case "reason":
		return "support ticket 4711: identity check", true
	}
	return "", false
}

// formFields are a form's fields and the values a browser would send,
// with empty fields the walk knows filled with good values.
type formFields struct {
	method, action string
	names          []string
	values         url.Values
}

func readForms(doc *goquery.Document, page string) []formFields {
	var out []formFields
	doc.Find("form").Each(func(_ int, f *goquery.Selection) {
		ff := formFields{method: strings.ToLower(f.AttrOr("method", "get")), values: url.Values{}}
		ff.action = f.AttrOr("action", "")
		for _, attr := range []string{"hx-post", "hx-get"} {
			if a, ok := f.Attr(attr); ok && ff.action == "" {
				ff.action, ff.method = a, strings.TrimPrefix(attr, "hx-")
			}
		}
		if ff.action == "" {
			ff.action = page
		}
		if u, err := url.Parse(ff.action); err == nil {
			ff.action = u.Path
		}
		f.Find("input[name], textarea[name], select[name], button[name]").Each(func(_ int, in *goquery.Selection) {
			name := in.AttrOr("name", "")
			if name == "_csrf" || name == "" {
				return
			}
			if !slices.Contains(ff.names, name) {
				ff.names = append(ff.names, name)
			}
			switch {
			case goquery.NodeName(in) == "textarea":
				ff.values.Add(name, in.Text())
			case goquery.NodeName(in) == "select":
				opt := in.Find("option[selected]").First()
				if opt.Length() == 0 {
					opt = in.Find("option").First()
				}
				ff.values.Add(name, opt.AttrOr("value", opt.Text()))
			case goquery.NodeName(in) == "button":
				// A named button is sent only when it is the one pressed.
			default:
				typ := strings.ToLower(in.AttrOr("type", "text"))
				if typ == "checkbox" || typ == "radio" {
					if _, on := in.Attr("checked"); on {
						ff.values.Add(name, in.AttrOr("value", "on"))
					}
					return
				}
				ff.values.Add(name, in.AttrOr("value", ""))
			}
		})
		out = append(out, ff)
	})
	return out
}

// cheapHash is an argon2id hash of pw with the smallest parameters
// argon2 takes. VerifyPassword reads the parameters from the stored hash,
// so the walk's members sign in without the 64 MiB a real hash costs.
func cheapHash(pw string) string {
	salt := []byte("walk-salt-16byte")
	key := argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// cheapMember inserts a member with a cheap password hash.
func cheapMember(t *testing.T, db *models.DB, role models.Role, status models.MemberStatus) (*models.TeamMember, string) {
	t.Helper()
	pw := "walk-pw-" + models.RandomToken(12)
	webtest.Sensitive(pw)
	now := models.Now()
	m := &models.TeamMember{ID: models.NewMemberID(), EmailAddress: "walk-" + strings.ToLower(models.RandomHex(5)) + "@example.com",
		Status: status, Role: role, PasswordHash: cheapHash(pw), CreatedAt: now, UpdatedAt: now}
	if err := db.Gorm().Create(m).Error; err != nil {
		t.Fatal(err)
	}
	return m, pw
}

// walkFixtures are the records the walk's paths name, made once.
type walkFixtures map[string]string

func newWalkFixtures(t *testing.T, h *webtest.Harness) walkFixtures {
	t.Helper()
	ctx := context.Background()
	f := walkFixtures{}
	f["{user}"] = strconv.FormatInt(newEndUser(t, h).ID, 10)
	f["{webhook}"], f["{delivery}"] = func() (string, string) {
		p := strings.Split(webhookExamplePath(t, h, "/{webhook}/{delivery}"), "/")
		return p[1], p[2]
	}()
	f["{apikey}"] = strconv.FormatInt(newKey(t, h.DB, models.ScopeRead).Key.ID, 10)
	cp, err := h.DB.CreateCheckpoint(ctx, system, testSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	f["{checkpoint}"] = strconv.FormatInt(cp.ID, 10)
	m, pw := cheapMember(t, h.DB, models.RoleCompliance, models.MemberActive)
	h.Client(t).Login(m.EmailAddress, pw)
	f["{member}"], f["{session}"] = m.ID, sessionRowsOf(t, h.DB, m.ID)[0].Handle()
	enrolled, _ := cheapMember(t, h.DB, models.RoleCompliance, models.MemberActive)
	now := models.Now()
	if err := h.DB.Gorm().Create(&models.MemberMFA{MemberID: enrolled.ID, SecretCipher: "walk", KeyID: "walk",
		ConfirmedAt: &now, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	f["{enrolled}"] = enrolled.ID
	deactivated, _ := cheapMember(t, h.DB, models.RoleAuditor, models.MemberDeactivated)
	f["{deactivated}"] = deactivated.ID
	inv, err := h.DB.InviteMember(ctx, system, models.NewInvitee{Email: "walk-" + models.RandomHex(4) + "@example.com", Role: models.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	webtest.Sensitive(inv.Token)
	f["{invited}"], f["{invitation}"] = inv.Member.ID, inv.Token
	return f
}

// path is a concrete path for the route, naming the fixtures.
func (f walkFixtures) path(t *testing.T, r web.Route) string {
	t.Helper()
	if !strings.ContainsAny(r.Path, ":*") {
		return r.Path
	}
	p, ok := routeExamples[r.Path]
	if !ok {
		t.Fatalf("route %s %s has parameters: give it an example path in routeExamples", r.Method, r.Path)
	}
	for k, v := range f {
		p = strings.ReplaceAll(p, k, v)
	}
	return p
}

// routeOf is the route of the table that serves method and path.
func routeOf(table []web.Route, method, path string) (web.Route, bool) {
	xs := strings.Split(path, "/")
	for _, r := range table {
		if r.Method != method {
			continue
		}
		ps := strings.Split(r.Path, "/")
		if len(ps) != len(xs) {
			continue
		}
		ok := true
		for i := range ps {
			if !strings.HasPrefix(ps[i], ":") && ps[i] != xs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, true
		}
	}
	return web.Route{}, false
}

// fill gives each empty field the walk knows a fresh good value.
func (w *badWalk) fill(base url.Values) url.Values {
	out := url.Values{}
	for k, vs := range base {
		out[k] = slices.Clone(vs)
		if len(vs) == 1 && vs[0] == "" {
			if g, ok := w.good[k]; ok {
				out.Set(k, g)
			} else if g, ok := goodValues(k); ok {
				out.Set(k, g)
			}
		}
	}
	return out
}

// walkForms renders every page the client may see, and sends each of
// their forms once per field and bad value. It returns the POST routes it
// reached.
func (w *badWalk) walkForms(client *webtest.Client, table []web.Route, anonymous bool) map[string]bool {
	t := w.t
	reached := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range table {
		if r.Method != http.MethodGet || r.Access.IsAPI() || r.Access.IsPublic() != anonymous ||
			!r.Access.AllowsStage(models.SignedIn) || r.Path == "/static/*" {
			continue
		}
		path := w.fx.path(t, r)
		page := client.Get(path)
		if page.Doc == nil {
			continue
		}
		for _, f := range readForms(page.Doc, path) {
			method := http.MethodGet
			if f.method == "post" {
				method = http.MethodPost
			}
			fr, ok := routeOf(table, method, f.action)
			if !ok || fr.Path == "/logout" {
				continue
			}
			if method == http.MethodPost {
				reached[fr.Path] = true
			}
			names := f.names
			if len(names) == 0 {
				// A form of a button alone: an unexpected field must not
				// trouble it either.
				names = []string{"unexpected"}
			}
			for _, name := range names {
				key := method + " " + fr.Path + " " + name
				if seen[key] {
					continue
				}
				seen[key] = true
				for _, bad := range badValues {
					vals := w.fill(f.values)
					what := fmt.Sprintf("%s %s (form on %s) field %s: %s", method, f.action, r.Path, name, bad.name)
					good := vals.Get(name)
					var got *webtest.Response
					if method == http.MethodPost {
						vals.Set(name, w.inject(good, bad, what))
						c := client
						if anonymous {
							// A visitor of their own each time: a sign-in
							// that succeeds must not carry over.
							c = w.h.Client(t)
						}
						got = c.Post(f.action, vals)
					} else {
						vals.Set(name, w.inject(good, inURL(bad), what))
						got = client.Get(f.action + "?" + vals.Encode())
					}
					w.check(what, got)
				}
			}
		}
		// Links carry query parameters too: cursors, a field to reveal.
		page.Doc.Find("a[href]").Each(func(_ int, a *goquery.Selection) {
			u, err := url.Parse(a.AttrOr("href", ""))
			if err != nil || u.Host != "" || u.RawQuery == "" {
				return
			}
			lr, ok := routeOf(table, http.MethodGet, u.Path)
			if !ok {
				return
			}
			q := u.Query()
			for name := range q {
				key := "GET " + lr.Path + " " + name
				if seen[key] {
					continue
				}
				seen[key] = true
				for _, bad := range badValues {
					vals := url.Values{}
					for k, v := range q {
						vals[k] = slices.Clone(v)
					}
					what := fmt.Sprintf("GET %s (link on %s) parameter %s: %s", u.Path, r.Path, name, bad.name)
					vals.Set(name, w.inject(vals.Get(name), inURL(bad), what))
					got := client.Get(u.Path + "?" + vals.Encode())
					w.check(what, got)
				}
			}
		})
	}
	return reached
}

// walkPathParams sends every route with a parameter once per bad value
// in each parameter.
func (w *badWalk) walkPathParams(client *webtest.Client, table []web.Route) {
	t := w.t
	for _, r := range table {
		if !strings.Contains(r.Path, ":") {
			continue
		}
		example := w.fx.path(t, r)
		ps, xs := strings.Split(r.Path, "/"), strings.Split(example, "/")
		for i, seg := range ps {
			if !strings.HasPrefix(seg, ":") {
				continue
			}
			for _, bad := range badValues {
				what := fmt.Sprintf("%s %s parameter %s: %s", r.Method, r.Path, seg, bad.name)
				variants := []string{w.inject(xs[i], inURL(bad), what)}
				// The same length as a real key, for a route that checks it.
				if b := bad.bits; len(b) < len(xs[i]) {
					variants = append(variants, xs[i][:len(xs[i])-len(b)]+b)
				}
				for n, v := range append(variants, variants...) {
					p := slices.Clone(xs)
					p[i] = url.PathEscape(v)
					req := httptest.NewRequest(r.Method, strings.Join(p, "/"), strings.NewReader(""))
					if n >= len(variants) {
						// Unescaped, as a client writing its own request
						// line may send it.
						p[i] = v
						req.URL.Opaque = strings.Join(p, "/")
					}
					switch {
					case strings.HasPrefix(r.Path, "/2.0/"):
						req.Header.Set("Authorization", "Bearer "+w.key.Secret)
					case r.Access.IsAPI():
						req.Body, req.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
						req.Header.Set("Content-Type", "application/json")
					case r.Method == http.MethodPost:
						form := url.Values{"_csrf": {client.CSRF}}.Encode()
						req.Body = io.NopCloser(strings.NewReader(form))
						req.ContentLength = int64(len(form))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					}
					got := client.Do(req)
					w.check(what, got)
					if got.StatusCode < 400 || got.StatusCode >= 500 {
						t.Errorf("%s: status %d, want 4xx for a key that names nothing", short(what), got.StatusCode)
					}
				}
			}
		}
	}
}

// jsonLiteral writes s as a JSON string the way a careless client would:
// control characters escaped, every other byte as it is, invalid UTF-8
// included (json.Marshal would have replaced it).
func jsonLiteral(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	from := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
			b = append(b, s[from:i]...)
			b = fmt.Appendf(b, `\u%04x`, c)
			from = i + 1
		}
	}
	b = append(b, s[from:]...)
	return append(b, '"')
}

// apiField is a string field of a request body, by its path; list fields
// take an array of strings.
type apiField struct {
	path []string
	list bool
}

func (f apiField) String() string { return strings.Join(f.path, ".") }

// bodyFields lists the string fields of an OpenAPI schema, nested
// objects included.
func bodyFields(s *openapi3.Schema, prefix []string) []apiField {
	var out []apiField
	for name, p := range s.Properties {
		path := append(slices.Clone(prefix), name)
		switch {
		case p.Value.Type.Is("string"):
			out = append(out, apiField{path: path})
		case p.Value.Type.Is("array") && p.Value.Items != nil && p.Value.Items.Value.Type.Is("string"):
			out = append(out, apiField{path: path, list: true})
		case p.Value.Type.Is("object"):
			out = append(out, bodyFields(p.Value, path)...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

const placeholder = "\x01walk-placeholder\x01"

// setField puts the placeholder at path in body, making the objects on
// the way.
func setField(body map[string]any, f apiField) {
	m := body
	for _, k := range f.path[:len(f.path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
		}
		cp := map[string]any{}
		for k2, v := range next {
			cp[k2] = v
		}
		m[k] = cp
		m = cp
	}
	last := f.path[len(f.path)-1]
	if f.list {
		m[last] = []string{placeholder}
	} else {
		m[last] = placeholder
	}
}

// walkAPI sends every API route's body fields, credentials and
// parameters once per bad value. Each body field must be refused as
// INVALID_FIELD naming it, each credential as INVALID_API_KEYS (Powens:
// its 401).
func (w *badWalk) walkAPI(table []web.Route) {
	t := w.t
	loadSpecs(t)
	key := w.key
	u := newEndUser(t, w.h)
	for _, r := range table {
		if !r.Access.IsAPI() {
			continue
		}
		path := w.fx.path(t, r)
		op := served.Paths.Find(strings.ReplaceAll(r.Path, ":id", "{id}")).GetOperation(r.Method)
		if op == nil {
			t.Fatalf("%s %s is not in the OpenAPI document", r.Method, r.Path)
		}
		if strings.HasPrefix(r.Path, "/2.0/") {
			for _, bad := range badValues {
				what := fmt.Sprintf("%s %s Authorization: %s", r.Method, r.Path, bad.name)
				got := sendAPI(t, w.h.Client(t), r.Method, path, "", nil, "Authorization", "Bearer "+w.inject(key.Secret, inURL(bad), what))
				w.check(what, got.Response)
				if got.StatusCode != http.StatusUnauthorized || got.JSON["code"] != "invalidToken" {
					t.Errorf("%s: %d %s, want 401 invalidToken", what, got.StatusCode, got.Body)
				}
			}
			for _, p := range op.Parameters {
				if p.Value.In != "query" {
					continue
				}
				for _, bad := range badValues {
					what := fmt.Sprintf("%s %s ?%s: %s", r.Method, r.Path, p.Value.Name, bad.name)
					target := path + "?" + url.Values{p.Value.Name: {w.inject("1", inURL(bad), what)}}.Encode()
					got := sendAPI(t, w.h.Client(t), r.Method, target, "", nil, "Authorization", "Bearer "+key.Secret)
					w.check(what, got.Response)
					if got.StatusCode != http.StatusBadRequest {
						t.Errorf("%s: %d %s, want 400", what, got.StatusCode, got.Body)
					}
				}
			}
			continue
		}
		schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		for _, f := range bodyFields(schema, nil) {
			for _, bad := range badValues {
				what := fmt.Sprintf("POST %s %s: %s", r.Path, f, bad.name)
				body := key.creds(walkAPIBody(r, w.h, u))
				if _, ok := body["consumer_report_user_identity"]; !ok && r.Path == "/user/create" {
					body["consumer_report_user_identity"] = identityJSON()
				}
				setField(body, f)
				if f.String() == "user_token" {
					delete(body, "user_id")
				}
				b, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				good := "walk"
				switch f.String() {
				case "client_id":
					good = key.Key.ClientID
				case "secret":
					good = key.Secret
				}
				b = bytes.Replace(b, []byte(`"\u0001walk-placeholder\u0001"`), jsonLiteral(w.inject(good, bad, what)), 1)
				got := sendAPI(t, w.h.Client(t), http.MethodPost, path, "application/json", b)
				w.check(what, got.Response)
				w.wantRefused(what, f.String(), got)
			}
		}
		for _, header := range []string{"PLAID-CLIENT-ID", "PLAID-SECRET"} {
			for _, bad := range badValues {
				what := fmt.Sprintf("POST %s header %s: %s", r.Path, header, bad.name)
				good := key.Key.ClientID
				if header == "PLAID-SECRET" {
					good = key.Secret
				}
				b, _ := json.Marshal(walkAPIBody(r, w.h, u))
				req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("PLAID-CLIENT-ID", key.Key.ClientID)
				req.Header.Set("PLAID-SECRET", key.Secret)
				// Set directly: a client writing its own bytes sends what
				// it likes.
				req.Header[http.CanonicalHeaderKey(header)] = []string{w.inject(good, inURL(bad), what)}
				got := w.h.Client(t).Do(req)
				w.check(what, got)
				if got.StatusCode != http.StatusBadRequest && got.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: %d %s, want INVALID_API_KEYS", what, got.StatusCode, got.Body)
				}
			}
		}
	}
}

// wantRefused checks that a bad value in field was refused in Plaid's
// shape, naming the field (a credential: INVALID_API_KEYS).
func (w *badWalk) wantRefused(what, field string, got *apiResponse) {
	w.t.Helper()
	code, _ := got.JSON["error_code"].(string)
	msg, _ := got.JSON["error_message"].(string)
	if field == "client_id" || field == "secret" {
		if code != "INVALID_API_KEYS" {
			w.t.Errorf("%s: %d %s, want INVALID_API_KEYS", what, got.StatusCode, got.Body)
		}
		return
	}
	if got.StatusCode != http.StatusBadRequest || code != "INVALID_FIELD" || !strings.HasPrefix(msg, field+":") {
		w.t.Errorf("%s: %d %s, want 400 INVALID_FIELD naming %s", what, got.StatusCode, got.Body, field)
	}
}

// storedMarkers returns the markers sent that the database holds, in any
// column of any table.
func (w *badWalk) storedMarkers() []string {
	t := w.t
	g := w.h.DB.Gorm()
	tables, err := g.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, table := range tables {
		rows, err := g.Raw("SELECT * FROM " + table).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				for _, at := range markersIn(v) {
					if _, ok := w.sent[at]; ok {
						found = append(found, fmt.Sprintf("%s.%s holds the value of %s", table, cols[i], w.sent[at]))
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return found
}

func markersIn(b []byte) []string {
	var out []string
	for {
		i := bytes.Index(b, []byte("mk"))
		if i < 0 || len(b) < i+14 {
			return out
		}
		out = append(out, string(b[i:i+14]))
		b = b[i+2:]
	}
}

func TestBadBytes_NoFormFieldParameterOrAPIFieldAnswers5xxOrIsStored(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		signIn := func() *webtest.Client {
			m, pw := cheapMember(t, db, models.RoleAdmin, models.MemberActive)
			c := h.Client(t)
			c.Login(m.EmailAddress, pw)
			return c
		}
		admin := signIn()
		w := &badWalk{t: t, h: h, fx: newWalkFixtures(t, h), key: newKey(t, db, models.ScopeWrite), sent: map[string]string{}}
		table := web.Routes()

		reached := w.walkForms(admin, table, false)
		// POST routes no rendered form leads to still take a body.
		for _, r := range table {
			if r.Method != http.MethodPost || r.Access.IsAPI() || r.Access.IsPublic() || reached[r.Path] || r.Path == "/logout" {
				continue
			}
			path := w.fx.path(t, r)
			for _, bad := range badValues {
				what := fmt.Sprintf("POST %s (no form) field unexpected: %s", r.Path, bad.name)
				got := admin.Post(path, url.Values{"unexpected": {w.inject("", bad, what)}})
				w.check(what, got)
			}
		}
		w.walkPathParams(admin, table)
		w.walkAPI(table)
		for _, bad := range badValues {
			what := "POST /logout field unexpected: " + bad.name
			got := admin.Post("/logout", url.Values{"unexpected": {w.inject("", bad, what)}})
			w.check(what, got)
			admin = signIn()
		}
		// A browser's User-Agent is recorded as received with the session
		// and in audit entries, never refused: it is stored cleaned.
		for _, bad := range badValues {
			what := "User-Agent: " + bad.name
			agent := "Mozilla/5.0 " + inURL(bad).bits
			got := admin.Post("/api-keys", url.Values{"name": {"walk agent"}, "scope": {"read"}}, "User-Agent", agent)
			w.check(what+" (POST /api-keys)", got)
			m, pw := cheapMember(t, db, models.RoleAuditor, models.MemberActive)
			got = h.Client(t).Post("/login", url.Values{"email": {m.EmailAddress}, "password": {pw}}, "User-Agent", agent)
			w.check(what+" (POST /login)", got)
		}
		for _, table := range []string{"sessions", "audit_entries"} {
			var agents []string
			if err := db.Gorm().Table(table).Distinct("user_agent").Pluck("user_agent", &agents).Error; err != nil {
				t.Fatal(err)
			}
			for _, a := range agents {
				if p := (textrule.Rule{}).Problem(a); p != "" || len(a) > 512*4 {
					t.Errorf("%s holds the user agent %q: %s", table, short(a), p)
				}
			}
		}
		// Last: refused sign-ins throttle the address every client here
		// shares.
		visitor, visitorPW := cheapMember(t, db, models.RoleAuditor, models.MemberActive)
		w.good = map[string]string{"email": visitor.EmailAddress, "password": visitorPW}
		w.walkForms(h.Client(t), table, true)
		for _, s := range w.storedMarkers() {
			t.Errorf("a refused value reached the database: %s", s)
		}
		t.Logf("%d requests with bad values", w.n)
	})
}
