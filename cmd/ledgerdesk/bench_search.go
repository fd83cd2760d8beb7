package main

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"ledgerdesk/models"
)

// The search sweep: terms picked from the data by how many users they
// match, from a tenth of everyone down to nobody, because a substring
// search's cost depends on that more than on anything else. The common
// ones are found newest first along the active users' index, the rare
// ones through the trigram index; the few thousand in between are where
// neither is cheap.

// sweepShares are the shares of the users the swept common terms match.
var sweepShares = []struct {
	label string
	share float64
}{{"10 %", 0.10}, {"1 %", 0.01}, {"0.1 %", 0.001}, {"0.01 %", 0.0001}}

// sweepSample is about how many users the term finder reads.
const sweepSample = 40000

// sweepTerm is a term and how many active users it matches.
type sweepTerm struct {
	label   string
	term    string
	matches int64
}

// searchSweep picks the sweep's terms from a sample of the users and
// counts each one's matches exactly.
func searchSweep(ctx context.Context, db *models.DB) ([]sweepTerm, error) {
	g := db.Gorm().WithContext(ctx)
	var users int64 // as of the bench's VACUUM ANALYZE
	if err := g.Raw(`SELECT reltuples::bigint FROM pg_class WHERE oid = 'end_users'::regclass`).Scan(&users).Error; err != nil {
		return nil, err
	}
	pct := math.Min(100, 100*float64(sweepSample)/math.Max(1, float64(users)))
	var keys []string
	err := g.Raw(`SELECT search_key FROM end_users TABLESAMPLE SYSTEM (?) REPEATABLE (17)
		WHERE removed_at IS NULL AND search_key <> ''`, pct).Scan(&keys).Error
	if err != nil {
		return nil, fmt.Errorf("sample search keys: %w", err)
	}
	if len(keys) < 100 {
		return nil, fmt.Errorf("search sweep: only %d users with a name to sample", len(keys))
	}
	var terms []sweepTerm
	for _, t := range commonTerms(keys) {
		for _, cand := range t.candidates {
			n, err := countMatches(g, cand, 0)
			if err != nil {
				return nil, err
			}
			// Within a factor of two of the share is close enough; the
			// last candidate is taken whatever it matches.
			want := t.share * float64(users)
			if float64(n) >= want/2 && float64(n) <= want*2 || cand == t.candidates[len(t.candidates)-1] {
				terms = append(terms, sweepTerm{label: t.label, term: cand, matches: n})
				break
			}
		}
	}
	rare, err := rareTerms(g, keys)
	if err != nil {
		return nil, err
	}
	return append(terms, rare...), nil
}

type commonTerm struct {
	label      string
	share      float64
	candidates []string // best first
}

// commonTerms are, for each share, the substrings of 4 to 6 letters
// whose share of the sample is nearest it.
func commonTerms(keys []string) []commonTerm {
	counts := map[string]int{}
	seen := map[string]bool{}
	for _, k := range keys {
		clear(seen)
		for _, word := range strings.Fields(k) {
			for size := 4; size <= 6; size++ {
				for i := 0; i+size <= len(word); i++ {
					s := word[i : i+size]
					if !lettersOnly(s) {
						continue
					}
					if !seen[s] {
						seen[s] = true
						counts[s]++
					}
				}
			}
		}
	}
	type scored struct {
		term     string
		distance float64
	}
	var out []commonTerm
	for _, sh := range sweepShares {
		var best []scored
		for s, c := range counts {
			d := math.Abs(math.Log(float64(c) / float64(len(keys)) / sh.share))
			best = append(best, scored{s, d})
		}
		slices.SortFunc(best, func(a, b scored) int {
			if a.distance != b.distance {
				return cmpFloat(a.distance, b.distance)
			}
			return strings.Compare(a.term, b.term)
		})
		t := commonTerm{label: "about " + sh.label, share: sh.share}
		for _, b := range best[:min(8, len(best))] {
			t.candidates = append(t.candidates, b.term)
		}
		out = append(out, t)
	}
	return out
}

// lettersOnly says s is lower-case letters, as most searches are.
func lettersOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}

// typedTerm is a piece of search_key as a member types it: the capitals
// search_key stands punctuation in for turned back (see models.SearchKey).
var typedTerm = strings.NewReplacer("D", ".", "A", "@", "U", "_", "H", "-", "P", "+", "Q", "'").Replace

// rareTerms are a handful of matches (the start of someone's email
// address, which a few people share), exactly one (a whole address) and
// none (an address nobody has, made of common pieces).
func rareTerms(g *gorm.DB, keys []string) ([]sweepTerm, error) {
	var handful, one, none *sweepTerm
	for _, k := range keys {
		if handful != nil && one != nil && none != nil {
			break
		}
		var email string
		for _, w := range strings.Fields(k) {
			if strings.Contains(w, "A") {
				email = typedTerm(w)
				break
			}
		}
		local, domain, ok := strings.Cut(email, "@")
		if !ok || len(local) < 6 {
			continue
		}
		if one == nil {
			n, err := countMatches(g, email, 2)
			if err != nil {
				return nil, err
			}
			if n == 1 {
				one = &sweepTerm{label: "exactly one", term: email, matches: 1}
			}
		}
		if none == nil {
			miss := local + "q@" + domain
			n, err := countMatches(g, miss, 1)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				none = &sweepTerm{label: "none", term: miss}
			}
		}
		if handful == nil {
			for size := len(local); size >= 5; size-- {
				n, err := countMatches(g, local[:size], 21)
				if err != nil {
					return nil, err
				}
				if n >= 2 && n <= 20 {
					handful = &sweepTerm{label: "a handful", term: local[:size], matches: n}
					break
				}
				if n > 20 {
					break
				}
			}
		}
	}
	if handful == nil || one == nil || none == nil {
		return nil, fmt.Errorf("search sweep: no rare terms found in %d sampled users", len(keys))
	}
	return []sweepTerm{*handful, *one, *none}, nil
}

// countMatches counts the active users whose search_key contains term,
// stopping at limit when it is positive.
func countMatches(g *gorm.DB, term string, limit int) (int64, error) {
	q := `SELECT count(*) FROM (SELECT 1 FROM end_users WHERE removed_at IS NULL AND search_key LIKE ?`
	args := []any{"%" + models.SearchKey(term) + "%"}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	var n int64
	if err := g.Raw(q+`) AS matched`, args...).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("count matches of %q: %w", term, err)
	}
	return n, nil
}

// sweepPages are the sweep's terms as pages to measure.
func sweepPages(terms []sweepTerm) []benchPage {
	var pages []benchPage
	for _, t := range terms {
		q := url.QueryEscape(t.term)
		pages = append(pages, benchPage{
			name:   "search " + t.label + " " + strconv.Quote(t.term) + " (" + strconv.FormatInt(t.matches, 10) + " users)",
			portal: "/users?q=" + q, reference: "/users?q=" + q,
			explainSQL: searchSQL, explainArgs: searchArgs(t.term)})
	}
	return pages
}
