// Package demo makes realistic demo data: end users with names, emails,
// phone numbers, addresses and sealed identities, and their items across
// about 30 institutions, for a new portal to show and for the benchmarks to
// measure. It writes through models' audited bulk load.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"ledgerdesk/models"
)

// Options says what demo data Seed makes.
type Options struct {
	Users int    // how many end users
	Seed  uint64 // the same seed (and count) makes the same people and items
	// Note, if set, hears about a slow step that follows the last batch
	// (rebuilding indexes after a bulk load).
	Note func(msg string)
}

// Result is what a seed made.
type Result struct {
	Users        int
	Items        int
	ErrorItems   int // items in error
	Institutions int
	FirstID      int64 // the seeded users' ids are FirstID..LastID
	LastID       int64
	Elapsed      time.Duration
}

// seedChunkSize is how many users one generated batch holds: one COPY per
// table on PostgreSQL, a few multi-row INSERTs on SQLite. Generation is
// deterministic per batch, so it is part of what a seed means.
const seedChunkSize = 10000

// seedSpan is how far back the seeded users' created_at reach.
const seedSpan = 730 * 24 * time.Hour

// Seed fills db with realistic demo data: opts.Users end users (names,
// emails, E.164 phone numbers, US addresses, sealed SSN and date of birth
// for most) and 0–5 items each across about 30 institutions, about 5% of
// them in error and 3% with consent expiring within a week. The same
// opts.Seed makes the same people and items; ids continue after the
// existing users, so seeding twice adds more users without collisions,
// and user_tokens are random (their hashes only: nobody ever sees them).
//
// The whole seed is one audited change, one system.seed entry with the
// counts, committed with the data in one transaction: a failed or
// cancelled seed leaves nothing. It is a bulk load (models.DB.LoadEndUsers
// says how it locks and, for a large one, rebuilds indexes). progress, if
// not nil, is called as batches are written.
func Seed(ctx context.Context, db *models.DB, o models.Origin, opts Options, progress func(done, total int)) (Result, error) {
	if opts.Users <= 0 {
		return Result{}, fmt.Errorf("seed: the number of users must be positive, not %d", opts.Users)
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	if opts.Note == nil {
		opts.Note = func(string) {}
	}
	began := time.Now()
	g := newSeedGen(db, opts, models.Now())
	var res Result
	err := db.LoadEndUsers(ctx, o, opts.Users, opts.Note, func(tx *gorm.DB, l *models.BulkLoad) (models.Change, error) {
		g.load = l
		if err := insertSeedInstitutions(tx); err != nil {
			return models.Change{}, err
		}
		progress(0, opts.Users)
		err := g.run(ctx, func(c *seedChunk) error {
			if err := l.Write(ctx, c.batch); err != nil {
				return err
			}
			res.Users += c.userCount
			res.Items += c.itemCount
			res.ErrorItems += c.errorItems
			progress(res.Users, opts.Users)
			return nil
		})
		if err != nil {
			return models.Change{}, err
		}
		res.Institutions = len(seedInstitutions)
		res.FirstID, res.LastID = l.FirstID, l.FirstID+int64(opts.Users)-1
		return models.Change{Action: "system.seed",
			Target: models.Target{Type: "end_user", ID: fmt.Sprintf("%d-%d", res.FirstID, res.LastID)},
			After: map[string]any{"users": res.Users, "items": res.Items, "items_in_error": res.ErrorItems,
				"institutions": res.Institutions, "seed": strconv.FormatUint(opts.Seed, 10),
				"first_id": res.FirstID, "last_id": res.LastID, "bulk": l.Bulk}}, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("seed %d users: %w", opts.Users, err)
	}
	res.Elapsed = time.Since(began)
	return res, nil
}

// --- institutions, products and errors ---

type seedInstitution struct {
	ID, Name string
	Weight   float64 // how popular, relative to the others
}

// The first five are Plaid's Sandbox institutions; the others are invented.
var seedInstitutions = []seedInstitution{
	{"ins_109508", "First Platypus Bank", 14},
	{"ins_109509", "First Gingham Credit Union", 9},
	{"ins_109510", "Tattersall Federal Credit Union", 7},
	{"ins_109511", "Tartan Bank", 8},
	{"ins_109512", "Houndstooth Bank", 6},
	{"ins_127287", "Harborview National Bank", 12},
	{"ins_118923", "Cedar Valley Credit Union", 5},
	{"ins_121474", "Summit Ridge Savings Bank", 4},
	{"ins_112060", "Prairie State Bank & Trust", 4},
	{"ins_115616", "Bluewater Federal Credit Union", 5},
	{"ins_109925", "Golden Gate Community Bank", 3},
	{"ins_110144", "Lone Star Heritage Bank", 6},
	{"ins_113968", "Great Lakes Mutual Savings", 3},
	{"ins_117181", "Evergreen Pacific Bank", 5},
	{"ins_119394", "Magnolia Trust Company", 2},
	{"ins_122877", "Keystone Commonwealth Bank", 4},
	{"ins_124318", "Red Rock Federal Credit Union", 2},
	{"ins_125690", "Allegheny Valley Bank", 2},
	{"ins_126533", "Coastal Carolina Credit Union", 3},
	{"ins_128026", "Mountain West Bank", 3},
	{"ins_129571", "Heartland Farmers Bank", 2},
	{"ins_130042", "Bayou City Credit Union", 2},
	{"ins_131309", "Granite State Savings", 1.5},
	{"ins_132876", "Northstar Investment Brokerage", 4},
	{"ins_133415", "Sunbelt Card Services", 5},
	{"ins_134052", "Pioneer Student Loan Servicing", 3},
	{"ins_135778", "Capitol Hill Federal Credit Union", 2},
	{"ins_136201", "Silver Lake Digital Bank", 6},
	{"ins_137640", "Riverbend Community Bank", 1.5},
	{"ins_138915", "Atlantic Coast Mortgage Company", 2},
}

// insertSeedInstitutions adds the institutions the items connect to,
// keeping any that exist.
func insertSeedInstitutions(tx *gorm.DB) error {
	var b strings.Builder
	args := make([]any, 0, 2*len(seedInstitutions))
	b.WriteString("INSERT INTO institutions (id, name) VALUES ")
	for i, in := range seedInstitutions {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, in.ID, in.Name)
	}
	b.WriteString(" ON CONFLICT (id) DO NOTHING")
	if err := tx.Exec(b.String(), args...).Error; err != nil {
		return fmt.Errorf("insert institutions: %w", err)
	}
	return nil
}

// seedProducts is one combination of Plaid products an item was linked
// with; balance is billed per call, so it is never in billed_products.
type seedProducts struct {
	Products, Billed, Available []string
	Weight                      float64
}

var seedProductSets = []seedProducts{
	{[]string{"transactions"}, []string{"transactions"}, []string{"assets", "auth", "balance", "identity", "investments", "liabilities", "recurring_transactions"}, 20},
	{[]string{"auth"}, []string{"auth"}, []string{"assets", "balance", "identity", "transactions", "signal"}, 14},
	{[]string{"auth", "transactions"}, []string{"auth", "transactions"}, []string{"assets", "balance", "identity", "investments", "liabilities"}, 16},
	{[]string{"auth", "identity"}, []string{"auth", "identity"}, []string{"assets", "balance", "transactions", "signal"}, 9},
	{[]string{"auth", "balance"}, []string{"auth"}, []string{"identity", "transactions", "signal"}, 6},
	{[]string{"auth", "identity", "transactions"}, []string{"auth", "identity", "transactions"}, []string{"assets", "balance", "investments", "liabilities"}, 7},
	{[]string{"transactions", "liabilities"}, []string{"transactions", "liabilities"}, []string{"auth", "balance", "identity"}, 5},
	{[]string{"transactions", "recurring_transactions"}, []string{"transactions", "recurring_transactions"}, []string{"auth", "balance", "identity", "liabilities"}, 4},
	{[]string{"investments"}, []string{"investments"}, []string{"auth", "balance", "identity", "transactions"}, 5},
	{[]string{"investments", "transactions"}, []string{"investments", "transactions"}, []string{"auth", "balance", "identity", "liabilities"}, 3},
	{[]string{"liabilities"}, []string{"liabilities"}, []string{"balance", "identity", "transactions"}, 3},
	{[]string{"assets", "transactions"}, []string{"transactions"}, []string{"auth", "balance", "identity", "investments"}, 3},
	{[]string{"income_verification"}, []string{"income_verification"}, []string{"auth", "balance", "transactions"}, 2},
	{[]string{"identity", "statements"}, []string{"identity", "statements"}, []string{"auth", "balance", "transactions"}, 1.5},
	{[]string{"auth", "signal"}, []string{"auth", "signal"}, []string{"balance", "identity", "transactions"}, 1.5},
}

// seedAuthMethods weighs models.AuthMethods for items with auth; the
// micro-deposit and database flows have no institution connection.
var seedAuthMethods = []struct {
	Method        string
	Weight        float64
	NoInstitution bool
}{
	{"INSTANT_AUTH", 68, false}, {"INSTANT_MATCH", 8, false}, {"AUTOMATED_MICRODEPOSITS", 6, false},
	{"SAME_DAY_MICRODEPOSITS", 5, true}, {"INSTANT_MICRODEPOSITS", 4, false}, {"DATABASE_MATCH", 4, true},
	{"DATABASE_INSIGHTS", 2, true}, {"TRANSFER_MIGRATED", 2, false}, {"INVESTMENTS_FALLBACK", 1, false},
}

// seedWebhooks are the platform's customers' webhook endpoints.
var seedWebhooks = []string{
	"https://api.budgetbuddy.app/webhooks/plaid",
	"https://hooks.lendwise.com/plaid/items",
	"https://example-fintech.io/api/v1/plaid/webhook",
	"https://webhooks.paycircle.co/plaid",
	"https://api.nestegg-invest.com/hooks/plaid",
	"https://services.rentready.net/integrations/plaid/webhook",
}

// seedErrors are real Plaid item and institution errors, weighed by how
// often a dashboard sees them. (PENDING_EXPIRATION is a webhook, not an
// error: consent running out shows in consent_expiration_time instead, and
// once it ran out, as ITEM_LOGIN_REQUIRED with reason OAUTH_CONSENT_EXPIRED.)
var seedErrors = []struct {
	Type, Code, Message, Display, Doc string
	Reasons                           []string // error_code_reason values, "" for null
	Weight                            float64
}{
	{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED",
		"the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information. use Link's update mode to restore the item to a good state",
		"The login details of this account have changed. Please log in again.", "item/#item_login_required",
		[]string{"", "", "", "OAUTH_INVALID_TOKEN", "OAUTH_CONSENT_EXPIRED", "OAUTH_USER_REVOKED"}, 42},
	{"INSTITUTION_ERROR", "INSTITUTION_DOWN",
		"this institution is not currently responding to this request. please try again soon",
		"This financial institution is not currently responding to requests. We apologize for the inconvenience.", "institution/#institution_down",
		nil, 11},
	{"INSTITUTION_ERROR", "INSTITUTION_NOT_RESPONDING",
		"this institution is not currently responding to this request. please try again soon",
		"This financial institution is not currently responding to requests. We apologize for the inconvenience.", "institution/#institution_not_responding",
		nil, 10},
	{"ITEM_ERROR", "ACCESS_NOT_GRANTED",
		"access to this product was not granted for the item",
		"The user did not grant the necessary permissions for their account.", "item/#access_not_granted",
		nil, 7},
	{"ITEM_ERROR", "NO_ACCOUNTS",
		"no valid accounts were found for this item",
		"No valid accounts were found at the financial institution. Please visit your financial institution's website to confirm accounts are available.", "item/#no_accounts",
		nil, 6},
	{"ITEM_ERROR", "ITEM_LOCKED",
		"the account is locked. prompt the user to visit the institution's site and unlock their account",
		"The given account has been locked by the financial institution. Please visit your financial institution's website to unlock your account.", "item/#item_locked",
		nil, 6},
	{"ITEM_ERROR", "PASSWORD_RESET_REQUIRED",
		"user must reset their password with the financial institution",
		"The user needs to reset their password with the financial institution before the account can be accessed.", "item/#password_reset_required",
		nil, 5},
	{"ITEM_ERROR", "USER_SETUP_REQUIRED",
		"the account has not been fully set up. prompt the user to visit the issuing institution's site and finish the setup process",
		"The given account requires additional setup with the financial institution before it can be accessed.", "item/#user_setup_required",
		nil, 4},
	{"ITEM_ERROR", "NO_AUTH_ACCOUNTS",
		"no valid checking or savings account(s) found",
		"No valid checking or savings accounts were found at this institution.", "item/#no_auth_accounts",
		nil, 4},
	{"INSTITUTION_ERROR", "INSTITUTION_NO_LONGER_SUPPORTED",
		"this institution is no longer supported",
		"This financial institution is no longer supported.", "institution/#institution_no_longer_supported",
		nil, 2},
}

// Rates the generator aims at.
const (
	seedErrorRate       = 0.05 // items in error
	seedExpiringRate    = 0.03 // items whose consent runs out within 7 days
	seedExpiredRate     = 0.01 // items whose consent ran out
	seedLaterRate       = 0.26 // items whose consent runs out later; the rest never
	seedNoIdentityRate  = 0.10 // users with only a client_user_id
	seedUserPresentRate = 0.07 // items with update_type user_present_required
)

// seedItemCounts weighs 0..5 items per user (2.5 on average).
var seedItemCounts = []float64{12, 16, 22, 22, 16, 12}

// --- the generator ---

// seedGen makes batches of users and their items. A batch depends only on
// the seed and its index, so batches are made in parallel and still come
// out the same on every run.
type seedGen struct {
	db    *models.DB
	load  *models.BulkLoad // the load the batches go to
	seed  uint64
	total int
	now   time.Time
	start time.Time // the first user's created_at is about here

	firstLocal, lastLocal []string // names as they appear in email addresses

	itemCounts, insts, products, auths, errs weighted
	instIDs, instNames                       []*string
	webhooks, authMethods                    []*string
	productJSON                              []seedProductJSON
	background, userPresent                  string
}

type seedProductJSON struct{ products, billed, available string }

func newSeedGen(db *models.DB, opts Options, now time.Time) *seedGen {
	g := &seedGen{db: db, seed: opts.Seed, total: opts.Users, now: now, start: now.Add(-seedSpan),
		background: "background", userPresent: "user_present_required"}
	for _, n := range seedFirstNames {
		g.firstLocal = append(g.firstLocal, emailLocal(n))
	}
	for _, n := range seedLastNames {
		g.lastLocal = append(g.lastLocal, emailLocal(n))
	}
	g.itemCounts = newWeighted(seedItemCounts)
	var w []float64
	for i := range seedInstitutions {
		in := &seedInstitutions[i]
		g.instIDs = append(g.instIDs, &in.ID)
		g.instNames = append(g.instNames, &in.Name)
		w = append(w, in.Weight)
	}
	g.insts = newWeighted(w)
	w = nil
	for _, p := range seedProductSets {
		pj := seedProductJSON{}
		pj.products, _ = jsonList(p.Products)
		pj.billed, _ = jsonList(p.Billed)
		pj.available, _ = jsonList(p.Available)
		g.productJSON = append(g.productJSON, pj)
		w = append(w, p.Weight)
	}
	g.products = newWeighted(w)
	w = nil
	for i := range seedAuthMethods {
		g.authMethods = append(g.authMethods, &seedAuthMethods[i].Method)
		w = append(w, seedAuthMethods[i].Weight)
	}
	g.auths = newWeighted(w)
	w = nil
	for i := range seedErrors {
		w = append(w, seedErrors[i].Weight)
	}
	g.errs = newWeighted(w)
	for i := range seedWebhooks {
		g.webhooks = append(g.webhooks, &seedWebhooks[i])
	}
	return g
}

func jsonList(l []string) (string, error) {
	v, err := models.StringList(l).Value()
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// emailLocal is a name as an email address spells it: lower-case letters
// and digits only.
func emailLocal(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// weighted picks an index with probability proportional to its weight.
type weighted []float64 // cumulative, normalized to end at 1

func newWeighted(w []float64) weighted {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make(weighted, len(w))
	var acc float64
	for i, x := range w {
		acc += x
		out[i] = acc / sum
	}
	out[len(out)-1] = 1
	return out
}

func (w weighted) pick(r *rand.Rand) int {
	x := r.Float64()
	for i, c := range w {
		if x < c {
			return i
		}
	}
	return len(w) - 1
}

// seedChunk is one batch, encoded for the load.
type seedChunk struct {
	index      int
	batch      *models.BulkBatch
	userCount  int
	itemCount  int
	errorItems int
}

// run makes the batches on a few goroutines and hands them to sink in
// order, one at a time, on the calling goroutine.
func (g *seedGen) run(ctx context.Context, sink func(*seedChunk) error) error {
	n := (g.total + seedChunkSize - 1) / seedChunkSize
	workers := min(runtime.GOMAXPROCS(0), n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One result slot per batch; at most 2 batches per worker are ahead
	// of the sink, which bounds memory.
	slots := make([]chan *seedChunk, n)
	for i := range slots {
		slots[i] = make(chan *seedChunk, 1)
	}
	ahead := make(chan struct{}, 2*workers)
	next := make(chan int)
	go func() {
		defer close(next)
		for k := 0; k < n; k++ {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		go func() {
			for k := range next {
				slots[k] <- g.chunk(k)
			}
		}()
	}
	for k := 0; k < n; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c *seedChunk
		select {
		case c = <-slots[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := sink(c); err != nil {
			return err
		}
		<-ahead
	}
	return nil
}

// chunk makes batch k: users k*seedChunkSize onwards and their items.
func (g *seedGen) chunk(k int) *seedChunk {
	r := rand.New(rand.NewPCG(g.seed, uint64(k)))
	from := k * seedChunkSize
	n := min(seedChunkSize, g.total-from)
	c := &seedChunk{index: k}
	users, items := make([]models.BulkUser, n), make([]models.BulkItem, 0, n*5/2+16)
	step := float64(seedSpan-time.Hour) / float64(g.total)
	for i := range users {
		u := &users[i]
		idx := from + i
		u.ID = g.load.FirstID + int64(idx)
		u.CreatedAt = g.start.Add(time.Duration((float64(idx) + r.Float64()) * step)).Truncate(time.Microsecond)
		u.UpdatedAt, u.Version = u.CreatedAt, 1
		u.UserID = opaqueID(uint64(u.ID), r, 29)
		u.ClientUserID = seedClientUserID(u.ID)
		// Random, not from the seed: a seeded user's token must not be
		// guessable from the seed. Nobody sees it; it can be rotated.
		u.TokenHash = models.HashToken(g.db.NewUserToken())
		if r.Float64() >= seedNoIdentityRate {
			u.Identity = g.identity(r)
		}
		items = g.items(r, u, c, items)
	}
	c.userCount, c.itemCount = len(users), len(items)
	c.batch = g.load.Encode(users, items)
	return c
}

// seedClientUserID is cust_ and the user's id, zero-padded: unique because
// the id is.
func seedClientUserID(id int64) string {
	s := strconv.FormatInt(id, 10)
	if len(s) < 7 {
		s = "0000000"[len(s):] + s
	}
	return "cust_" + s
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// opaqueID is an n-character base62 id (n > 11) that is unique for each
// key: 11 characters encode a bijective scramble of the key, the rest are
// random. Keys are the ids of the seeded rows, so seeding twice never
// repeats an id, though each seed is reproducible.
func opaqueID(key uint64, r *rand.Rand, n int) string {
	b := make([]byte, n)
	x := scramble(key)
	for i := 0; i < 11; i++ {
		b[i] = base62[x%62]
		x /= 62
	}
	fillBase62(b[11:], r)
	return string(b)
}

func fillBase62(b []byte, r *rand.Rand) {
	var v uint64
	for i := range b {
		if i%10 == 0 {
			v = r.Uint64()
		}
		b[i] = base62[v%62]
		v /= 62
	}
}

// scramble is the splitmix64 finalizer: a bijection on uint64 that makes
// consecutive keys look unrelated.
func scramble(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// identity makes a consumer-report identity that passes Validate.
func (g *seedGen) identity(r *rand.Rand) *models.Identity {
	fi, li := r.IntN(len(seedFirstNames)), r.IntN(len(seedLastNames))
	id := &models.Identity{FirstName: seedFirstNames[fi], LastName: seedLastNames[li]}
	city := &seedCities[r.IntN(len(seedCities))]

	id.Emails = append(id.Emails, g.email(r, fi, li))
	if r.IntN(100) < 30 {
		id.Emails = append(id.Emails, g.email(r, fi, li))
		if id.Emails[1] == id.Emails[0] {
			id.Emails = id.Emails[:1]
		}
	}
	id.PhoneNumbers = append(id.PhoneNumbers, phone(r, city))
	if r.IntN(100) < 25 {
		// A second number, often from where they lived before.
		other := city
		if r.IntN(2) == 0 {
			other = &seedCities[r.IntN(len(seedCities))]
		}
		id.PhoneNumbers = append(id.PhoneNumbers, phone(r, other))
	}

	switch x := r.IntN(100); {
	case x < 60:
		area := 1 + r.IntN(899)
		if area == 666 {
			area = 665
		}
		id.SSNFull = pad(area, 3) + "-" + pad(1+r.IntN(99), 2) + "-" + pad(1+r.IntN(9999), 4)
	case x < 80:
		id.SSNLast4 = pad(1+r.IntN(9999), 4)
	}
	if r.IntN(100) < 85 {
		y := 1940 + r.IntN(66)
		m := time.Month(1 + r.IntN(12))
		days := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
		id.DateOfBirth = pad(y, 4) + "-" + pad(int(m), 2) + "-" + pad(1+r.IntN(days), 2)
	}

	number := 1 + r.IntN(1+r.IntN(9999)) // small house numbers are commoner
	street := strconv.Itoa(number) + " " + seedStreetNames[r.IntN(len(seedStreetNames))] + " " +
		seedStreetSuffixes[r.IntN(len(seedStreetSuffixes))]
	switch x := r.IntN(100); {
	case x < 12:
		street += " Apt " + strconv.Itoa(1+r.IntN(30)) + string(rune('A'+r.IntN(6)))
	case x < 16:
		street += " Unit " + strconv.Itoa(100+r.IntN(900))
	}
	id.Address = models.Address{Street: street, City: city.City, Region: city.State,
		PostalCode: city.Zips[r.IntN(len(city.Zips))], Country: "US"}
	return id
}

// email makes an address from the person's name at a common provider.
func (g *seedGen) email(r *rand.Rand, fi, li int) string {
	f, l := g.firstLocal[fi], g.lastLocal[li]
	var local string
	switch r.IntN(10) {
	case 0, 1:
		local = f + "." + l
	case 2:
		local = f + l
	case 3:
		local = f[:1] + l
	case 4:
		local = f + "_" + l
	case 5:
		local = l + "." + f
	case 6:
		local = f + "." + l + strconv.Itoa(1+r.IntN(99))
	case 7:
		local = f + l + strconv.Itoa(1950+r.IntN(56))
	case 8:
		local = f + "." + l[:1] + strconv.Itoa(10+r.IntN(990))
	default:
		local = f[:1] + "." + l + strconv.Itoa(1+r.IntN(9))
	}
	return local + "@" + seedEmailDomains[r.IntN(len(seedEmailDomains))]
}

// phone is a US number in E.164 with a real area code of the city and a
// valid exchange (2-9, not N11).
func phone(r *rand.Rand, c *seedCity) string {
	exchange := 200 + r.IntN(800)
	if exchange%100 == 11 {
		exchange++
	}
	return "+1" + c.AreaCodes[r.IntN(len(c.AreaCodes))] + strconv.Itoa(exchange) + pad(r.IntN(10000), 4)
}

// pad writes n in decimal with at least w digits.
func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// items appends the user's items to out and keeps the user's summary
// columns (item_count, error_item_count, next_consent_expiration) in step.
func (g *seedGen) items(r *rand.Rand, u *models.BulkUser, c *seedChunk, out []models.BulkItem) []models.BulkItem {
	n := g.itemCounts.pick(r)
	t := u.CreatedAt
	for j := 0; j < n; j++ {
		// Each item links a while after the previous one.
		t = t.Add(time.Duration(r.Float64() * 0.5 * float64(g.now.Sub(t)))).Truncate(time.Microsecond)
		it := models.BulkItem{EndUserID: u.ID, CreatedAt: t, UpdateType: g.background}
		// The top bit keeps item keys apart from user keys, so no item_id
		// starts like a user_id.
		it.ItemID = opaqueID(1<<63|uint64(u.ID)<<3|uint64(j), r, 37)
		p := g.products.pick(r)
		pj := &g.productJSON[p]
		it.Products, it.Billed, it.Available, it.Consented = pj.products, pj.billed, pj.available, pj.products
		inst := g.insts.pick(r)
		it.InstitutionID, it.InstitutionName = g.instIDs[inst], g.instNames[inst]
		if seedProductSets[p].Products[0] == "auth" {
			a := g.auths.pick(r)
			it.AuthMethod = g.authMethods[a]
			if seedAuthMethods[a].NoInstitution {
				it.InstitutionID, it.InstitutionName = nil, nil
			}
		}
		if r.IntN(10) > 0 {
			it.Webhook = g.webhooks[r.IntN(len(g.webhooks))]
		}
		if r.Float64() < seedUserPresentRate {
			it.UpdateType = g.userPresent
		}
		it.UpdatedAt = t.Add(time.Duration(r.Float64() * float64(g.now.Sub(t)))).Truncate(time.Microsecond)

		switch x := r.Float64(); {
		case x < seedExpiringRate:
			// Within the warning window, clear of its edges.
			e := g.now.Add(time.Hour + time.Duration(r.Float64()*float64(models.ConsentWarning-2*time.Hour))).Truncate(time.Microsecond)
			it.ConsentExpirationTime = &e
		case x < seedExpiringRate+seedExpiredRate:
			e := g.now.Add(-time.Hour - time.Duration(r.Float64()*float64(60*24*time.Hour))).Truncate(time.Microsecond)
			it.ConsentExpirationTime = &e
		case x < seedExpiringRate+seedExpiredRate+seedLaterRate:
			e := g.now.Add(models.ConsentWarning + time.Hour + time.Duration(r.Float64()*float64(390*24*time.Hour))).Truncate(time.Microsecond)
			it.ConsentExpirationTime = &e
		}
		if r.Float64() < seedErrorRate {
			e := g.itemError(r)
			js := mustJSON(e)
			it.Error, it.ErrorCode = &js, &e.ErrorCode
			u.ErrorItems++
			c.errorItems++
		}
		if e := it.ConsentExpirationTime; e != nil && (u.NextConsentExpiration == nil || e.Before(*u.NextConsentExpiration)) {
			u.NextConsentExpiration = e
		}
		u.ItemCount++
		out = append(out, it)
	}
	return out
}

// itemError is one of seedErrors as Plaid's error object carries it.
func (g *seedGen) itemError(r *rand.Rand) *models.ItemError {
	t := &seedErrors[g.errs.pick(r)]
	reqID := make([]byte, 15)
	fillBase62(reqID, r)
	display := t.Display
	status := 400
	e := &models.ItemError{ErrorType: t.Type, ErrorCode: t.Code, ErrorMessage: t.Message, DisplayMessage: &display,
		RequestID: string(reqID), Causes: json.RawMessage("[]"), Status: &status,
		DocumentationURL: "https://plaid.com/docs/errors/" + t.Doc}
	if len(t.Reasons) > 0 {
		if reason := t.Reasons[r.IntN(len(t.Reasons))]; reason != "" {
			e.ErrorCodeReason = &reason
		}
	}
	return e
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
