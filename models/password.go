package models

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (RFC 9106, second recommended option scaled to a small
// server): 64 MiB, 2 passes, 1 lane. What a guess costs an attacker is set
// by memory and passes; one lane keeps each hash on one core, so hashing
// (see hashGate) leaves the other cores to the pages. Stored with each
// hash, so they can change later without invalidating existing passwords.
const (
	argonMemoryKiB = 64 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Stored parameters beyond these are treated as malformed: a hash read from
// the database must not make a sign-in take gigabytes or minutes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
)

var errMalformedHash = errors.New("malformed password hash")

// hashesComputed counts argon2id computations in this process.
var hashesComputed atomic.Int64

// PasswordHashesComputed is how many argon2id hashes this process has
// computed, to hash or to check a password.
func PasswordHashesComputed() int64 { return hashesComputed.Load() }

// pause waits for d, or until ctx ends.
var pause = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HashPassword returns an argon2id hash in the PHC string format. It takes
// a hashing slot; ErrPasswordCheckBusy when none frees up in time.
func HashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	release, err := passwordGate.acquire(ctx, 0)
	if err != nil {
		return "", err
	}
	cost := newHashCost()
	key := argon2.IDKey([]byte(password), salt, cost.Time, cost.MemoryKiB, argonThreads, argonKeyLen)
	release()
	hashesComputed.Add(1)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, cost.MemoryKiB, cost.Time, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// PasswordCost is the memory and passes of argon2id for new hashes.
type PasswordCost struct{ MemoryKiB, Time uint32 }

// ProductionPasswordCost is what every new hash costs outside tests.
var ProductionPasswordCost = PasswordCost{MemoryKiB: argonMemoryKiB, Time: argonTime}

var hashCost atomic.Pointer[PasswordCost]

func newHashCost() PasswordCost {
	if c := hashCost.Load(); c != nil {
		return *c
	}
	return ProductionPasswordCost
}

// SetPasswordCost sets what new hashes cost and returns what restores
// the previous cost. For tests only: they sign in thousands of times,
// and a production hash (64 MiB, a tenth of a second of a core) made
// nine tenths of their time. Existing hashes are checked with the
// parameters stored in them, whatever the cost is now.
func SetPasswordCost(c PasswordCost) (restore func()) {
	prev := hashCost.Swap(&c)
	return func() { hashCost.Store(prev) }
}

// VerifyPassword reports whether password matches the PHC-encoded hash. A
// malformed or empty hash never matches (and costs no hashing). It takes a
// hashing slot; ErrPasswordCheckBusy when none frees up in time.
func VerifyPassword(ctx context.Context, encoded, password string) (bool, error) {
	return verifyPassword(ctx, encoded, password, 0)
}

// verifyPassword is VerifyPassword for an account that failed priority
// times lately: it waits behind checks of accounts that failed less.
func verifyPassword(ctx context.Context, encoded, password string, priority int) (bool, error) {
	p, err := parseHash(encoded)
	if err != nil {
		return false, nil
	}
	start := time.Now()
	release, err := passwordGate.acquire(ctx, priority)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	release()
	hashesComputed.Add(1)
	checkTimes.record(time.Since(start))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

type phcHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseHash(encoded string) (phcHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return phcHash{}, errMalformedHash
	}
	var version int
	var p phcHash
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phcHash{}, errMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return phcHash{}, errMalformedHash
	}
	// argon2 panics on zero passes or lanes.
	if p.time < 1 || p.time > maxArgonTime || p.threads < 1 || p.memory > maxArgonMemoryKiB {
		return phcHash{}, errMalformedHash
	}
	b64 := base64.RawStdEncoding
	var err1, err2 error
	p.salt, err1 = b64.DecodeString(parts[4])
	p.key, err2 = b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(p.key) == 0 {
		return phcHash{}, errMalformedHash
	}
	return p, nil
}

// checkTimes keeps how long recent real password checks took, from the
// request for a slot to the end of the hash, so that answers which never
// hash can take as long.
var checkTimes = &checkTimeSamples{}

type checkTimeSamples struct {
	mu      sync.Mutex
	samples [64]time.Duration
	n, next int
}

func (s *checkTimeSamples) record(d time.Duration) {
	s.mu.Lock()
	s.samples[s.next] = d
	s.next = (s.next + 1) % len(s.samples)
	s.n = min(s.n+1, len(s.samples))
	s.mu.Unlock()
}

// draw is one of the recent check times, picked at random, so the delay
// has the spread real checks have; ok is false before any check ran.
func (s *checkTimeSamples) draw() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, false
	}
	return s.samples[mathrand.IntN(s.n)], true
}

// typical is the median of the recent check times, or a conservative
// guess before any.
func (s *checkTimeSamples) typical() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 100 * time.Millisecond
	}
	sorted := slices.Sorted(slices.Values(s.samples[:s.n]))
	return sorted[len(sorted)/2]
}

var calibrate sync.Once

// takeTimeOfPasswordCheck answers as slowly as a real password check would,
// without doing one: an unknown email, or an attempt refused by a limit,
// must not tell itself apart from a wrong password by its timing, and must
// not cost the 64 MiB and the CPU time of a hash. It waits for a duration
// drawn from recent real checks; ErrPasswordCheckBusy when a real check
// would have been refused as busy.
func takeTimeOfPasswordCheck(ctx context.Context, priority int) error {
	if passwordCheckBusy(priority) {
		return ErrPasswordCheckBusy
	}
	d, ok := checkTimes.draw()
	if !ok {
		// No real check has run in this process yet: run one, once, so
		// there is a time to match.
		var err error
		calibrate.Do(func() {
			var h string
			if h, err = HashPassword(ctx, RandomToken(16)); err == nil {
				_, err = VerifyPassword(ctx, h, RandomToken(16))
			}
		})
		if err != nil {
			return err
		}
		if d, ok = checkTimes.draw(); !ok {
			d = 100 * time.Millisecond
		}
	}
	return pause(ctx, d)
}
