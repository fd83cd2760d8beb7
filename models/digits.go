package models

import "strconv"

// GroupDigits writes n with commas between groups of three digits, as
// every count the portal shows is written: 1,234,567.
func GroupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	start := 0
	if n < 0 {
		start = 1
	}
	for i := len(s) - 3; i > start; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
