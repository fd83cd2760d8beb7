package web_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"ledgerdesk/web/webtest"
)

func TestLeaks_FindsALeakedValue(t *testing.T) {
	log := `{"level":"INFO","msg":"request","route":"/login"}` + "\n" +
		`{"level":"ERROR","msg":"oops","error":"pw-Zk2d9QmLx1"}` + "\n"
	if n := webtest.Leaks(log, []string{"pw-Zk2d9QmLx1", "never-logged-value"}); n != 1 {
		t.Fatalf("Leaks = %d, want 1", n)
	}
	if n := webtest.Leaks(log, []string{"never-logged-value"}); n != 0 {
		t.Fatalf("Leaks = %d for a clean log, want 0", n)
	}
}

func TestLeaks_FindsAValueTheJSONLogEscaped(t *testing.T) {
	var buf bytes.Buffer
	secret := `p<a&s>s"w\ord`
	slog.New(slog.NewJSONHandler(&buf, nil)).Error("sign in failed", "typed", secret)
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Fatal("the log holds the value verbatim; this test needs one it escapes")
	}
	if n := webtest.Leaks(buf.String(), []string{secret}); n != 1 {
		t.Fatalf("Leaks = %d for an escaped value in\n%s", n, buf.String())
	}
	// encoding/json also escapes <, > and &.
	line, err := json.Marshal(map[string]string{"typed": secret})
	if err != nil {
		t.Fatal(err)
	}
	if n := webtest.Leaks(string(line), []string{secret}); n != 1 {
		t.Fatalf("Leaks = %d for an escaped value in\n%s", n, line)
	}
}
