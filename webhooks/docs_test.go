package webhooks_test

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"ledgerdesk/webhooks"
)

// The worked example in docs/webhooks.md, which receivers check their
// verifiers against, is what the signer produces and what Verify accepts.
func TestSign_TheWorkedExampleInTheDocsIsWhatIsSent(t *testing.T) {
	doc, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(name string) string {
		t.Helper()
		m := regexp.MustCompile("(?m)^\\| " + regexp.QuoteMeta(name) + " \\| `([^`]+)` \\|$").FindSubmatch(doc)
		if m == nil {
			t.Fatalf("docs/webhooks.md: the worked example has no %s row", name)
		}
		return string(m[1])
	}
	secret, id, body, signature := row("secret"), row("`webhook-id`"), []byte(row("body")), row("`webhook-signature`")
	timestamp, err := strconv.ParseInt(row("`webhook-timestamp`"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	key, err := webhooks.SecretKey(secret)
	if err != nil {
		t.Fatalf("the example's secret: %v", err)
	}
	if got := webhooks.Sign(key, id, timestamp, body); got != signature {
		t.Errorf("docs/webhooks.md shows the signature %s; Sign gives %s", signature, got)
	}
	h := http.Header{}
	h.Set(webhooks.HeaderID, id)
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	h.Set(webhooks.HeaderSignature, signature)
	if err := webhooks.Verify(secret, h, body, 5*time.Minute, time.Unix(timestamp, 0)); err != nil {
		t.Errorf("the worked example does not verify: %v", err)
	}
}
