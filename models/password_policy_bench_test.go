package models

import (
	"strconv"
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn"
)

// The blocklist earns its place: the estimator alone scores each of these
// at least MinPasswordScore, and CheckPassword still refuses them.
func TestBlocklistCatchesWhatTheEstimatorMisses(t *testing.T) {
	w := newContextWords(PasswordContext{Email: "jane.doe@example.com"})
	for _, pw := range []string{"qw12er34ty56", "showmethemoney", "!QAZ2wsx#EDC4rfv", "2222333344445555",
		"Mountain2024!", "monkey123456!", "Summer2024!!", "Appreciation2024!", "yeknom2024!!!",
		"Ledgerdesk2026!!", "my email is jane.doe@example.com"} {
		if s := zxcvbn.PasswordStrength(estimatorPrefix(pw), w.inputs).Score; s < MinPasswordScore {
			t.Errorf("%q: the estimator alone scores %d; pick an example it misses", pw, s)
		}
		if CheckPassword(pw, PasswordContext{Email: "jane.doe@example.com"}) == nil {
			t.Errorf("%q accepted", pw)
		}
	}
}

func TestEstimatorPrefix_CutsBetweenCharacters(t *testing.T) {
	pw := strings.Repeat("a", estimatorWindow-1) + "é" + "tail"
	if got := estimatorPrefix(pw); got != strings.Repeat("a", estimatorWindow-1) {
		t.Fatalf("prefix %q", got)
	}
	if got := estimatorPrefix("short"); got != "short" {
		t.Fatalf("prefix %q", got)
	}
}

// Inputs that make zxcvbn's matching work hardest: every character has
// l33t readings (each reading is matched against every dictionary again),
// digits that read as dates, and a keyboard walk. Each is MaxPasswordBytes
// long, the most CheckPassword lets through to the estimator.
var worstCasePasswords = map[string]string{
	"l33t symbols":  "4@8({[<3691!|70$5+%2",
	"digits, dates": "19901231",
	"keyboard walk": "1q2w3e4r5t6y",
	"repeat":        "ab",
}

func fillTo(unit string, n int) string {
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

// BenchmarkCheckPassword is the whole rule at its length bound, with a
// member's context: what every attempt to set a password costs.
func BenchmarkCheckPassword(b *testing.B) {
	c := PasswordContext{Email: "jane.doe@example.com"}
	CheckPassword("warm up the blocklist", c)
	for name, unit := range worstCasePasswords {
		b.Run(name, func(b *testing.B) {
			pw := fillTo(unit, MaxPasswordBytes)
			for b.Loop() {
				CheckPassword(pw, c)
			}
		})
	}
	b.Run("strong passphrase", func(b *testing.B) {
		for b.Loop() {
			CheckPassword("violet anchor tramway 42", c)
		}
	})
	// The step the rule must stay well below: the argon2id hash that
	// every accepted password costs.
	b.Run("argon2id hash, for comparison", func(b *testing.B) {
		for b.Loop() {
			if _, err := HashPassword(b.Context(), "violet anchor tramway 42"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("a megabyte", func(b *testing.B) {
		pw := strings.Repeat("correct horse ", 75000)
		for b.Loop() {
			CheckPassword(pw, c)
		}
	})
}

// BenchmarkEstimator is zxcvbn alone on the worst inputs, at the window
// CheckPassword uses and at longer ones, to show why it sees a prefix.
func BenchmarkEstimator(b *testing.B) {
	inputs := newContextWords(PasswordContext{Email: "jane.doe@example.com"}).inputs
	for _, n := range []int{estimatorWindow, 64, MaxPasswordBytes} {
		for name, unit := range worstCasePasswords {
			b.Run(name+"/"+strconv.Itoa(n)+"B", func(b *testing.B) {
				pw := fillTo(unit, n)
				for b.Loop() {
					zxcvbn.PasswordStrength(pw, inputs)
				}
			})
		}
	}
}
