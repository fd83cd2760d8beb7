package models

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A stored list reads back as encoding/json reads it, whichever way it is
// read.
func TestStringListScanReadsWhatEncodingJSONReads(t *testing.T) {
	lists := [][]string{
		{}, {""}, {"a"}, {"valentina.p790@hey.com", "v@example.org"}, {"+13125550101", "+13125550102", "+13125550103"},
		{`quote " inside`}, {`back\slash`}, {"<tag> & amp"}, {"tab\there"}, {"Zoë", "日本語", "emoji 🙂"},
		{"comma, inside", "bracket ] inside", "[", "]"},
	}
	var stored []string
	for _, l := range lists {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, string(b))
	}
	// Values json.Marshal does not write, as another writer might.
	stored = append(stored, `[ "a" , "b" ]`, `["a",]`, `["a""b"]`, `["a"`, `null`, `[1]`, `["\u0041"]`, "[\"bad \xff utf8\"]", `["x"]junk]`)
	for _, s := range stored {
		var want []string
		wantErr := json.Unmarshal([]byte(s), &want)
		for _, src := range []any{s, []byte(s)} {
			var got StringList
			err := got.Scan(src)
			if (err != nil) != (wantErr != nil) {
				t.Errorf("%q: error %v, encoding/json says %v", s, err, wantErr)
				continue
			}
			if err == nil && !reflect.DeepEqual([]string(got), want) {
				t.Errorf("%q: read %#v, encoding/json reads %#v", s, []string(got), want)
			}
		}
	}
}
