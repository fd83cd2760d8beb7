package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"code.dny.dev/ssrf"

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

// How the guard treats an address, by mode.
const (
	public  = iota // allowed
	private        // refused, allowed with AllowPrivate
	never          // refused, AllowPrivate or not
)

// guardCases are one address per range of IANA's IPv4 and IPv6
// special-purpose address registries, the IPv6 forms that carry an IPv4
// address, the other non-unicast ranges, and public addresses.
var guardCases = []struct {
	addr  string
	rng   string
	class int
}{
	// IPv4 special-purpose registry.
	{"0.0.0.0", "0.0.0.0/32 this host", never},
	{"0.1.2.3", "0.0.0.0/8 this network", never},
	{"10.1.2.3", "10.0.0.0/8 private-use", private},
	{"100.64.0.1", "100.64.0.0/10 shared address space", private},
	{"127.0.0.1", "127.0.0.0/8 loopback", private},
	{"127.8.9.10", "127.0.0.0/8 loopback", private},
	{"169.254.169.254", "169.254.0.0/16 link-local (cloud metadata)", never},
	{"172.16.0.1", "172.16.0.0/12 private-use", private},
	{"192.0.0.100", "192.0.0.0/24 IETF protocol assignments", never},
	{"192.0.0.1", "192.0.0.0/29 IPv4 service continuity", never},
	{"192.0.0.8", "192.0.0.8/32 IPv4 dummy address", never},
	{"192.0.0.9", "192.0.0.9/32 port control protocol anycast", never},
	{"192.0.0.10", "192.0.0.10/32 TURN anycast", never},
	{"192.0.0.170", "192.0.0.170/32 NAT64/DNS64 discovery", never},
	{"192.0.0.171", "192.0.0.171/32 NAT64/DNS64 discovery", never},
	{"192.0.2.10", "192.0.2.0/24 documentation", never},
	{"192.31.196.1", "192.31.196.0/24 AS112-v4", never},
	{"192.52.193.1", "192.52.193.0/24 AMT", never},
	{"192.88.99.1", "192.88.99.0/24 6to4 relay anycast", never},
	{"192.88.99.2", "192.88.99.2/32 6a44 relay anycast", never},
	{"192.168.1.1", "192.168.0.0/16 private-use", private},
	{"192.175.48.1", "192.175.48.0/24 AS112 direct delegation", never},
	{"198.18.0.1", "198.18.0.0/15 benchmarking", never},
	{"198.19.255.254", "198.18.0.0/15 benchmarking", never},
	{"198.51.100.7", "198.51.100.0/24 documentation", never},
	{"203.0.113.7", "203.0.113.0/24 documentation", never},
	{"240.0.0.1", "240.0.0.0/4 reserved", never},
	{"255.255.255.255", "255.255.255.255/32 limited broadcast", never},
	// IPv4 multicast.
	{"224.0.0.1", "224.0.0.0/4 multicast", never},
	{"239.255.255.250", "224.0.0.0/4 multicast", never},

	// IPv6 special-purpose registry.
	{"::1", "::1/128 loopback", private},
	{"::", "::/128 unspecified", never},
	{"::ffff:127.0.0.1", "::ffff:0:0/96 IPv4-mapped loopback", private},
	{"::ffff:10.0.0.1", "::ffff:0:0/96 IPv4-mapped private-use", private},
	{"::ffff:169.254.169.254", "::ffff:0:0/96 IPv4-mapped link-local", never},
	{"::ffff:0.0.0.0", "::ffff:0:0/96 IPv4-mapped this host", never},
	{"64:ff9b::a00:1", "64:ff9b::/96 NAT64 of private-use 10.0.0.1", private},
	{"64:ff9b::7f00:1", "64:ff9b::/96 NAT64 of loopback 127.0.0.1", private},
	{"64:ff9b::a9fe:a9fe", "64:ff9b::/96 NAT64 of link-local 169.254.169.254", never},
	{"64:ff9b:1::a00:1", "64:ff9b:1::/48 local-use NAT64", never},
	{"64:ff9b:1::808:808", "64:ff9b:1::/48 local-use NAT64, public IPv4 inside", never},
	{"100::1", "100::/64 discard-only", never},
	{"100:0:0:1::1", "100:0:0:1::/64 dummy prefix", never},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32 Teredo", never},
	{"2001::7f00:1", "2001::/32 Teredo", never},
	{"2001:1::1", "2001:1::1/128 port control protocol anycast", never},
	{"2001:1::2", "2001:1::2/128 TURN anycast", never},
	{"2001:1::3", "2001:1::3/128 DNS-SD service registration anycast", never},
	{"2001:2::1", "2001:2::/48 benchmarking", never},
	{"2001:3::1", "2001:3::/32 AMT", never},
	{"2001:4:112::1", "2001:4:112::/48 AS112-v6", never},
	{"2001:10::1", "2001:10::/28 ORCHID (deprecated)", never},
	{"2001:20::1", "2001:20::/28 ORCHIDv2", never},
	{"2001:30::1", "2001:30::/28 drone remote ID", never},
	{"2001:db8::1", "2001:db8::/32 documentation", never},
	{"2002:7f00:1::1", "2002::/16 6to4 of loopback", never},
	{"2002:a00:1::1", "2002::/16 6to4 of private-use", never},
	{"2002:808:808::1", "2002::/16 6to4, public IPv4 inside", never},
	{"2620:4f:8000::1", "2620:4f:8000::/48 AS112 direct delegation", never},
	{"3fff::1", "3fff::/20 documentation", never},
	{"5f00::1", "5f00::/16 segment routing SIDs", never},
	{"fc00::1", "fc00::/7 unique local", private},
	{"fd12:3456::1", "fc00::/7 unique local", private},
	{"fd00:ec2::254", "fc00::/7 unique local, cloud metadata", never},
	{"fe80::1", "fe80::/10 link-local", never},
	// Other IPv6 ranges that are not global unicast.
	{"::127.0.0.1", "::/96 IPv4-compatible (deprecated) of loopback", never},
	{"::10.0.0.1", "::/96 IPv4-compatible (deprecated) of private-use", never},
	{"::8.8.8.8", "::/96 IPv4-compatible (deprecated), public IPv4 inside", never},
	{"fec0::1", "fec0::/10 site-local (deprecated)", never},
	{"ff02::1", "ff00::/8 multicast", never},
	{"ff05::1:3", "ff00::/8 multicast", never},

	// Public addresses.
	{"93.184.216.34", "public IPv4", public},
	{"8.8.8.8", "public IPv4", public},
	{"2606:4700:4700::1111", "public IPv6", public},
	{"2a00:1450:4001:81c::200e", "public IPv6", public},
	{"::ffff:8.8.8.8", "IPv4-mapped public", public},
	{"64:ff9b::808:808", "NAT64 of public 8.8.8.8", public},
}

// errConnect stands for the connection a dial would make once the guard
// let it through: the tests never send a packet anywhere.
var errConnect = errors.New("the guard let the dial through")

// dialThrough dials addr with the guard's own dialer, stopped right after
// the guard's check.
func dialThrough(g *webhooks.Guard, addr netip.Addr) error {
	d := g.Dialer()
	check := d.Control
	d.Control = func(network, address string, c syscall.RawConn) error {
		if err := check(network, address, c); err != nil {
			return err
		}
		return errConnect
	}
	conn, err := d.DialContext(context.Background(), "tcp", netip.AddrPortFrom(addr, 443).String())
	if conn != nil {
		conn.Close()
	}
	return err
}

func TestGuard_EverySpecialPurposeRangeIsRefusedAtSaveAndAtDial(t *testing.T) {
	for _, mode := range []struct {
		name  string
		guard *webhooks.Guard
	}{{"default", &webhooks.Guard{}}, {"allow private", &webhooks.Guard{AllowPrivate: true}}} {
		for _, tc := range guardCases {
			allowed := tc.class == public || tc.class == private && mode.guard.AllowPrivate
			ip := netip.MustParseAddr(tc.addr)
			host := tc.addr
			if ip.Is6() {
				host = "[" + host + "]"
			}
			problem := mode.guard.CheckURL(context.Background(), "https://"+host+"/hook")
			if allowed && problem != "" {
				t.Errorf("%s: %s (%s) refused when saved: %s", mode.name, tc.addr, tc.rng, problem)
			}
			if !allowed && !strings.Contains(problem, "not a public address") {
				t.Errorf("%s: %s (%s) accepted when saved: %q", mode.name, tc.addr, tc.rng, problem)
			}
			err := dialThrough(mode.guard, ip)
			if allowed && !errors.Is(err, errConnect) {
				t.Errorf("%s: %s (%s) refused by the dialer: %v", mode.name, tc.addr, tc.rng, err)
			}
			if !allowed && !errors.Is(err, webhooks.ErrBlockedAddress) {
				t.Errorf("%s: %s (%s) not refused by the dialer: %v", mode.name, tc.addr, tc.rng, err)
			}
		}
	}
}

// Every range of the package's tables is refused, at its first and last
// address: an upgrade that adds a range is covered without a new case.
func TestGuard_RefusesEveryRangeOfTheTable(t *testing.T) {
	g := &webhooks.Guard{}
	prefixes := append(append([]netip.Prefix{}, ssrf.IPv4DeniedPrefixes...), ssrf.IPv6DeniedPrefixes...)
	for _, p := range prefixes {
		for _, ip := range []netip.Addr{p.Masked().Addr(), lastAddr(p)} {
			if g.Allowed(ip) {
				t.Errorf("%s (in %s) is allowed", ip, p)
			}
		}
	}
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	ip, _ := netip.AddrFromSlice(b)
	return ip
}

func TestGuard_RefusesOtherNetworksAndScopedAddresses(t *testing.T) {
	g := &webhooks.Guard{AllowPrivate: true}
	for _, s := range []string{"fe80::1%eth0", "fd12::1%eth0", "::1%lo"} {
		if g.Allowed(netip.MustParseAddr(s)) {
			t.Errorf("scoped %s is allowed", s)
		}
	}
	d := g.Dialer()
	if _, err := d.Dial("udp", "127.0.0.1:53"); !errors.Is(err, webhooks.ErrBlockedAddress) {
		t.Errorf("a UDP dial: %v", err)
	}
	var opErr *net.OpError
	if _, err := (&webhooks.Guard{}).Dialer().Dial("tcp", "127.0.0.1:9"); !errors.As(err, &opErr) || !errors.Is(err, webhooks.ErrBlockedAddress) {
		t.Errorf("a loopback dial: %v", err)
	}
}

func TestGuard_CheckURLResolvesNames(t *testing.T) {
	g := &webhooks.Guard{Resolver: fakeResolver{
		"hooks.example.com":    {"93.184.216.34"},
		"internal.example.com": {"93.184.216.34", "10.0.0.7"}, // one private answer is enough to refuse
		"metadata.example.com": {"169.254.169.254"},
		"sixtofour.example":    {"2002:a00:1::1"},
	}}
	cases := map[string]string{
		"https://hooks.example.com/x":          "",
		"https://93.184.216.34:8443/x":         "",
		"https://internal.example.com/x":       "10.0.0.7 is in 10.0.0.0/8",
		"https://metadata.example.com/latest":  "169.254.169.254 is in 169.254.0.0/16",
		"https://sixtofour.example/":           "2002::/16",
		"http://127.0.0.1:8080/":               "not a public address",
		"http://[::1]/":                        "not a public address",
		"http://[::127.0.0.1]/":                "outside 2000::/3",
		"http://[64:ff9b::a00:1]/":             "translates to 10.0.0.1",
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
