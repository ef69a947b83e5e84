package dhcp4

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	router   = netip.MustParseAddr("192.168.1.1")
	dns1     = netip.MustParseAddr("192.0.2.53")
	otherSID = net.IPv4(192, 168, 1, 254)
	noSrc    = netip.AddrPortFrom(netip.IPv4Unspecified(), ClientPort)
)

func testConfig() Config {
	return Config{
		Interface: "lan0",
		Address:   netip.MustParsePrefix("192.168.1.1/24"),
		PoolStart: netip.MustParseAddr("192.168.1.100"),
		PoolEnd:   netip.MustParseAddr("192.168.1.199"),
		LeaseTime: time.Hour,
		DNS:       []netip.Addr{dns1},
		Domain:    "home.arpa",
		MTU:       1492,
	}
}

func newServer(t testing.TB, c Config) *Server {
	t.Helper()
	s, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mac(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// msg builds a client message with a fixed xid, so replies are stable.
func msg(t testing.TB, mt dhcpv4.MessageType, hw net.HardwareAddr, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	all := append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}),
		dhcpv4.WithHwAddr(hw),
		dhcpv4.WithMessageType(mt),
	}, mods...)
	m, err := dhcpv4.New(all...)
	if err != nil {
		t.Fatal(err)
	}
	return m.ToBytes()
}

func reqIP(a string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(a)))
}

func sid(ip net.IP) dhcpv4.Modifier { return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip)) }

func ciaddr(a string) dhcpv4.Modifier { return dhcpv4.WithClientIP(net.ParseIP(a)) }

var ours = sid(net.IPv4(192, 168, 1, 1))

// do hands b to s on lan0 and decodes the reply (nil when silent).
func do(t testing.TB, s *Server, now time.Time, b []byte) (*Reply, *dhcpv4.DHCPv4) {
	t.Helper()
	r, err := s.Handle(now, b, "lan0", noSrc)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if _, bench := t.(*testing.B); !bench { // O(pool): too slow for benchmark set-up
		checkInvariants(t, s)
	}
	if r == nil {
		return nil, nil
	}
	m, err := dhcpv4.FromBytes(r.Data)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return r, m
}

// dora runs DISCOVER, REQUEST for client hw and returns the ACKed address.
func dora(t testing.TB, s *Server, now time.Time, hw net.HardwareAddr, mods ...dhcpv4.Modifier) netip.Addr {
	t.Helper()
	_, offer := do(t, s, now, msg(t, dhcpv4.MessageTypeDiscover, hw, mods...))
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("%s: no OFFER: %v", hw, offer)
	}
	_, ack := do(t, s, now, msg(t, dhcpv4.MessageTypeRequest, hw, append(mods, sid(offer.ServerIdentifier()), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)))...))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("%s: no ACK: %v", hw, ack)
	}
	a, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	return a
}

func typeOf(m *dhcpv4.DHCPv4) string {
	if m == nil {
		return "silence"
	}
	return m.MessageType().String()
}

// checkInvariants compares the free set, the maps and the heap with each
// other: every pool address is free exactly when nothing holds it.
func checkInvariants(t testing.TB, s *Server) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.consistent(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) consistent() error {
	free := 0
	for a := s.net.poolStart; ; a++ {
		_, static := s.staticAddr[a]
		h := s.byAddr[a]
		i := int(a - s.net.poolStart)
		reserved := static || a == s.net.router
		wantClean := !reserved && h == nil
		wantStale := !reserved && h != nil && !h.active()
		if s.clean.has(i) != wantClean || s.stale.has(i) != wantStale {
			return fmt.Errorf("%s: clean=%v stale=%v, want %v %v (holder %+v)", addrOf(a), s.clean.has(i), s.stale.has(i), wantClean, wantStale, h)
		}
		if wantClean || wantStale {
			free++
		}
		if a == s.net.poolEnd {
			break
		}
	}
	if free != s.clean.count+s.stale.count {
		return fmt.Errorf("free count %d+%d, want %d", s.clean.count, s.stale.count, free)
	}
	for k, b := range s.byKey {
		if b.key != k || s.byAddr[b.addr] != b {
			return fmt.Errorf("byKey %x: binding %+v not under its address", k, b)
		}
	}
	active := 0
	for a, b := range s.byAddr {
		if b.addr != a {
			return fmt.Errorf("byAddr %s holds a binding for %s", addrOf(a), addrOf(b.addr))
		}
		if b.key != "" && s.byKey[b.key] != b {
			return fmt.Errorf("binding %s not under its key", addrOf(a))
		}
		if b.active() != (b.idx >= 0) {
			return fmt.Errorf("binding %s: active %v, heap index %d", addrOf(a), b.active(), b.idx)
		}
		if b.active() {
			active++
		}
	}
	if active != len(s.exp) {
		return fmt.Errorf("%d active bindings, %d in the heap", active, len(s.exp))
	}
	for i, b := range s.exp {
		if b.idx != i || (i > 0 && b.expires.Before(s.exp[(i-1)/2].expires)) {
			return fmt.Errorf("heap broken at %d", i)
		}
	}
	return nil
}

func opt(m *dhcpv4.DHCPv4, code dhcpv4.OptionCode) []byte { return m.Options.Get(code) }

func u32opt(m *dhcpv4.DHCPv4, code dhcpv4.OptionCode) uint32 {
	v := opt(m, code)
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func eqBytes(a, b []byte) bool { return bytes.Equal(a, b) }
