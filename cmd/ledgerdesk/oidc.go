package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"ledgerdesk/models/text"
	"ledgerdesk/sso"
)

// oidcOptions are serve's settings for sign-in through the company's
// OpenID Connect provider. The client secret comes from a variable or a
// file, is never echoed in a problem, and never logged.
type oidcOptions struct {
	issuer, clientID, secret, secretFile, name, groupsClaim, scopes string
}

func (o *oidcOptions) register(s *settings) {
	s.StringVar(&o.issuer, "oidc-issuer", "LEDGERDESK_OIDC_ISSUER", "",
		"the OpenID Connect provider's issuer `URL` (https://), whose /.well-known/openid-configuration is read at the first sign-in; empty: passwords only", checkIssuer)
	s.StringVar(&o.clientID, "oidc-client-id", "LEDGERDESK_OIDC_CLIENT_ID", "",
		"the portal's client id at the provider; its redirect URL is --public-url followed by "+sso.CallbackPath, checkToken)
	s.declare("text", "oidc-client-secret", "LEDGERDESK_OIDC_CLIENT_SECRET", "",
		"the client's secret; set the variable or --oidc-client-secret-file rather than the flag, which other users see in the process list",
		true, func(v string) error {
			if problem := text.Key.Problem(v); problem != "" {
				return errors.New("the secret must be one line of at most 256 printable characters")
			}
			o.secret = v
			return nil
		})
	s.StringVar(&o.secretFile, "oidc-client-secret-file", "LEDGERDESK_OIDC_CLIENT_SECRET_FILE", "",
		"read the client's secret from this `file` (one line) instead", nil)
	s.StringVar(&o.name, "oidc-provider-name", "LEDGERDESK_OIDC_PROVIDER_NAME", "SSO",
		"the provider as people know it, on the sign-in button: Sign in with `name`", func(v string) error {
			if v == "" || !text.Line(40).Valid(v) {
				return errors.New("want a name of 1 to 40 printable characters, e.g. Okta or Google")
			}
			return nil
		})
	s.StringVar(&o.groupsClaim, "oidc-groups-claim", "LEDGERDESK_OIDC_GROUPS_CLAIM", "groups",
		"the ID token `claim` listing the person's groups or roles, mapped to roles on the settings page; dots reach into objects, e.g. realm_access.roles", checkToken)
	s.StringVar(&o.scopes, "oidc-scopes", "LEDGERDESK_OIDC_SCOPES", "email,profile",
		"comma-separated `scopes` asked for besides openid (add groups where the provider wants it asked)", func(v string) error {
			for _, sc := range splitList(v) {
				if checkToken(sc) != nil {
					return fmt.Errorf("%q is not a scope", sc)
				}
			}
			return nil
		})
}

// client checks the settings together and builds the provider's client;
// nil when no issuer is set.
func (o *oidcOptions) client(s *settings, publicURL string) (*sso.Client, string) {
	if o.issuer == "" {
		if o.clientID != "" || o.secret != "" || o.secretFile != "" {
			return nil, fmt.Sprintf("%s is not set: the OpenID Connect client settings need it", s.label("oidc-issuer"))
		}
		return nil, ""
	}
	secret := o.secret
	switch {
	case o.secret != "" && o.secretFile != "":
		return nil, fmt.Sprintf("%s and %s are both set: give the secret once", s.label("oidc-client-secret"), s.label("oidc-client-secret-file"))
	case o.secretFile != "":
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", s.label("oidc-client-secret-file"), err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
		if secret == "" || !text.Key.Valid(secret) {
			return nil, fmt.Sprintf("%s: the file must hold the secret on one line", s.label("oidc-client-secret-file"))
		}
	}
	switch {
	case o.clientID == "":
		return nil, fmt.Sprintf("%s is set: set %s too", s.label("oidc-issuer"), s.label("oidc-client-id"))
	case secret == "":
		return nil, fmt.Sprintf("%s is set: set the client's secret with %s or %s", s.label("oidc-issuer"),
			s.label("oidc-client-secret"), s.label("oidc-client-secret-file"))
	case publicURL == "":
		return nil, fmt.Sprintf("%s is set: set %s too, the address the provider sends people back to", s.label("oidc-issuer"), s.label("public-url"))
	}
	c, err := sso.New(sso.Config{Issuer: o.issuer, ClientID: o.clientID, ClientSecret: secret, PublicURL: publicURL,
		Name: o.name, GroupsClaim: o.groupsClaim, Scopes: splitList(o.scopes)})
	if err != nil {
		return nil, err.Error()
	}
	return c, ""
}

// checkIssuer accepts an https:// URL, or http:// on a loopback address
// (a provider on the same machine, in tests).
func checkIssuer(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want the issuer's URL, e.g. https://login.example.com/realms/staff")
	}
	if u.Scheme == "https" {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme == "http" && (u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return errors.New("want an https:// URL: the provider's keys and tokens must not travel in the clear")
}

// checkToken accepts a short word of letters, digits and . _ - : /, as
// client ids, claim names and scopes are.
func checkToken(v string) error {
	if len(v) > 256 {
		return errors.New("want at most 256 characters")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:/@", r)) {
			return errors.New("want letters, digits and . _ - : / @ only")
		}
	}
	return nil
}
