package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"

	"ledgerdesk/handlers"
	"ledgerdesk/models"
	"ledgerdesk/models/testdb"
	"ledgerdesk/static"
	"ledgerdesk/web"
	"ledgerdesk/web/webtest"
)

// decoder reads a body sent with encoding ("" for none).
func decoder(t *testing.T, encoding string, body io.Reader) io.Reader {
	t.Helper()
	switch encoding {
	case "":
		return body
	case "gzip":
		r, err := gzip.NewReader(body)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		return r
	case "br":
		return brotli.NewReader(body)
	}
	t.Fatalf("unexpected Content-Encoding %q", encoding)
	return nil
}

// decoded is r's body as the client reads it, after checking that it was
// sent with want as its Content-Encoding ("" for none) and says it varies
// on Accept-Encoding.
func decoded(t *testing.T, r *webtest.Response, want string) []byte {
	t.Helper()
	if got := r.Header.Get("Content-Encoding"); got != want {
		t.Fatalf("%s: Content-Encoding %q, want %q", r.Request.URL, got, want)
	}
	if v := strings.ToLower(strings.Join(r.Header.Values("Vary"), ",")); !strings.Contains(v, "accept-encoding") {
		t.Fatalf("%s: Vary %q lacks Accept-Encoding", r.Request.URL, v)
	}
	b, err := io.ReadAll(decoder(t, want, strings.NewReader(r.Body)))
	if err != nil {
		t.Fatalf("%s: decode %s body: %v", r.Request.URL, want, err)
	}
	return b
}

// encodings are what a client may accept, and the encoding the portal
// then answers with: browsers send all of these and get brotli.
var encodings = []struct{ accept, want string }{
	{"", ""},
	{"gzip", "gzip"},
	{"br", "br"},
	{"gzip, deflate, br, zstd", "br"},
}

func acceptHeader(accept string) []string {
	if accept == "" {
		return nil
	}
	return []string{"Accept-Encoding", accept}
}

func TestCompression_PagesAndPartialsAreCompressedWhenTheClientAccepts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAdmin)
		createUsers(t, db, 3)
		for _, e := range encodings {
			for _, htmx := range []bool{false, true} {
				headers := acceptHeader(e.accept)
				if htmx {
					headers = append(headers, webtest.HTMX...)
				}
				r := c.Get("/users", headers...)
				wantStatus(t, r, http.StatusOK)
				body := decoded(t, r, e.want)
				doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if n := len(rowIDs(t, doc)); n != 3 {
					t.Errorf("Accept-Encoding %q, htmx %v: %d rows, want 3", e.accept, htmx, n)
				}
				if e.want != "" && len(r.Body) >= len(body) {
					t.Errorf("Accept-Encoding %q: %d bytes sent for %d", e.accept, len(r.Body), len(body))
				}
				wantVary(t, r)
			}
		}
	})
}

func TestCompression_APIAnswersAreCompressedWhenTheClientAccepts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		key := newKey(t, db, models.ScopeRead)
		createUsers(t, db, 5)
		for _, e := range encodings {
			req := httptest.NewRequest(http.MethodGet, "/2.0/users", nil)
			req.Header.Set("Authorization", "Bearer "+key.Secret)
			if e.accept != "" {
				req.Header.Set("Accept-Encoding", e.accept)
			}
			r := h.Client(t).Do(req)
			wantStatus(t, r, http.StatusOK)
			var answer struct {
				Users []map[string]any `json:"users"`
			}
			if err := json.Unmarshal(decoded(t, r, e.want), &answer); err != nil || len(answer.Users) != 5 {
				t.Errorf("Accept-Encoding %q: %d users (%v)", e.accept, len(answer.Users), err)
			}
		}
	})
}

func TestCompression_StaticFilesAreSentCompressedOnceWithAnETagPerEncoding(t *testing.T) {
	h := webtest.New(t, testdb.SQLite(t))
	c := h.Client(t)
	for _, name := range []string{"js/htmx.min.js", "css/app.css", "js/app.js"} {
		asset, _ := static.Lookup(name)
		tags := map[string]string{}
		for _, e := range encodings {
			r := c.Get(static.URL(name), acceptHeader(e.accept)...)
			wantStatus(t, r, http.StatusOK)
			if got := decoded(t, r, e.want); !bytes.Equal(got, asset.Body) {
				t.Fatalf("%s with Accept-Encoding %q: the body is not the file", name, e.accept)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("%s with Accept-Encoding %q: Cache-Control %q", name, e.accept, cc)
			}
			// The bytes made once per process, not compressed again.
			want := map[string][]byte{"": asset.Body, "gzip": asset.Gzip(), "br": asset.Brotli()}[e.want]
			if r.Body != string(want) {
				t.Errorf("%s with Accept-Encoding %q: not the asset's stored encoding", name, e.accept)
			}
			etag := r.Header.Get("ETag")
			if prev, seen := tags[e.want]; seen && prev != etag {
				t.Errorf("%s: one encoding, two ETags %q and %q", name, prev, etag)
			}
			tags[e.want] = etag
			revalidated := c.Get("/static/"+name, append(acceptHeader(e.accept), "If-None-Match", etag)...)
			wantStatus(t, revalidated, http.StatusNotModified)
		}
		if len(tags) != 3 || tags[""] == tags["gzip"] || tags[""] == tags["br"] || tags["gzip"] == tags["br"] {
			t.Errorf("%s: ETags per encoding %v, want three different ones", name, tags)
		}
		// A tag of another encoding does not stand for this one.
		r := c.Get(static.URL(name), "Accept-Encoding", "gzip", "If-None-Match", tags["br"])
		wantStatus(t, r, http.StatusOK)
	}
	for name, a := range map[string]static.Asset{"htmx": mustAsset(t, "js/htmx.min.js"), "app.css": mustAsset(t, "css/app.css")} {
		t.Logf("%s: %d bytes, gzip %d, brotli %d", name, len(a.Body), len(a.Gzip()), len(a.Brotli()))
	}
}

func mustAsset(t *testing.T, name string) static.Asset {
	t.Helper()
	a, ok := static.Lookup(name)
	if !ok {
		t.Fatalf("no asset %s", name)
	}
	return a
}

func TestCompression_ExportsAreCompressedAndHoldTheSameRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *models.DB) {
		h := webtest.New(t, db)
		c, _ := h.SignIn(t, models.RoleAuditor)
		createUsers(t, db, 30)
		c.Get("/users")
		var plain string
		for _, e := range encodings {
			for _, path := range []string{"/users/export", "/audit/export"} {
				r := c.Post(path, url.Values{"format": {"csv"}}, acceptHeader(e.accept)...)
				wantStatus(t, r, http.StatusOK)
				if r.ContentLength != -1 {
					t.Errorf("%s with Accept-Encoding %q: Content-Length %d on a stream", path, e.accept, r.ContentLength)
				}
				body := string(decoded(t, r, e.want))
				if path == "/users/export" {
					if plain == "" {
						plain = body
					} else if body != plain {
						t.Errorf("Accept-Encoding %q: the export differs from the uncompressed one", e.accept)
					}
				}
				if strings.Count(body, "\n") < 2 || strings.Contains(body, "#error") {
					t.Errorf("%s with Accept-Encoding %q: export %q", path, e.accept, body)
				}
			}
		}
		if strings.Count(plain, "\n") != 31 {
			t.Errorf("the users export has %d lines, want a header and 30 users", strings.Count(plain, "\n"))
		}
	})
}

// A stream that the compressor held back until its end would keep a large
// export's first rows from the client until the last was read; the probe
// route writes its first rows, then waits until the client has read them.
func TestCompression_AStreamIsSentAsItIsWritten(t *testing.T) {
	db := testdb.SQLite(t)
	read := make(chan struct{})
	first, last := strings.Repeat("first,rows\n", 50), "last,row\n"
	probe := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString(first)
			_ = w.Flush()
			select {
			case <-read:
			case <-time.After(20 * time.Second):
			}
			_, _ = w.WriteString(last)
			_ = w.Flush()
		})
		return nil
	}
	app, err := web.SetupWithRoutes(webtest.Config(), db, func(h *handlers.Handler) []web.Route {
		return append(web.RouteTable(h), web.Route{Method: fiber.MethodGet, Path: "/probe/stream", Access: web.Public, Handler: probe})
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 30 * time.Second}

	for _, encoding := range []string{"gzip", "br"} {
		read = make(chan struct{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/probe/stream", nil)
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if got := resp.Header.Get("Content-Encoding"); got != encoding || resp.ContentLength != -1 {
			t.Errorf("Content-Encoding %q, Content-Length %d; want %s and none", got, resp.ContentLength, encoding)
		}
		body := decoder(t, encoding, resp.Body)
		got := make(chan string, 1)
		go func() {
			b := make([]byte, len(first))
			n, _ := io.ReadFull(body, b)
			got <- string(b[:n])
		}()
		select {
		case s := <-got:
			if s != first {
				t.Errorf("%s: the first rows read %q", encoding, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the first rows did not arrive while the stream was still being written", encoding)
		}
		close(read)
		rest, err := io.ReadAll(body)
		if err != nil || string(rest) != last {
			t.Errorf("%s: the rest read %q (%v), want %q", encoding, rest, err, last)
		}
		resp.Body.Close()
		cancel()
	}
}
