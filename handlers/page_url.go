package handlers

import "net/url"

// pageURL is a list's address at a page cursor: base, the list's filter
// as query values (so every filter survives paging) and the cursor; ""
// when there is no such page (cursor "").
func pageURL(base string, filter url.Values, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := make(url.Values, len(filter)+1)
	for k, v := range filter {
		q[k] = v
	}
	q.Set("cursor", cursor)
	return base + "?" + q.Encode()
}

// setUnlessDefault puts a filter value into q unless it is the value the
// list takes when the parameter is missing, which keeps links short.
func setUnlessDefault(q url.Values, key, value, def string) {
	if value != def {
		q.Set(key, value)
	}
}
