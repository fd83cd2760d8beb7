package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// A member adds a passkey on the account page with chromium's virtual
// authenticator (the DevTools protocol's WebAuthn domain), signs out, and
// signs in with it alone; then with the password, the passkey is the
// second step. The portal is reached at http://localhost:PORT, its
// --public-url: a passkey is bound to a name, never to 127.0.0.1.
func TestBrowser_APasskeyAddedOnTheAccountPageSignsIn(t *testing.T) {
	port := freePort(t)
	base := "http://localhost:" + port
	j := startJourney(t, "--no-demo-data", "--listen", "127.0.0.1:"+port, "--public-url", base)
	j.base = base
	addVirtualAuthenticator(t, j.ctx)

	j.signIn(j.email, j.password, testid("nav"))
	j.step("add a passkey on the account page",
		chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(testid("passkey-add-form")),
		chromedp.SendKeys(chromedp.CSS(`#pk-name`), "Virtual key"),
		chromedp.SendKeys(chromedp.CSS(`#pk-password`), j.password),
		chromedp.Click(testid("passkey-add")),
		chromedp.WaitVisible(testid("passkey-name")),
	)
	if got := j.text(testid("passkey-name")); got != "Virtual key" {
		t.Fatalf("the account page lists %q", got)
	}
	j.signOut()

	j.step("sign in with the passkey alone",
		chromedp.WaitVisible(testid("login-passkey-button")),
		chromedp.Click(testid("login-passkey-button")),
		chromedp.WaitVisible(testid("nav")),
	)
	if loc := j.location(); loc != base+"/" {
		t.Fatalf("after the passkey the member is at %s, want the overview", loc)
	}
	j.signOut()

	// With the password, the passkey is the second step; the keyboard
	// reaches it, focused on arrival.
	j.signIn(j.email, j.password, testid("login-mfa-passkey-button"))
	if !j.focusIsOn("login-mfa-passkey-button") {
		t.Fatal("the passkey button is not focused on the second step")
	}
	j.step("use the passkey with the keyboard",
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(testid("home-title")),
	)
	j.step("the account page shows its last use",
		chromedp.Click(testid("member")),
		chromedp.WaitVisible(testid("passkey-last-used")),
	)
	if got := j.text(testid("passkey-last-used")); !strings.HasPrefix(got, "last used") {
		t.Fatalf("the passkey's last use reads %q", got)
	}

	j.checkBrowserReport()
	j.stopServe()
}

// freePort is a port nothing listens on now, for a portal whose public
// URL must name its port before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// addVirtualAuthenticator gives the tab a platform authenticator that
// holds discoverable credentials and verifies its user, as a laptop's
// fingerprint reader does, answering without a prompt.
func addVirtualAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
}
