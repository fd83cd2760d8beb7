package models_test

import (
	"os"
	"testing"

	"ledgerdesk/models/testdb"
)

// TestMain stops the replica the replica tests start, once all have run.
func TestMain(m *testing.M) {
	code := m.Run()
	testdb.StopReplica()
	os.Exit(code)
}
