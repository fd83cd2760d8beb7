package components

import (
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

// Text prints exactly what { s } prints: the string, HTML-escaped.
func TestTextEscapesAsTemplDoes(t *testing.T) {
	for _, s := range []string{"", "plain", `<script>alert("x")</script>`, "a & b", "it's", "Zoë 日本"} {
		var got, want strings.Builder
		if err := Text(s).Render(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		want.WriteString(templ.EscapeString(s))
		if got.String() != want.String() {
			t.Errorf("%q: got %q, want %q", s, got.String(), want.String())
		}
		if strings.ContainsAny(got.String(), "<>\"'") {
			t.Errorf("%q: unescaped markup in %q", s, got.String())
		}
	}
}
