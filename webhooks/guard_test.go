package webhooks_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"ledgerdesk/webhooks"
)

// fakeResolver answers from a table, as DNS would.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestGuard_RefusesNonPublicAddresses(t *testing.T) {
	g := &webhooks.Guard{}
	blocked := []string{"127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fc00::1", "fd12::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "100.64.0.1", "255.255.255.255",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "198.18.0.1", "192.0.2.10"}
	for _, s := range blocked {
		if g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed", s)
		}
	}
	public := []string{"93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"}
	for _, s := range public {
		if !g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused", s)
		}
	}
	open := &webhooks.Guard{AllowPrivate: true}
	if !open.Allowed(netip.MustParseAddr("127.0.0.1")) || !open.Allowed(netip.MustParseAddr("10.0.0.1")) {
		t.Error("AllowPrivate does not allow private addresses")
	}
}

func TestGuard_CheckURLResolvesNames(t *testing.T) {
	g := &webhooks.Guard{Resolver: fakeResolver{
		"hooks.example.com":    {"93.184.216.34"},
		"internal.example.com": {"93.184.216.34", "10.0.0.7"}, // one private answer is enough to refuse
		"metadata.example.com": {"169.254.169.254"},
	}}
	cases := map[string]string{
		"https://hooks.example.com/x":          "",
		"https://93.184.216.34:8443/x":         "",
		"https://internal.example.com/x":       "private",
		"https://metadata.example.com/latest":  "private",
		"http://127.0.0.1:8080/":               "private",
		"http://[::1]/":                        "private",
		"https://nowhere.example.com/":         "could not resolve",
		"http://localhost.example.invalid:80/": "could not resolve",
	}
	for url, want := range cases {
		got := g.CheckURL(context.Background(), url)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("CheckURL(%s) = %q, want %q", url, got, want)
		}
	}
}
