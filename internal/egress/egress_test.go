package egress

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestWebhookAddrAllowed(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14":        true,
		"8.8.8.8":              true,
		"2606:4700:4700::1111": true,
		"172.32.0.1":           true, // just outside 172.16/12
		"100.128.0.1":          true, // just outside 100.64/10
		"2002:5db8:d70e::1":    true, // 6to4 of 93.184.215.14
		"64:ff9b::808:808":     true, // NAT64 of 8.8.8.8

		"127.0.0.1":          false,
		"127.255.255.254":    false,
		"::1":                false,
		"10.0.0.1":           false,
		"172.16.0.1":         false,
		"172.31.255.255":     false,
		"192.168.0.1":        false,
		"169.254.169.254":    false,
		"fe80::1":            false,
		"fe80::1%eth0":       false,
		"fc00::1":            false,
		"fd12:3456::1":       false,
		"0.0.0.0":            false,
		"0.1.2.3":            false,
		"::":                 false,
		"224.0.0.1":          false,
		"239.255.255.250":    false,
		"ff02::1":            false,
		"100.64.0.1":         false,
		"100.127.255.255":    false,
		"255.255.255.255":    false,
		"240.0.0.1":          false,
		"198.18.0.1":         false,
		"192.0.0.8":          false,
		"::ffff:127.0.0.1":   false,
		"::ffff:10.1.1.1":    false,
		"::127.0.0.1":        false,
		"64:ff9b::a00:1":     false, // NAT64 of 10.0.0.1
		"64:ff9b:1::1":       false,
		"2002:a00:1::1":      false, // 6to4 of 10.0.0.1
		"2001:0:4136:e378::": false, // Teredo
		"fec0::1":            false,
		"100::1":             false,
	} {
		ip := netip.MustParseAddr(addr)
		if got := WebhookAddrAllowed(ip); got != want {
			t.Errorf("WebhookAddrAllowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if WebhookAddrAllowed(netip.Addr{}) {
		t.Error("the zero Addr is allowed")
	}
}

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.215.14:443", true},
		{"[2606:4700:4700::1111]:443", true},
		{"127.0.0.1:443", false},
		{"[::1]:8080", false},
		{"10.0.0.1:443", false},
		{"example.com:443", false}, // not resolved: refused
		{"garbage", false},
	} {
		err := Control("tcp", tc.addr, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrAddrRefused)) {
			t.Errorf("Control(%s) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

// TestControlRefusesDial checks the rule through a real net.Dialer: a
// connection to a listener on loopback is refused before it is made.
func TestControlRefusesDial(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := net.Dialer{Control: Control}
	conn, err := d.Dial("tcp", l.Addr().String())
	if err == nil {
		conn.Close()
		t.Fatal("dial to loopback succeeded")
	}
	if !errors.Is(err, ErrAddrRefused) {
		t.Fatalf("dial error = %v, want ErrAddrRefused", err)
	}
}
