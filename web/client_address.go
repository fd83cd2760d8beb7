package web

import (
	"fmt"
	"net"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/realclientip/realclientip-go"

	"ledgerdesk/handlers/current"
)

// clientAddress decides, once per request, the address the request came
// from: what sessions, the audit log and every per-address limit record.
//
// X-Forwarded-For is a list each hop appends to, so everything left of the
// last entry a trusted proxy wrote is whatever the client chose to send.
// The address is the connection's peer unless that peer is a trusted
// proxy; then it is the rightmost forwarded address that is not a trusted
// proxy. A list that holds only trusted proxies, or whose first untrusted
// entry is not an address (a proxy that forwarded garbage), leaves the
// peer's address.
type clientAddress struct {
	trusted  []net.IPNet
	strategy realclientip.RightmostTrustedRangeStrategy
}

// newClientAddress parses the trusted proxies: addresses and CIDR ranges,
// IPv4 or IPv6.
func newClientAddress(proxies []string) (*clientAddress, error) {
	nets, err := realclientip.AddressesAndRangesToIPNets(proxies...)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w (want IP addresses or CIDR ranges such as 10.0.0.0/8)", err)
	}
	strategy, err := realclientip.NewRightmostTrustedRangeStrategy(fiber.HeaderXForwardedFor, nets)
	if err != nil {
		return nil, err
	}
	return &clientAddress{trusted: nets, strategy: strategy}, nil
}

// CheckTrustedProxies reports what is wrong with a list of trusted
// proxies, as Setup would refuse it.
func CheckTrustedProxies(proxies []string) error {
	_, err := newClientAddress(proxies)
	return err
}

func (a *clientAddress) handler(c *fiber.Ctx) error {
	current.SetClientIP(c, a.of(c))
	return c.Next()
}

func (a *clientAddress) of(c *fiber.Ctx) string {
	peer := c.Context().RemoteIP()
	if !a.isTrusted(peer) {
		return peer.String()
	}
	values := c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	if len(values) == 0 {
		return peer.String()
	}
	h := http.Header{}
	for _, v := range values {
		h.Add(fiber.HeaderXForwardedFor, string(v))
	}
	if ip := a.strategy.ClientIP(h, ""); ip != "" {
		return ip
	}
	return peer.String()
}

func (a *clientAddress) isTrusted(ip net.IP) bool {
	for _, n := range a.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
