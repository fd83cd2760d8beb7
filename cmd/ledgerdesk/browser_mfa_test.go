package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"ledgerdesk/web/webtest"
)

// authenticatorCode is what an authenticator app holding secret shows at t.
func authenticatorCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestBrowser_EnrolTOTPSignInWithTheCodeAndAReplayIsRefused(t *testing.T) {
	ctx, report := newBrowser(t)
	srv := startServe(t, env(), "--data", t.TempDir(), "--no-demo-data")
	email, password := credentials(srv.stdout.String())
	if password == "" {
		t.Fatalf("serve printed no first admin:\n%s", srv.stdout)
	}

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	testid := func(id string) chromedp.CSS { return css(`[data-testid="` + id + `"]`) }
	location := func() string { return value(t, ctx, "read the location", chromedp.Location()) }
	text := func(id string) string { return value(t, ctx, "read "+id, chromedp.Text(testid(id))) }
	signInWithPassword := func() {
		t.Helper()
		step("sign in with the password",
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(testid("login-form")),
			chromedp.SendKeys(css(`#f-email`), email),
			chromedp.SendKeys(css(`#f-password`), password),
			chromedp.Click(testid("login-submit")),
			chromedp.WaitVisible(testid("login-mfa-form")),
		)
		if loc := location(); !strings.HasPrefix(loc, srv.URL+"/login/mfa") {
			t.Fatalf("after the password the browser is at %s, want the code step", loc)
		}
	}

	step("sign in and open two-step sign-in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(testid("login-form")),
		chromedp.SendKeys(css(`#f-email`), email),
		chromedp.SendKeys(css(`#f-password`), password),
		chromedp.Click(testid("login-submit")),
		chromedp.WaitVisible(testid("nav")),
		chromedp.Click(testid("member")),
		chromedp.WaitVisible(testid("account-mfa-link")),
		chromedp.Click(testid("account-mfa-link")),
		chromedp.WaitVisible(testid("mfa-start")),
	)
	step("start the setup",
		chromedp.Click(testid("mfa-start")),
		chromedp.WaitVisible(testid("mfa-secret")),
		chromedp.WaitVisible(testid("mfa-qr")),
	)
	// The QR code image loaded (a data: URI the CSP allows).
	if w := value(t, ctx, "read the QR code's width", chromedp.Evaluate[int](
		`document.querySelector('[data-testid="mfa-qr"]').naturalWidth`)); w != 200 {
		t.Fatalf("the QR code image is %d pixels wide, want 200 (did it load?)", w)
	}
	secret := strings.ReplaceAll(strings.TrimSpace(text("mfa-secret")), " ", "")
	if len(secret) != 32 {
		t.Fatalf("the page shows the secret %q", secret)
	}
	webtest.Sensitive(secret)

	step("confirm with the app's code",
		chromedp.SendKeys(css(`#f-code`), authenticatorCode(t, secret, time.Now())),
		chromedp.Click(testid("mfa-confirm")),
		chromedp.WaitVisible(testid("recovery-codes")),
	)
	codes := value(t, ctx, "count the recovery codes", chromedp.Evaluate[int](
		`document.querySelectorAll('[data-testid="recovery-code"]').length`))
	if codes != 10 {
		t.Fatalf("%d recovery codes shown, want 10", codes)
	}
	step("continue and sign out",
		chromedp.Click(testid("recovery-codes-continue")),
		chromedp.WaitVisible(testid("mfa-status")),
		chromedp.Click(testid("logout")),
		chromedp.WaitVisible(testid("login-notice")),
	)

	// Signing in again asks for the code after the password. The code of
	// the next time step is one the app shows within thirty seconds, and
	// newer than the one that confirmed the setup.
	signInWithPassword()
	code := authenticatorCode(t, secret, time.Now().Add(30*time.Second))
	step("give the code",
		chromedp.SendKeys(css(`#f-code`), code),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(css(`[data-testid="nav"] a`)),
	)
	if got := text("member"); !strings.Contains(got, email) {
		t.Fatalf("the header shows %q, want %s", got, email)
	}
	step("sign out", chromedp.Click(testid("logout")), chromedp.WaitVisible(testid("login-notice")))

	// The same code again, as someone who watched it typed would try.
	signInWithPassword()
	step("replay the code",
		chromedp.SendKeys(css(`#f-code`), code),
		chromedp.Click(testid("login-mfa-submit")),
		chromedp.WaitVisible(testid("error-code")),
	)
	if got := text("error-code"); !strings.Contains(got, "already used") {
		t.Fatalf("the replayed code is answered %q, want that it was already used", got)
	}
	step("the overview still asks for the code",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(testid("login-mfa-form")),
	)

	violations, jsErrors, _ := report.snapshot()
	if len(violations) > 0 {
		t.Errorf("the browser reported %d CSP violation(s):\n%s", len(violations), strings.Join(violations, "\n"))
	}
	if len(jsErrors) > 0 {
		t.Errorf("the browser reported %d script error(s):\n%s", len(jsErrors), strings.Join(jsErrors, "\n"))
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d, want 0\nstderr: %s", code, srv.stderr)
	}
}
