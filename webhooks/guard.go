// Package webhooks delivers the outbox's events to the endpoints admins
// configure: signed requests, retries with backoff, and a guard that keeps
// requests away from private networks.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
)

// Resolver finds a host's addresses; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which addresses webhooks may reach. By default only public
// addresses: a webhook URL is typed by an admin but the request comes from
// inside the portal's network, so without the guard it could probe
// internal services (SSRF).
type Guard struct {
	// AllowPrivate lets webhooks reach private, loopback and link-local
	// addresses (LEDGERDESK_WEBHOOK_ALLOW_PRIVATE), for receivers on the
	// same network and for tests.
	AllowPrivate bool
	// Resolver looks up host names when an endpoint is saved; nil uses
	// the system's.
	Resolver Resolver
}

// ErrBlockedAddress is returned for a destination the guard refuses.
var ErrBlockedAddress = errors.New("webhook destination is a private, loopback, link-local or otherwise non-public address")

// blockedPrefixes are ranges that are not public unicast beyond what
// netip.Addr's predicates name.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
}

// nat64 embeds an IPv4 address in IPv6; the embedded one is checked.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Allowed reports whether the guard lets a request reach ip.
func (g *Guard) Allowed(ip netip.Addr) bool {
	if g.AllowPrivate {
		return ip.IsValid()
	}
	return isPublic(ip)
}

func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		return isPublic(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	return true
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
		if !g.Allowed(ip) {
			return fmt.Sprintf("%s is a private, loopback or link-local address (%s). Webhooks go to public addresses only, unless LEDGERDESK_WEBHOOK_ALLOW_PRIVATE is set.", host, ip.Unmap())
		}
	}
	return ""
}

// control is a net.Dialer Control hook: it runs after resolution, on the
// very address about to be connected to, and refuses blocked ones.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %s: %w", address, ErrBlockedAddress)
	}
	if !g.Allowed(ap.Addr()) {
		return fmt.Errorf("webhook dial %s: %w", ap.Addr().Unmap(), ErrBlockedAddress)
	}
	return nil
}
