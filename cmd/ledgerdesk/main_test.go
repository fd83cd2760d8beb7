package main

import (
	"testing"

	"ledgerdesk/web/webtest"
)

func TestMain(m *testing.M) { webtest.Main(m) }
