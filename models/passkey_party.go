package models

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// PasskeyCeremonyLifetime is how long a browser has to answer a passkey
// request: a challenge older than this is refused.
const PasskeyCeremonyLifetime = 5 * time.Minute

// RelyingParty is the portal as passkeys know it. Its id (the host name)
// and origin come from the portal's public URL alone, never from a
// request's Host or X-Forwarded-* headers: a passkey is bound to the name
// people type, whatever proxy stands in front.
type RelyingParty struct {
	// ID is the relying party id: the public URL's host name.
	ID string
	// Origin is scheme://host[:port] of the public URL, the only origin
	// whose answers are accepted.
	Origin string
	wa     *webauthn.WebAuthn
}

// ErrPasskeysNeedPublicURL says why passkeys are off when no public URL
// is configured.
var ErrPasskeysNeedPublicURL = errors.New("passkeys need the portal's public URL (--public-url), e.g. https://ledgerdesk.example.com, or http://localhost:8080 on one's own machine")

// NewRelyingParty makes the relying party for the portal reached at
// publicURL. It refuses what browsers refuse passkeys for: no URL, a host
// that is an IP address (a relying party id is a domain name), and plain
// http anywhere but localhost (WebAuthn needs a secure context).
func NewRelyingParty(publicURL string) (*RelyingParty, error) {
	if publicURL == "" {
		return nil, ErrPasskeysNeedPublicURL
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("passkeys: the public URL %q is not an http(s) address", publicURL)
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return nil, fmt.Errorf("passkeys: the public URL's host %s is an IP address, and a passkey is bound to a domain name: use a name (http://localhost:PORT on one's own machine)", host)
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return nil, fmt.Errorf("passkeys: browsers offer passkeys only over https (or on localhost), and the public URL is %s", publicURL)
	}
	origin := u.Scheme + "://" + strings.ToLower(u.Host)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          host,
		RPDisplayName: "Ledgerdesk",
		RPOrigins:     []string{origin},
		// Which authenticator made a passkey is not checked: any that
		// verifies its user will do, so none is asked to prove its make.
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: PasskeyCeremonyLifetime, TimeoutUVD: PasskeyCeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: PasskeyCeremonyLifetime, TimeoutUVD: PasskeyCeremonyLifetime},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &RelyingParty{ID: host, Origin: origin, wa: wa}, nil
}
