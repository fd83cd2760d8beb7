package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"ledgerdesk/sso/ssotest"
	"ledgerdesk/web/webtest"
)

// A member signs in through the identity provider the way a person does:
// the button, the provider, and back, signed in with the role their group
// maps to; someone in no mapped group gets the refusal page.
func TestBrowser_SignInThroughTheIdentityProvider(t *testing.T) {
	idp := ssotest.New(t)
	webtest.Sensitive(idp.ClientSecret)
	secretFile := filepath.Join(t.TempDir(), "oidc-secret")
	if err := os.WriteFile(secretFile, []byte(idp.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	// The redirect URL derives from --public-url, so the portal's port is
	// chosen before it starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	j := startJourney(t, "--no-demo-data", "--listen", addr, "--public-url", "http://"+addr,
		"--oidc-issuer", idp.URL, "--oidc-client-id", idp.ClientID, "--oidc-client-secret-file", secretFile,
		"--oidc-provider-name", "Acme Login")

	j.signIn(j.email, j.password, testid("nav"))
	j.step("map the provider's groups to roles",
		chromedp.Navigate(j.base+"/settings"),
		chromedp.WaitVisible(testid("settings-sso-form")),
		chromedp.SendKeys(chromedp.CSS(`#f-role_map`), "staff-admins = admin\nrisk = compliance"),
		chromedp.SendKeys(chromedp.CSS(`#f-allowed_domains`), "acme.example"),
		chromedp.Click(testid("settings-sso-submit")),
		chromedp.WaitVisible(testid("settings-sso-done")),
	)
	j.signOut()

	idp.SignInAs(ssotest.User{Subject: "rita-1", Email: "rita@acme.example", EmailVerified: true, Groups: []string{"risk"}})
	j.step("sign in with the provider",
		chromedp.Navigate(j.base+"/login"),
		chromedp.Click(testid("login-oidc")),
		chromedp.WaitVisible(testid("nav")),
	)
	if loc := j.location(); loc != j.base+"/" {
		t.Fatalf("after the provider the member is at %s, want the overview", loc)
	}
	if n := j.count(`[data-testid="nav-/team"]`); n != 0 {
		t.Fatal("a compliance reviewer's navigation offers the team")
	}
	j.signOut()

	idp.SignInAs(ssotest.User{Subject: "carl-1", Email: "carl@acme.example", EmailVerified: true, Groups: []string{"contractors"}})
	j.step("someone in no mapped group",
		chromedp.Click(testid("login-oidc")),
		chromedp.WaitVisible(testid("oidc-refused")),
	)
	if got := j.text(testid("oidc-refused-message")); got == "" {
		t.Fatal("the refusal page says nothing")
	}

	j.checkBrowserReport()
	j.stopServe()
}
