// Package webhooks delivers the outbox's events to the endpoints admins
// configure: requests signed the Standard Webhooks way, retries with
// backoff, and a guard that keeps requests away from internal networks.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// Resolver finds a host's addresses; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which addresses webhooks may reach. By default only public
// unicast addresses: a webhook URL is typed by an admin but the request
// comes from inside the portal's network, so without the guard it could
// probe internal services (SSRF).
//
// The special-purpose ranges come from code.dny.dev/ssrf, which follows
// IANA's IPv4 and IPv6 special-purpose address registries (plus IPv4
// multicast, and every IPv6 address outside 2000::/3, the global unicast
// range). IPv6 forms that carry an IPv4 address are judged as follows:
//   - IPv4-mapped (::ffff:0:0/96) is the IPv4 address itself, and is
//     judged as that address;
//   - NAT64's well-known prefix (64:ff9b::/96) reaches the IPv4 address it
//     embeds through a translator, and is judged as that address;
//   - IPv4-compatible (::/96, deprecated), local-use NAT64
//     (64:ff9b:1::/48, whose embedding depends on the operator), 6to4
//     (2002::/16) and Teredo (2001::/32) are refused whatever they carry.
type Guard struct {
	// AllowPrivate opens private networks (LEDGERDESK_WEBHOOK_ALLOW_PRIVATE),
	// for receivers on the same network and for tests: the ranges in
	// PrivateRanges. Every other special-purpose range stays refused,
	// link-local included, where cloud instance metadata answers.
	AllowPrivate bool
	// Resolver looks up host names when an endpoint is saved; nil uses
	// the system's.
	Resolver Resolver
}

// ErrBlockedAddress is returned for a destination the guard refuses.
var ErrBlockedAddress = errors.New("webhook destination is not a public address")

// PrivateRanges are the networks AllowPrivate opens: the ones an operator
// runs receivers on.
var PrivateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),     // private-use (RFC 1918)
	netip.MustParsePrefix("172.16.0.0/12"),  // private-use (RFC 1918)
	netip.MustParsePrefix("192.168.0.0/16"), // private-use (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space: carrier-grade NAT, overlay networks (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("fc00::/7"),       // unique local (RFC 4193)
}

// metadataAddresses are inside PrivateRanges but never opened: a cloud
// instance's metadata service hands out its credentials. (The usual one,
// 169.254.169.254, is link-local, which is never opened at all.)
var metadataAddresses = []netip.Prefix{
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS's IPv6 instance metadata service
}

// nat64 is NAT64's well-known prefix, whose last 32 bits are the IPv4
// destination (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Check says why the guard refuses ip (an error wrapping
// ErrBlockedAddress), or returns nil.
func (g *Guard) Check(ip netip.Addr) error {
	if reason := g.refusal(ip); reason != "" {
		return fmt.Errorf("%w: %s %s", ErrBlockedAddress, ip, reason)
	}
	return nil
}

// Allowed reports whether the guard lets a request reach ip.
func (g *Guard) Allowed(ip netip.Addr) bool { return g.refusal(ip) == "" }

// refusal is why ip is refused, or "".
func (g *Guard) refusal(ip netip.Addr) string {
	if !ip.IsValid() {
		return "is not an IP address"
	}
	if ip.Zone() != "" {
		// Only link-local and multicast addresses have a scope.
		return "is a scoped address"
	}
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte(b[12:]))
		if reason := g.refusal(v4); reason != "" {
			return "translates to " + v4.String() + ", which " + reason
		}
		return ""
	}
	for _, p := range metadataAddresses {
		if p.Contains(ip) {
			return "is a cloud metadata service"
		}
	}
	if g.AllowPrivate {
		for _, p := range PrivateRanges {
			if p.Contains(ip) {
				return ""
			}
		}
	}
	if ip.Is4() {
		for _, p := range ssrf.IPv4DeniedPrefixes {
			if p.Contains(ip) {
				return "is in " + p.String() + ", a special-purpose range"
			}
		}
		return ""
	}
	if !ssrf.IPv6GlobalUnicast.Contains(ip) {
		return "is outside " + ssrf.IPv6GlobalUnicast.String() + ", the global unicast range"
	}
	for _, p := range ssrf.IPv6DeniedPrefixes {
		if p.Contains(ip) {
			return "is in " + p.String() + ", a special-purpose range"
		}
	}
	return ""
}

// CheckURL resolves the URL's host and says why it may not be used, or "".
// It is what an admin sees beside the field; the dialer checks again at
// every connection, so a name that later resolves elsewhere (DNS
// rebinding) gains nothing.
func (g *Guard) CheckURL(ctx context.Context, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "Enter a full URL, such as https://hooks.example.com/ledgerdesk."
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return fmt.Sprintf("Ledgerdesk could not resolve %s. Check the host name.", host)
		}
	}
	for _, ip := range addrs {
		if reason := g.refusal(ip); reason != "" {
			return fmt.Sprintf("%s is not a public address: %s %s. Webhooks go to public addresses only; "+
				"LEDGERDESK_WEBHOOK_ALLOW_PRIVATE opens private networks and loopback.", host, ip, reason)
		}
	}
	return ""
}

// Dialer is the dialer webhook requests use: its Control hook runs after
// resolution, on the very address about to be connected to, before any
// packet is sent, and refuses what the guard refuses.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
}

func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("webhook dial over %s: %w", network, ErrBlockedAddress)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %s: %w", address, ErrBlockedAddress)
	}
	if err := g.Check(ap.Addr()); err != nil {
		return fmt.Errorf("webhook dial: %w", err)
	}
	return nil
}
