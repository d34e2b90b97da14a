// Package egress decides which network addresses the service may connect
// to on behalf of a tenant (webhook deliveries): never the service's own
// network. The API applies the rule when a webhook is registered (to the
// URL's host and every address it resolves to); the delivery dialer applies
// it again at connect time through Control, so that a DNS answer that
// changed since (DNS rebinding) cannot reach an internal address either.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrAddrRefused is returned by Control for an address that is not allowed.
var ErrAddrRefused = errors.New("egress: address not allowed")

// blocked are the ranges refused besides what netip classifies as
// loopback, private, link-local, multicast or unspecified.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/32"),      // Teredo: hides the IPv4 address
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// Prefixes that embed an IPv4 address, which is checked in turn.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // IPv4 in the last 4 bytes
	sixToFour = netip.MustParsePrefix("2002::/16")    // IPv4 in bytes 2..5
)

// WebhookAddrAllowed reports whether a webhook may be delivered to ip: not
// loopback, link-local, private (RFC 1918, ULA), unspecified, multicast,
// carrier-grade NAT or another non-public range, also when the address is
// an IPv4-mapped or NAT64 / 6to4 IPv6 address of such an IPv4 address.
func WebhookAddrAllowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return WebhookAddrAllowed(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(ip):
			return WebhookAddrAllowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// Control is a net.Dialer.Control function that refuses to connect to an
// address WebhookAddrAllowed does not allow. It runs after name
// resolution, for every address tried.
func Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrAddrRefused, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !WebhookAddrAllowed(ip) {
		return fmt.Errorf("%w: %s %s", ErrAddrRefused, network, address)
	}
	return nil
}
