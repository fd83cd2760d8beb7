// Package static embeds the portal's built assets (CSS, htmx, the small
// app script, the favicon) and names each with a content hash for
// long-lived caching.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"sync"

	"github.com/andybalholm/brotli"
)

//go:embed css/app.css js/htmx.min.js js/app.js js/passkeys.js favicon.svg
var Files embed.FS

// Asset is one embedded file, its content hash and its compressed forms.
type Asset struct {
	Body []byte
	Hash string // hex SHA-256, first 16 characters

	encoded func() encodings
}

// encodings are an asset's bytes compressed at the strongest level, made
// once per process on first use: the files never change while it runs,
// and a strong level is too slow to pay on every request.
type encodings struct {
	brotli, gzip []byte // nil where compressing does not make it smaller
}

// Brotli is the asset compressed with brotli, or nil when that is no
// smaller than Body.
func (a Asset) Brotli() []byte { return a.encoded().brotli }

// Gzip is the asset compressed with gzip, or nil when that is no smaller
// than Body.
func (a Asset) Gzip() []byte { return a.encoded().gzip }

var assets = load()

func load() map[string]Asset {
	out := map[string]Asset{}
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := Files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = Asset{Body: b, Hash: hex.EncodeToString(sum[:])[:16],
			encoded: sync.OnceValue(func() encodings { return encode(b) })}
		return nil
	})
	if err != nil {
		panic("static: " + err.Error())
	}
	return out
}

func encode(b []byte) encodings {
	var br, gz bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	gw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // the level is valid
	for _, w := range []io.WriteCloser{bw, gw} {
		// Writing to memory cannot fail.
		_, _ = w.Write(b)
		_ = w.Close()
	}
	return encodings{brotli: smaller(br.Bytes(), b), gzip: smaller(gz.Bytes(), b)}
}

func smaller(enc, body []byte) []byte {
	if len(enc) >= len(body) {
		return nil
	}
	return enc
}

// Lookup returns the asset at a path such as "css/app.css".
func Lookup(name string) (Asset, bool) {
	a, ok := assets[name]
	return a, ok
}

// URL is the address pages link to: the content hash in the query makes
// every change a new URL, so browsers may cache each one forever.
func URL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return "/static/" + name + "?v=" + a.Hash
}
