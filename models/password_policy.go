package models

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"
	"github.com/trustelem/zxcvbn/match"
)

// The password rule. Length alone lets "password1234" through, so a
// password must also be hard to guess as a cracker would guess it: the
// zxcvbn estimator (dictionaries of passwords, words and names, keyboard
// walks, repeats, sequences, dates, l33t, with the member's email and the
// product's name as extra words) must score it at least MinPasswordScore,
// and a blocklist refuses what the estimator scores too kindly: long leaked
// passwords, one common word with digits or symbols around it (the estimator
// adds a fixed allowance per piece, so "Mountain2024!" passes it), and runs
// of a few characters. No composition rules (NIST SP 800-63B): they make
// passwords harder to remember, not to guess.
const (
	// MinPasswordLength counts characters, not bytes.
	MinPasswordLength = 12
	// MaxPasswordBytes bounds a password in bytes before anything else
	// looks at it: a megabyte password is an attack, not a secret.
	MaxPasswordBytes = 128
	// MinPasswordScore is zxcvbn's "safely unguessable": at least 10^8
	// guesses by its estimate. Below it, 2 is "protection from unthrottled
	// online attacks" only; the hashes this portal keeps must also hold up
	// offline.
	MinPasswordScore = 3
	// estimatorWindow is how many leading bytes the estimator scores. Its
	// matching grows faster than the square of the length (128 bytes of
	// l33t-like symbols take about a second), so it sees a prefix; a
	// longer password is at least as hard to guess as its first 32 bytes,
	// and the blocklist checks the whole.
	estimatorWindow = 32
	// minDistinctRunes: "2222333344445555" is four characters repeated.
	minDistinctRunes = 5
)

// ProductNames are the words of this product that a password must not be
// built from.
var ProductNames = []string{"Ledgerdesk", "ledgerdesk"}

// PasswordContext is what a member's password must not be built from,
// besides the product's name.
type PasswordContext struct {
	Email string
}

// PasswordRefusal says why a password was refused, in one sentence shown
// beside the field, and how to choose a better one.
type PasswordRefusal struct {
	Message string
	Advice  []string
}

// addTo records the refusal under field, in fields and advice.
func (r *PasswordRefusal) addTo(fields FieldErrors, advice FieldAdvice, field string) {
	fields.Add(field, r.Message)
	advice[field] = r.Advice
}

// invalidWithAdvice is fields.Err() carrying advice; nil when no field failed.
func invalidWithAdvice(fields FieldErrors, advice FieldAdvice) error {
	err := fields.Err()
	if e, ok := err.(*Error); ok && len(advice) > 0 {
		e.Advice = advice
	}
	return err
}

// Advice that fits any refused password.
const (
	advicePhrase    = "Use a few unrelated words: a phrase is easier to remember and harder to guess."
	adviceMoreWords = "Add another word or two; uncommon words are better."
	adviceNoSymbols = "No need for symbols, digits or capital letters."
)

// CheckPassword applies the password rule to pw for the member described
// by c; nil means the password is accepted. Every place a password is set
// goes through it. Nothing about pw is kept.
func CheckPassword(pw string, c PasswordContext) *PasswordRefusal {
	// Bounds first, in constant or linear time.
	if len(pw) > MaxPasswordBytes {
		return &PasswordRefusal{
			Message: fmt.Sprintf("Use at most %d bytes: %d letters or digits, fewer accented or non-Latin characters.", MaxPasswordBytes, MaxPasswordBytes),
			Advice:  []string{"A phrase of four or five unrelated words is strong and much shorter than that."},
		}
	}
	if !utf8.ValidString(pw) || strings.IndexFunc(pw, unicode.IsControl) >= 0 {
		return &PasswordRefusal{
			Message: "This password contains a character that cannot be used (a control character or text that is not valid UTF-8).",
			Advice:  []string{"Type the password again using letters, digits, spaces and punctuation."},
		}
	}
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return &PasswordRefusal{
			Message: fmt.Sprintf("Use at least %d characters.", MinPasswordLength),
			Advice:  []string{advicePhrase},
		}
	}
	// The estimator first: where it refuses, its reading of the password
	// makes the most specific feedback.
	words := newContextWords(c)
	res := zxcvbn.PasswordStrength(estimatorPrefix(pw), words.inputs)
	if res.Score < MinPasswordScore {
		return estimatorFeedback(res.Sequence, words)
	}
	return checkBlocklist(pw, words)
}

// estimatorPrefix is the first estimatorWindow bytes of pw, cut between
// characters.
func estimatorPrefix(pw string) string {
	if len(pw) <= estimatorWindow {
		return pw
	}
	n := estimatorWindow
	for n > 0 && !utf8.RuneStart(pw[n]) {
		n--
	}
	return pw[:n]
}

// contextWords are the member's and the product's words, as the
// estimator's extra dictionary and as lower-case sets for the blocklist.
type contextWords struct {
	inputs   []string
	email    string
	personal map[string]bool // from the email address
	product  map[string]bool
}

// newContextWords splits an email address the ways people reuse it in a
// password: "jane.doe+ld@example.com" gives the address, "jane.doe+ld",
// "jane.doe", "janedoe", "jane", "doe", "example.com" and "example".
func newContextWords(c PasswordContext) contextWords {
	w := contextWords{personal: map[string]bool{}, product: map[string]bool{}}
	for _, p := range ProductNames {
		w.product[strings.ToLower(p)] = true
		w.inputs = append(w.inputs, p)
	}
	email := strings.ToLower(strings.TrimSpace(c.Email))
	if email == "" {
		return w
	}
	w.email = email
	add := func(s string) {
		if utf8.RuneCountInString(s) >= 3 && !w.personal[s] {
			w.personal[s] = true
			w.inputs = append(w.inputs, s)
		}
	}
	add(email)
	local, domain, _ := strings.Cut(email, "@")
	isSep := func(r rune) bool { return strings.ContainsRune(".-_+", r) }
	add(local)
	base, _, _ := strings.Cut(local, "+")
	add(base)
	add(strings.Join(strings.FieldsFunc(base, isSep), ""))
	for _, part := range strings.FieldsFunc(base, isSep) {
		add(part)
	}
	add(domain)
	labels := strings.Split(domain, ".")
	for _, l := range labels[:len(labels)-1] { // not the top-level domain
		add(l)
	}
	return w
}

// PasswordBlocklistSize is how many long leaked passwords the shipped list
// holds.
func PasswordBlocklistSize() int {
	return len(blocklist().long)
}

//go:embed data/long_passwords.txt
var longPasswordsText string

type blocklistSets struct {
	long  map[string]bool // leaked passwords of MinPasswordLength or more
	words map[string]bool // common passwords, words and names
}

var blocklist = sync.OnceValue(func() blocklistSets {
	b := blocklistSets{long: map[string]bool{}, words: map[string]bool{}}
	for _, l := range strings.Split(longPasswordsText, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			b.long[l] = true
		}
	}
	// The estimator's own dictionaries: passwords, English words from
	// Wikipedia and film subtitles, US names and surnames.
	for _, list := range frequency.FrequencyLists {
		for _, w := range list {
			b.words[w] = true
		}
	}
	return b
})

// Undoing l33t both ways "1", "|" and "7" are read.
var (
	unleetI = strings.NewReplacer("4", "a", "@", "a", "8", "b", "(", "c", "3", "e", "6", "g", "9", "g",
		"1", "i", "!", "i", "|", "i", "0", "o", "$", "s", "5", "s", "+", "t", "7", "t", "%", "x", "2", "z")
	unleetL = strings.NewReplacer("4", "a", "@", "a", "8", "b", "(", "c", "3", "e", "6", "g", "9", "g",
		"1", "l", "!", "i", "|", "l", "0", "o", "$", "s", "5", "s", "+", "t", "7", "l", "%", "x", "2", "z")
)

// unshift types a password's shifted digits unshifted, as on a US keyboard:
// "!QAZ2wsx" is the walk "1qaz2wsx" with the shift key held in turns.
var unshift = strings.NewReplacer("!", "1", "@", "2", "#", "3", "$", "4", "%", "5", "^", "6", "&", "7", "*", "8", "(", "9", ")", "0")

// checkBlocklist refuses what the estimator scores too kindly. Each check is
// a scan of the password (at most MaxPasswordBytes) or a few map lookups.
func checkBlocklist(pw string, w contextWords) *PasswordRefusal {
	lower := strings.ToLower(pw)
	if w.email != "" && strings.Contains(lower, w.email) {
		return &PasswordRefusal{
			Message: "Do not use your email address in your password.",
			Advice:  []string{advicePhrase},
		}
	}
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	if len(distinct) < minDistinctRunes {
		return &PasswordRefusal{
			Message: "This password repeats a few characters, which is easy to guess.",
			Advice:  []string{"Avoid repeated words and characters.", advicePhrase},
		}
	}
	b := blocklist()
	if b.long[strings.TrimSpace(lower)] || b.long[unshift.Replace(lower)] {
		return &PasswordRefusal{
			Message: "This password is commonly used: it is on lists of passwords leaked from other sites, which attackers try first.",
			Advice:  []string{advicePhrase},
		}
	}
	stem := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	if stem == "" {
		return nil
	}
	padded := stem != lower
	for _, v := range stemVariants(stem) {
		var msg string
		switch {
		case w.product[v]:
			msg = "Do not build your password from the product's name."
		case w.personal[v]:
			msg = "Do not build your password from your email address."
		case b.long[v] || b.words[v]:
			if padded {
				msg = "A common word or password with digits or symbols around it is easy to guess."
			} else {
				msg = "A single common word or password is easy to guess."
			}
		default:
			continue
		}
		advice := []string{advicePhrase}
		if padded {
			advice = append(advice, "Digits and symbols added at the start or end barely help.")
		}
		return &PasswordRefusal{Message: msg, Advice: advice}
	}
	return nil
}

// stemVariants are the spellings a cracker would try for stem: as typed,
// with l33t undone, reversed, and a word typed twice ("monkeymonkey")
// taken once.
func stemVariants(stem string) []string {
	var out []string
	for _, s := range []string{stem, unleetI.Replace(stem), unleetL.Replace(stem)} {
		for _, v := range []string{s, reverse(s)} {
			out = append(out, v, repeatUnit(v))
		}
	}
	return out
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// repeatUnit returns the shortest u such that s is u repeated, or s.
func repeatUnit(s string) string {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return s[:n]
		}
	}
	return s
}

// estimatorFeedback turns the estimator's reading of a refused password
// into plain words, after zxcvbn's own feedback: the longest piece it
// recognised says why, and the advice says what would help.
func estimatorFeedback(seq []*match.Match, w contextWords) *PasswordRefusal {
	r := &PasswordRefusal{Message: "This password is too easy to guess."}
	if len(seq) == 0 {
		r.Advice = []string{advicePhrase, adviceNoSymbols}
		return r
	}
	longest := seq[0]
	for _, m := range seq[1:] {
		if utf8.RuneCountInString(m.Token) > utf8.RuneCountInString(longest.Token) {
			longest = m
		}
	}
	sole := len(seq) == 1
	var advice []string
	switch longest.Pattern {
	case "dictionary":
		r.Message, advice = dictionaryFeedback(longest, sole, w)
	case "spatial":
		if longest.Turns == 1 {
			r.Message = "Straight rows of keys, like \"qwerty\", are easy to guess."
		} else {
			r.Message = "Short keyboard patterns, like \"1qaz2wsx\", are easy to guess."
		}
		advice = []string{"Avoid keyboard patterns."}
	case "repeat":
		if utf8.RuneCountInString(longest.BaseToken) == 1 {
			r.Message = "Repeated characters, like \"aaa\", are easy to guess."
		} else {
			r.Message = "Repeats like \"abcabcabc\" are barely harder to guess than \"abc\"."
		}
		advice = []string{"Avoid repeated words and characters."}
	case "sequence":
		r.Message = "Sequences like \"abc\" or \"6543\" are easy to guess."
		advice = []string{"Avoid sequences."}
	case "regex":
		if longest.RegexName == "recent_year" {
			r.Message = "Recent years are easy to guess."
			advice = []string{"Avoid recent years and years that mean something to you."}
		}
	case "date":
		r.Message = "Dates are easy to guess."
		advice = []string{"Avoid dates and years that mean something to you."}
	}
	r.Advice = append([]string{adviceMoreWords}, advice...)
	return r
}

func dictionaryFeedback(m *match.Match, sole bool, w contextWords) (string, []string) {
	msg := "This password is too easy to guess."
	switch m.DictionaryName {
	case "passwords":
		switch {
		case sole && !m.L33t && !m.Reversed && m.Rank <= 100:
			msg = "This is one of the 100 most commonly used passwords."
		case sole && !m.L33t && !m.Reversed:
			msg = "This is a commonly used password."
		default:
			msg = "This is similar to a commonly used password."
		}
	case "english_wikipedia", "us_tv_and_film":
		if sole {
			msg = "A single word is easy to guess."
		} else {
			msg = "Common words alone are easy to guess."
		}
	case "surnames", "male_names", "female_names":
		msg = "Names and surnames are easy to guess."
	case "user_inputs":
		if w.product[m.MatchedWord] {
			msg = "Do not build your password from the product's name."
		} else {
			msg = "Do not build your password from your email address."
		}
	}
	var advice []string
	token := m.Token
	switch {
	case token != strings.ToLower(token) && token == strings.ToUpper(token):
		advice = append(advice, "All capitals are almost as easy to guess as all lower case.")
	case token != strings.ToLower(token):
		advice = append(advice, "Capital letters do not help much.")
	}
	if m.Reversed && utf8.RuneCountInString(token) >= 4 {
		advice = append(advice, "Words spelt backwards are not much harder to guess.")
	}
	if m.L33t {
		advice = append(advice, "Predictable substitutions, like \"@\" for \"a\", do not help much.")
	}
	return msg, advice
}
