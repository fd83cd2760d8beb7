// Package text is the one rule for every text value Ledgerdesk stores or
// looks a record up by, applied at every edge: the portal's forms and
// filters, the JSON API's body reader and the models' own validation.
//
// PostgreSQL refuses a NUL byte and invalid UTF-8 where SQLite stores
// them; checking text before it reaches either makes both databases agree
// on what is valid, and makes hostile bytes a 4xx instead of a 500.
package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rule is what one field accepts. The zero Rule is a single line of any
// length.
type Rule struct {
	// Max is the most characters (code points) the field holds; 0: no
	// bound of its own.
	Max int
	// Lines lets the field hold tabs and line breaks: a textarea.
	Lines bool
}

// Line is a single-line field of at most max characters.
func Line(max int) Rule { return Rule{Max: max} }

// Lines is a multi-line field (tabs and line breaks allowed) of at most
// max characters.
func Lines(max int) Rule { return Rule{Max: max, Lines: true} }

// MaxKey is the longest lookup key: ids, tokens, cursors, secrets.
const MaxKey = 256

// Key is the rule for lookup keys: ids, tokens, cursors and credentials.
// A value that breaks it names nothing.
var Key = Line(MaxKey)

// NotUTF8 is the problem of text that is not valid UTF-8.
const NotUTF8 = "Use plain text: this holds bytes that are not valid UTF-8."

// Problem says what in s breaks the rule, as a sentence to show beside
// the field; "" when s follows it.
//
// Refused everywhere: invalid UTF-8; NUL and every other C0 or C1 control
// character (tab, line feed and carriage return are allowed in Lines);
// the bidirectional embedding, override and isolate controls U+202A–U+202E
// and U+2066–U+2069, which make a value display in another order than it
// is stored ("exe.gnp" shown as "png.exe"); and the invisible U+200B ZERO
// WIDTH SPACE, U+2060 WORD JOINER and U+FEFF BYTE ORDER MARK, which let two
// values that look the same differ (a client_user_id, an email address, a
// name in a search). None of these is needed to write a name, an address
// or a reason in any language. The joiners U+200C and U+200D stay allowed:
// Persian, the Indic scripts and emoji sequences need them. So do the
// left-to-right and right-to-left marks U+200E and U+200F, which only
// steer neutral characters and cannot reorder text. In a single-line
// field U+2028 and U+2029, the line and paragraph separators, are line
// breaks and refused.
func (r Rule) Problem(s string) string {
	if !utf8.ValidString(s) {
		return NotUTF8
	}
	n := 0
	for _, c := range s {
		n++
		switch {
		case c == '\t' || c == '\n' || c == '\r' || c == '\u2028' || c == '\u2029':
			if !r.Lines {
				return "Keep this to one line: line breaks and tabs are not accepted here."
			}
		case unicode.IsControl(c):
			return fmt.Sprintf("Remove the control character %U: only printable text is accepted.", c)
		case isBidiControl(c):
			return fmt.Sprintf("Remove the invisible direction control %U: it makes text display in another order than it is stored.", c)
		case isZeroWidth(c):
			return fmt.Sprintf("Remove the invisible character %U.", c)
		}
	}
	if r.Max > 0 && n > r.Max {
		return fmt.Sprintf("Use at most %d characters; this has %d.", r.Max, n)
	}
	return ""
}

// Valid reports whether s follows the rule.
func (r Rule) Valid(s string) bool { return r.Problem(s) == "" }

func isBidiControl(c rune) bool {
	return (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069')
}

func isZeroWidth(c rune) bool { return c == '\u200B' || c == '\u2060' || c == '\uFEFF' }

// Clean makes a value that is recorded as received and never refused (a
// browser's User-Agent) storable and safe to show: invalid UTF-8 and
// every character Problem refuses (controls, direction controls,
// zero-width characters) are dropped, and it is cut to at most max
// characters. It never makes s longer.
func Clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.ToValidUTF8(s, "") {
		if n == max {
			break
		}
		if unicode.IsControl(c) || isBidiControl(c) || isZeroWidth(c) || c == '\u2028' || c == '\u2029' {
			continue
		}
		b.WriteRune(c)
		n++
	}
	return b.String()
}
