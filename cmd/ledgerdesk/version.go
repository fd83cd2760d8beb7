package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"ledgerdesk/version"
)

// printVersion names the build: what `make release` linked in, or what the
// go command recorded.
func printVersion(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := newSettings("version", getenv, stderr)
	if err := s.parse(args); err != nil {
		return err
	}
	v := version.Get()
	fmt.Fprintf(stdout, "ledgerdesk %s\ncommit: %s\nbuilt:  %s\ngo:     %s %s/%s\n",
		v.Version, v.Commit, v.Built, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
