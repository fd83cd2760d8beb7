// Package static embeds the portal's built assets (CSS, htmx, the small
// app script, the favicon) and names each with a content hash for
// long-lived caching.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed css/app.css js/htmx.min.js js/app.js favicon.svg
var Files embed.FS

// Asset is one embedded file and its content hash.
type Asset struct {
	Body []byte
	Hash string // hex SHA-256, first 16 characters
}

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
		out[p] = Asset{Body: b, Hash: hex.EncodeToString(sum[:])[:16]}
		return nil
	})
	if err != nil {
		panic("static: " + err.Error())
	}
	return out
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
