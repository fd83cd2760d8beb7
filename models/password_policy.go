package models

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsText is the 10,000 most common passwords of zxcvbn's
// frequency list (MIT; see the README), one a line, most common first.
//
//go:embed data/common_passwords.txt
var commonPasswordsText string

var (
	commonOnce      sync.Once
	commonPasswords map[string]struct{}
)

// IsCommonPassword reports whether pw is on the shipped list of common
// passwords. Case is ignored: "Password123456" is as guessable as its
// lower-case form.
func IsCommonPassword(pw string) bool {
	commonOnce.Do(func() {
		lines := strings.Split(commonPasswordsText, "\n")
		commonPasswords = make(map[string]struct{}, len(lines))
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				commonPasswords[strings.ToLower(l)] = struct{}{}
			}
		}
	})
	_, ok := commonPasswords[strings.ToLower(pw)]
	return ok
}

// CommonPasswordCount is how many passwords the shipped list holds.
func CommonPasswordCount() int {
	IsCommonPassword("")
	return len(commonPasswords)
}
