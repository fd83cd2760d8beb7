package components

import (
	"context"
	"io"
	"strconv"

	"github.com/a-h/templ"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Text writes s HTML-escaped, exactly as { s } does, without the
// fmt.Sprint that templ runs on every string it prints. Long tables print
// ten values a row; their rows use @components.Text.
type Text string

func (s Text) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, templ.EscapeString(string(s)))
	return err
}
