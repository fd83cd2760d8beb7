package models

import (
	"slices"
	"testing"
)

func TestRareStretches_PicksTheRarestUntilTheyFindAlmostNobody(t *testing.T) {
	shares := trigramShares{users: 10_000_000, rarest: 0.0003, share: map[string]float64{
		"nor": 0.008, "ora": 0.015, "rad": 0.002, "adj": 0.0044, "djo": 0.006, "joh": 0.0096, "ohn": 0.012,
		"hns": 0.0048, "nst": 0.02, "sto": 0.02, "ton": 0.03, "on7": 0.002,
		"roc": 0.026, "ock": 0.026, "cke": 0.026, "ket": 0.026, "etm": 0.026, "tma": 0.03, "mai": 0.7, "ail": 0.7,
		"ild": 0.7, "ldc": 0.7, "dco": 0.7, "com": 0.7, "n72": 0.011, "72a": 0.001, "2ar": 0.001,
	}}
	cases := []struct {
		key  string
		want []string
	}{
		// 10M × 0.002 × 0.002 × 0.0044 < 1: three stretches, none beside
		// another ("raD" and "on7" tie; "aDj" is next to "raD").
		{"noraDjohnston7", []string{"raD", "on7", "hns"}},
		// The domain's trigrams are never looked up; "Aro" is not listed,
		// so rarer than every listed one, and "2Ar" lies beside two picks.
		{"noraDjohnston72ArocketmailDcom", []string{"Aro", "72A", "raD"}},
	}
	for _, c := range cases {
		if got := shares.rareStretches(c.key); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.key, got, c.want)
		}
	}
	// A short term, one without a common trigram, a common term (10M ×
	// 0.3 × 0.3 users expected), or one the index splits into words, is
	// looked up whole.
	shares.share["omm"], shares.share["mmo"], shares.share["mon"] = 0.3, 0.3, 0.3
	shares.share["com"] = 0.3
	for _, key := range []string{"asan", "aaravs", "common", "nora johnston", "josé", "a%b_cde"} {
		if got := shares.rareStretches(key); got != nil {
			t.Errorf("%s: %q, want the whole term", key, got)
		}
	}
}

func TestSubstringWay_WalksUnlessEvenTheRarestTrigramIsRareEnoughToFetch(t *testing.T) {
	shares := trigramShares{users: 10_000_000, rarest: 0.0003, share: map[string]float64{
		"asa": 0.0085, "san": 0.022, "tma": 0.03, "mai": 0.7, "ara": 0.02, "rav": 0.004,
	}}
	// The walk and the fetch cost the same for a term in 26/58,138 of
	// the users (0.045 %): 58,138 entries walked, 20 matches fetched.
	if got := walkBudget(26, 10_000_000); got != 58_138 {
		t.Fatalf("walk budget for 26 rows among 10M: %d, want 58,138", got)
	}
	cases := []struct {
		key  string
		want substringWay
	}{
		// Every trigram held by more users than a walk needs: walk first.
		{"asan", substringWay{walk: 58_138}},
		{"tmai", substringWay{walk: 58_138}},
		// "rav" alone caps the term at 0.4 %: still worth walking.
		{"arav", substringWay{walk: 58_138}},
		// An unlisted trigram is rarer than every listed one (0.03 %):
		// fewer than 26 matches expected in the walk's budget.
		{"asaq", substringWay{fetch: true}},
		// Split into words by the index, or too short: the planner's.
		{"as an", substringWay{}},
		{"as", substringWay{}},
	}
	for _, c := range cases {
		if got := shares.way(c.key, 26); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.key, got, c.want)
		}
	}
}
