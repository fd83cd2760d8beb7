package handlers

// plural is the "s" a noun takes after the count n: "1 session", "2 sessions".
func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
