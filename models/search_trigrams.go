package models

import (
	"context"
	"slices"
	"strings"
	"time"
)

// A long search term is looked up in the trigram index by its rarest
// stretches only (migration 0023): the index reads one posting list per
// trigram it is given, and the common ones hold most of the table. Every
// stretch is a part of the term, so every match of the term is among the
// rows they find; the whole term is then checked on those rows alone.

// trigramSharesEvery is how long a process keeps the trigrams' shares:
// they change only as fast as ANALYZE sees the table change.
const trigramSharesEvery = 10 * time.Minute

// maxStretches bounds the stretches looked up for one term.
const maxStretches = 4

// commonShare is the share of the users from which a trigram's posting
// list costs more to read than checking the term on a few more rows: a
// term with none as common is looked up whole.
const commonShare = 0.005

// trigramShares is how common each common trigram of search_key is.
type trigramShares struct {
	share  map[string]float64 // lower-case trigram → share of the users holding it
	rarest float64            // the least share listed: a trigram not listed is rarer
	users  float64            // the table's estimated size
}

// searchTrigramShares reads the shares ANALYZE keeps, at most once per
// trigramSharesEvery. ok is false when there are none (SQLite, a table
// never analyzed) or they could not be read: the search then looks up the
// whole term, as it would without them.
func (db *DB) searchTrigramShares(ctx context.Context) (trigramShares, bool) {
	if db.Dialect != Postgres {
		return trigramShares{}, false
	}
	s, err := db.trigrams.get(trigramSharesEvery, func() (trigramShares, error) {
		var rows []struct {
			Trigram string
			Share   float64
		}
		g := db.gorm.WithContext(ctx)
		if err := g.Raw(`SELECT trigram, share FROM search_trigram_shares()`).Scan(&rows).Error; err != nil {
			if ctx.Err() != nil {
				return trigramShares{}, err
			}
			// Kept as none until the next read: searches go on as they
			// would without the figures, not retrying on every request.
			return trigramShares{}, nil
		}
		out := trigramShares{share: make(map[string]float64, len(rows)), rarest: 1}
		for _, r := range rows {
			out.share[r.Trigram] = r.Share
			out.rarest = min(out.rarest, r.Share)
		}
		err := g.Raw(`SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'end_users'::regclass`).Scan(&out.users).Error
		return out, err
	})
	return s, err == nil && len(s.share) > 0
}

// rareStretches picks the three-character stretches of key (a search
// key, see SearchKey) to look up: the rarest first, until together they
// are expected to find less than one user besides the term's matches.
// Stretches that overlap a picked one by two characters are passed over,
// as they are found in nearly the same rows. It returns nil when the
// picks would be every trigram of the term anyway (a short term), when
// none of them is common, when even the picks are expected to find users
// (a common term), or when a character is one the trigram index does not
// see as a word's.
func (s trigramShares) rareStretches(key string) []string {
	if !isTrigramWord(key) || len(key) < 5 {
		return nil
	}
	type stretch struct {
		at    int
		share float64
	}
	all := make([]stretch, 0, len(key)-2)
	for i := 0; i+3 <= len(key); i++ {
		share, ok := s.share[strings.ToLower(key[i:i+3])]
		if !ok {
			share = s.rarest / 2
		}
		all = append(all, stretch{i, share})
	}
	slices.SortStableFunc(all, func(a, b stretch) int {
		switch {
		case a.share < b.share:
			return -1
		case a.share > b.share:
			return 1
		}
		return a.at - b.at
	})
	if all[len(all)-1].share < commonShare {
		return nil
	}
	var picked []stretch
	expected := s.users
	for _, st := range all {
		if expected < 1 || len(picked) == maxStretches {
			break
		}
		if slices.ContainsFunc(picked, func(p stretch) bool { return p.at-st.at == 1 || st.at-p.at == 1 }) {
			continue
		}
		picked = append(picked, st)
		expected *= st.share
	}
	if len(picked) == len(all) || expected >= 1 {
		// Every trigram anyway, or a term common enough that its
		// stretches find many rows: the planner's walk of the newest
		// users, or its bitmap, does better with the whole term.
		return nil
	}
	out := make([]string, len(picked))
	for i, p := range picked {
		out[i] = key[p.at : p.at+3]
	}
	return out
}

// isTrigramWord says key is one word of ASCII letters and digits: the
// trigram index splits text into words at anything else, so only then is
// each three-character stretch one of its trigrams.
func isTrigramWord(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return key != ""
}
