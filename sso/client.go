// Package sso signs members in through the company's OpenID Connect
// provider: discovery, the authorization code flow with PKCE, state and
// nonce, and the checks on the ID token (go-oidc and golang.org/x/oauth2).
// What the token says is then judged by models.SignInWithOIDC.
package sso

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ledgerdesk/models"
)

// CallbackPath is where the provider sends the browser back; the redirect
// URL registered with the provider is the public URL followed by it.
const CallbackPath = "/login/oidc/callback"

// Config is the provider and this portal's client at it.
type Config struct {
	// Issuer is the provider's issuer URL, as its discovery document names it.
	Issuer string
	// ClientID and ClientSecret are the portal's client at the provider.
	ClientID     string
	ClientSecret string
	// PublicURL is the portal's address; the redirect URL derives from it.
	PublicURL string
	// Name is the provider as people know it: "Sign in with <Name>".
	Name string
	// GroupsClaim is the ID token claim that lists the person's groups or
	// roles; dots reach into objects (realm_access.roles).
	GroupsClaim string
	// Scopes are asked for besides openid.
	Scopes []string
	// HTTPClient reaches the provider; nil: one with a 10 s timeout.
	HTTPClient *http.Client
}

// Client is the portal's client at the provider. Discovery happens at the
// first sign-in and is kept once it succeeds, so the portal starts while
// the provider is down.
type Client struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// New checks cfg and returns its client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, errors.New("sso: the issuer must be an https:// URL")
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("sso: the client id and secret are required")
	case cfg.PublicURL == "":
		return nil, errors.New("sso: the public URL is required: the redirect URL derives from it")
	}
	if cfg.Name == "" {
		cfg.Name = "SSO"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	c := &Client{cfg: cfg, client: cfg.HTTPClient}
	if c.client == nil {
		c.client = &http.Client{Timeout: 10 * time.Second}
	}
	return c, nil
}

// Name is the provider as the sign-in button names it.
func (c *Client) Name() string { return c.cfg.Name }

// Issuer is the provider's issuer URL.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// RedirectURL is the address the provider sends the browser back to.
func (c *Client) RedirectURL() string {
	return strings.TrimSuffix(c.cfg.PublicURL, "/") + CallbackPath
}

// Failure is a sign-in the provider's side did not complete: Reason names
// it for the audit log and the page; Err, for the log only, says more.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string { return "oidc: " + f.Reason + ": " + f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// The reasons of a Failure.
const (
	ReasonUnreachable   = "provider_unreachable" // discovery or the token endpoint could not be reached
	ReasonExchange      = "code_refused"         // the token endpoint refused the code
	ReasonTokenInvalid  = "token_invalid"        // signature, issuer or audience wrong, or no ID token
	ReasonTokenExpired  = "token_expired"        // the ID token's exp has passed
	ReasonNonceMismatch = "nonce_mismatch"       // the ID token was not issued for this sign-in
	ReasonClaimsInvalid = "claims_invalid"       // the claims do not have the expected shapes
)

func (c *Client) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oauth != nil {
		return c.oauth, c.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.client), c.cfg.Issuer)
	if err != nil {
		return nil, nil, &Failure{Reason: ReasonUnreachable, Err: err}
	}
	scopes := append([]string{oidc.ScopeOpenID}, c.cfg.Scopes...)
	c.oauth = &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: c.RedirectURL(), Scopes: scopes}
	c.verifier = p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID})
	return c.oauth, c.verifier, nil
}

// AuthURL is the provider's authorization URL for one sign-in: the code
// flow, with state, nonce and the S256 challenge of verifier.
func (c *Client) AuthURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	oc, _, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	return oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Identify exchanges the code (with the PKCE verifier) for tokens, checks
// the ID token (signature from the provider's published keys, issuer,
// audience, expiry, and the nonce of this sign-in) and returns what it
// says. Anything else is a *Failure.
func (c *Client) Identify(ctx context.Context, code, verifier, nonce string) (models.OIDCIdentity, error) {
	oc, v, err := c.discover(ctx)
	if err != nil {
		return models.OIDCIdentity{}, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.client)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return models.OIDCIdentity{}, &Failure{Reason: ReasonExchange, Err: fmt.Errorf("token endpoint answered %d %s", re.Response.StatusCode, re.ErrorCode)}
		}
		return models.OIDCIdentity{}, &Failure{Reason: ReasonUnreachable, Err: err}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return models.OIDCIdentity{}, &Failure{Reason: ReasonTokenInvalid, Err: errors.New("the token response has no id_token")}
	}
	idt, err := v.Verify(oidc.ClientContext(ctx, c.client), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return models.OIDCIdentity{}, &Failure{Reason: ReasonTokenExpired, Err: err}
		}
		return models.OIDCIdentity{}, &Failure{Reason: ReasonTokenInvalid, Err: err}
	}
	if idt.Nonce == "" || idt.Nonce != nonce {
		return models.OIDCIdentity{}, &Failure{Reason: ReasonNonceMismatch, Err: errors.New("the ID token's nonce is not this sign-in's")}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return models.OIDCIdentity{}, &Failure{Reason: ReasonClaimsInvalid, Err: err}
	}
	email, _ := claims["email"].(string)
	groups, err := stringList(lookup(claims, c.cfg.GroupsClaim))
	if err != nil {
		return models.OIDCIdentity{}, &Failure{Reason: ReasonClaimsInvalid, Err: fmt.Errorf("claim %s: %w", c.cfg.GroupsClaim, err)}
	}
	return models.OIDCIdentity{Issuer: idt.Issuer, Subject: idt.Subject, Email: email,
		EmailVerified: isTrue(claims["email_verified"]), Groups: groups}, nil
}

// lookup follows a dotted path through the claims' objects.
func lookup(claims map[string]any, path string) any {
	var v any = claims
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// stringList reads a groups claim: a list of strings, one string, or absent.
func stringList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings, it holds a %T", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a list of strings, it is a %T", v)
}

// isTrue reads email_verified, which a few providers send as a string.
func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// Derive is the nonce and the PKCE verifier of one sign-in: HMACs of its
// state keyed with the random value in the browser's cookie. Neither is
// stored, and only the browser that began the sign-in can finish it.
func Derive(browser, state string) (nonce, verifier string) {
	mac := func(purpose string) string {
		m := hmac.New(sha256.New, []byte(browser))
		m.Write([]byte(purpose + "\x00" + state))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	// 43 characters: the shortest verifier RFC 7636 allows, 256 bits.
	return mac("nonce"), mac("pkce")
}
