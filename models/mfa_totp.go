package models

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP as every authenticator app understands it (RFC 6238 defaults):
// six digits, thirty-second steps, HMAC-SHA1.
const (
	totpIssuer = "Ledgerdesk"
	totpPeriod = 30
)

var totpOptions = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPStep is the RFC 6238 time step that t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// codeResult is what checking a code found.
type codeResult int

const (
	codeWrong codeResult = iota
	codeOK
	codeReplayed
)

// matchTOTP checks code against the steps around now (one step of clock
// skew either way) and returns the step it belongs to. A code whose step
// is not newer than lastStep was already used, or is older than one that
// was: it is refused as a replay.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, codeResult) {
	current := TOTPStep(now)
	for _, step := range []int64{current, current - 1, current + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOptions)
		if err != nil {
			return 0, codeWrong
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if step <= lastStep {
				return step, codeReplayed
			}
			return step, codeOK
		}
	}
	return 0, codeWrong
}

// newTOTPKey draws a fresh 160-bit secret for the member's authenticator.
func newTOTPKey(email string) (*otp.Key, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email,
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	return key, nil
}

// totpKey rebuilds the key (and so its otpauth:// URL) from a stored secret.
func totpKey(email, secret string) (*otp.Key, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	return totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email, Secret: raw,
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

func totpSecretContext(memberID string) string { return "team_member:" + memberID + ":totp_secret" }

// TOTPSetup is a secret waiting for the first code that proves the
// member's app holds it.
type TOTPSetup struct {
	Secret string // base32, as apps take it typed in
	URL    string // otpauth://, as apps take it from a QR code
	key    *otp.Key
}

// GroupedSecret is the secret in groups of four, easier to type.
func (s *TOTPSetup) GroupedSecret() string {
	var b strings.Builder
	for i, r := range s.Secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// QRCodePNG renders the otpauth:// URL as a QR code, size pixels square.
func (s *TOTPSetup) QRCodePNG(size int) ([]byte, error) {
	img, err := s.key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("render qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode qr code: %w", err)
	}
	return buf.Bytes(), nil
}

// Recovery codes: ten, each 80 random bits written as 16 base32
// characters in four groups. At 80 bits a plain SHA-256 is out of reach of
// guessing, and a slow hash would make checking ten codes per attempt a
// way to burn the server's time.
const (
	RecoveryCodeCount = 10
	recoveryCodeBytes = 10
)

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRecoveryCode() string {
	b := make([]byte, recoveryCodeBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := recoveryEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeCode drops what people add while typing a code: spaces,
// dashes, lower case.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
}

func isTOTPCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isRecoveryCode(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := recoveryEncoding.DecodeString(s)
	return err == nil
}

// recoveryCodeHash binds a (normalized) code to its member.
func recoveryCodeHash(memberID, normalized string) string {
	return HashToken("recovery-code:" + memberID + ":" + normalized)
}
