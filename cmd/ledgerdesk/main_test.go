package main

import (
	"os"
	"testing"

	"ledgerdesk/web/webtest"
)

// childEnv, set in a process this test binary starts, makes it run as the
// ledgerdesk binary (main, with the arguments it was given) rather than
// run tests: the way the tests start real, separate serve processes.
const childEnv = "LEDGERDESK_TEST_RUN_AS_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
	}
	webtest.Main(m)
}
