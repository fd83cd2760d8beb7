//go:build ignore

// gen_time_zones writes time_zones.txt: the zones a member may choose,
// from the tz database Go embeds (time/tzdata, the same as
// $GOROOT/lib/time/zoneinfo.zip). Kept are the names under a continent or
// ocean, and Etc/ (what browsers report), plus UTC; the old country and
// POSIX-style aliases (US/Eastern, EST5EDT, Japan) are left out.
//
//	go run gen_time_zones.go "$(go env GOROOT)/lib/time/zoneinfo.zip" > time_zones.txt
package main

import (
	"archive/zip"
	"fmt"
	"os"
	"sort"
	"strings"
)

var areas = []string{"Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/",
	"Etc/", "Europe/", "Indian/", "Pacific/"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_time_zones.go zoneinfo.zip")
		os.Exit(2)
	}
	z, err := zip.OpenReader(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := []string{"UTC"}
	for _, f := range z.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		for _, a := range areas {
			if strings.HasPrefix(f.Name, a) {
				names = append(names, f.Name)
				break
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
}
