// Package passkeytest is a software authenticator for tests: it answers
// the portal's passkey options as a browser with a security key would,
// so registration and sign-in run end to end without either.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"testing"

	"github.com/descope/virtualwebauthn"
)

// Authenticator holds one passkey (once registered) for one site.
type Authenticator struct {
	// Origin is the origin the browser reports in its answers.
	Origin string
	rpID   string
	auth   virtualwebauthn.Authenticator
	cred   *virtualwebauthn.Credential
}

// New is an authenticator, without a passkey yet, in a browser at origin
// of the site whose relying party id is rpID. It verifies its user (as a
// PIN or a fingerprint would) unless told otherwise.
func New(rpID, origin string) *Authenticator {
	return &Authenticator{Origin: origin, rpID: rpID, auth: virtualwebauthn.NewAuthenticator()}
}

// SkipUserVerification makes the authenticator answer with user presence
// alone, as a plain security key without a PIN does.
func (a *Authenticator) SkipUserVerification() { a.auth.Options.UserNotVerified = true }

// SetCounter sets the passkey's signature counter, as a copy of its key
// on another device would carry an older one.
func (a *Authenticator) SetCounter(n uint32) { a.cred.Counter = n }

func (a *Authenticator) party() virtualwebauthn.RelyingParty {
	return virtualwebauthn.RelyingParty{Name: "Ledgerdesk", ID: a.rpID, Origin: a.Origin}
}

// Register answers creation options (the JSON the portal sent for
// navigator.credentials.create) with a new passkey, and keeps it.
func (a *Authenticator) Register(t testing.TB, options []byte) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatalf("passkeytest: creation options: %v\n%s", err, options)
	}
	cred := newCredential()
	answer := virtualwebauthn.CreateAttestationResponse(a.party(), a.auth, cred, *opts)
	a.cred = &cred
	a.auth.Options.UserHandle = []byte(opts.UserID)
	a.auth.AddCredential(cred)
	return []byte(answer)
}

// Assert answers request options (for navigator.credentials.get) with
// the passkey, signing their challenge; its counter moves forward first.
func (a *Authenticator) Assert(t testing.TB, options []byte) []byte {
	t.Helper()
	if a.cred == nil {
		t.Fatal("passkeytest: no passkey registered")
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatalf("passkeytest: request options: %v\n%s", err, options)
	}
	a.cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(a.party(), a.auth, *a.cred, *opts))
}

// newCredential is a P-256 passkey whose public point has no zero byte
// leading either coordinate: the library writes the coordinates without
// leading zeros, and a relying party rightly refuses such a key (about
// one key in 128), which would make a test fail by chance.
func newCredential() virtualwebauthn.Credential {
	for {
		cred := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		parsed, err := x509.ParsePKCS8PrivateKey(cred.Key.Data)
		key, ok := parsed.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			panic("passkeytest: the library made a key that is not P-256")
		}
		pub, err := key.PublicKey.ECDH()
		if err != nil {
			panic(err)
		}
		point := pub.Bytes() // 0x04, X (32 bytes), Y (32 bytes)
		if point[1] != 0 && point[33] != 0 {
			return cred
		}
	}
}
