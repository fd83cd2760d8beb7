package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"ledgerdesk/models/text"
)

func TestRule_AcceptsRealTextInAnyScript(t *testing.T) {
	for _, s := range []string{
		"",
		"Ada Lovelace",
		"Zoë O'Brien-Łukasiewicz",
		"محمد\u200fالعلي", // Arabic with a right-to-left mark
		"می\u200cخواهم",   // Persian needs the zero-width non-joiner
		"क्\u200dष",       // Devanagari with a zero-width joiner
		"👩\u200d👩\u200d👧", // an emoji family joined by ZWJ
		"東京都千代田区",
		"\uFFFD", // the replacement character is text like any other
		strings.Repeat("é", 200),
	} {
		if p := text.Line(200).Problem(s); p != "" {
			t.Errorf("%q refused: %s", s, p)
		}
	}
}

func TestRule_RefusesBadBytesAndInvisibleControls(t *testing.T) {
	for _, tc := range []struct {
		name, s, want string
	}{
		{"NUL", "ab\x00c", "U+0000"},
		{"other C0 control", "a\x1bb", "U+001B"},
		{"DEL", "a\x7f", "U+007F"},
		{"C1 control", "a\u0085b", "U+0085"},
		{"invalid UTF-8", "a\xffb", "UTF-8"},
		{"truncated sequence", "caf\xc3", "UTF-8"},
		{"encoded surrogate", "a\xed\xa0\x80", "UTF-8"},
		{"overlong encoding", "\xc0\xaf", "UTF-8"},
		{"right-to-left override", "invoice\u202Efdp.exe", "U+202E"},
		{"left-to-right embedding", "a\u202Ab", "U+202A"},
		{"pop directional formatting", "a\u202Cb", "U+202C"},
		{"first strong isolate", "a\u2068b", "U+2068"},
		{"pop directional isolate", "a\u2069", "U+2069"},
		{"zero-width space", "ad\u200Bmin", "U+200B"},
		{"byte order mark", "\uFEFFadmin", "U+FEFF"},
		{"word joiner", "ad\u2060min", "U+2060"},
		{"tab", "a\tb", "one line"},
		{"line feed", "a\nb", "one line"},
		{"carriage return", "a\rb", "one line"},
		{"line separator", "a\u2028b", "one line"},
		{"201 characters", strings.Repeat("é", 201), "200"},
	} {
		p := text.Line(200).Problem(tc.s)
		if !strings.Contains(p, tc.want) {
			t.Errorf("%s: problem %q, want one mentioning %q", tc.name, p, tc.want)
		}
		if text.Line(200).Valid(tc.s) {
			t.Errorf("%s: Valid", tc.name)
		}
	}
}

func TestRule_LinesAllowTabsAndLineBreaksOnly(t *testing.T) {
	if p := text.Lines(100).Problem("+13125551212\r\n+442071838750\tx\u2029y"); p != "" {
		t.Errorf("multi-line text refused: %s", p)
	}
	for _, s := range []string{"a\x00\nb", "a\n\u202Eb", "a\n\xff"} {
		if text.Lines(100).Valid(s) {
			t.Errorf("%q accepted in a multi-line field", s)
		}
	}
}

func TestRule_CountsCharactersNotBytes(t *testing.T) {
	if !text.Line(4).Valid("🏦🏦🏦🏦") || text.Line(4).Valid("🏦🏦🏦🏦🏦") {
		t.Error("a bound counts characters")
	}
	if !(text.Rule{}).Valid(strings.Repeat("a", 1<<20)) {
		t.Error("the zero rule has no bound")
	}
	if text.Key.Valid(strings.Repeat("a", text.MaxKey+1)) || !text.Key.Valid(strings.Repeat("a", text.MaxKey)) {
		t.Error("Key's bound")
	}
}

func TestClean_KeepsWhatItCanAndStoresTheRest(t *testing.T) {
	got := text.Clean("Mozilla/5.0 \x00(\xff\tX11) \u202E\u200B"+strings.Repeat("é", 600), 512)
	if !utf8.ValidString(got) || !(text.Rule{}).Valid(got) || utf8.RuneCountInString(got) != 512 {
		t.Fatalf("Clean = %q", got)
	}
	if !strings.HasPrefix(got, "Mozilla/5.0 (X11) é") {
		t.Errorf("Clean = %q…", got[:30])
	}
}

// FuzzRule checks Problem against the rule as its documentation states
// it, one character at a time, and that Clean always yields text the rule
// takes.
func FuzzRule(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, max uint8, lines bool) {
		r := text.Rule{Max: int(max), Lines: lines}
		want := utf8.ValidString(s)
		for _, c := range s {
			switch {
			case c == '\t' || c == '\n' || c == '\r' || c == '\u2028' || c == '\u2029':
				want = want && lines
			case c < 0x20 || (c >= 0x7f && c < 0xa0):
				want = false
			case (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069'):
				want = false
			case c == '\u200B' || c == '\u2060' || c == '\uFEFF':
				want = false
			}
		}
		if max > 0 && utf8.RuneCountInString(s) > int(max) {
			want = false
		}
		p := r.Problem(s)
		if (p == "") != want {
			t.Fatalf("Rule%+v.Problem(%q) = %q, want valid=%v", r, s, p, want)
		}
		if p != "" && !utf8.ValidString(p) {
			t.Fatalf("problem %q is not valid UTF-8", p)
		}
		c := text.Clean(s, int(max))
		if !(text.Rule{Max: int(max)}).Valid(c) || len(c) > len(s) {
			t.Fatalf("Clean(%q, %d) = %q", s, max, c)
		}
	})
}
