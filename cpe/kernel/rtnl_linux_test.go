package kernel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRouteMessageRoundTrip(t *testing.T) {
	for _, r := range []rtRoute{
		{family: unix.AF_INET6, dst: mustPrefix("::/0"), src: mustPrefix("2001:db8:1::/48"), gw: mustAddr("fe80::1"),
			oif: 3, metric: 1024, table: 254, typ: unix.RTN_UNICAST, protocol: RouteProtocol, mtu: 1400},
		{family: unix.AF_INET6, dst: mustPrefix("2001:db8:1::/56"), metric: 1024, table: 254, typ: unix.RTN_UNREACHABLE, protocol: RouteProtocol},
		{family: unix.AF_INET, dst: mustPrefix("0.0.0.0/0"), gw: mustAddr("192.0.2.1"), oif: 7, table: 100, typ: unix.RTN_UNICAST, protocol: RouteProtocol},
		{family: unix.AF_INET, dst: mustPrefix("198.51.100.0/24"), oif: 7, table: 1000, typ: unix.RTN_UNICAST, scope: unix.RT_SCOPE_LINK, protocol: 4},
	} {
		b := encodeRoute(r)
		got, err := decodeRoute(b)
		if err != nil {
			t.Errorf("decode(encode(%+v)): %v", r, err)
			continue
		}
		if got != r {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

// TestEncodeRouteSourceAttribute pins the part vishvananda/netlink cannot
// do: RTA_SRC with the source prefix length in the header.
func TestEncodeRouteSourceAttribute(t *testing.T) {
	b := encodeRoute(rtRoute{family: unix.AF_INET6, dst: mustPrefix("::/0"), src: mustPrefix("2001:db8:1::/48"), table: 254, typ: unix.RTN_UNICAST})
	if b[1] != 0 || b[2] != 48 {
		t.Errorf("dst_len, src_len = %d, %d; want 0, 48", b[1], b[2])
	}
	var src []byte
	walkAttrs(b[unix.SizeofRtMsg:], func(typ uint16, v []byte) error {
		switch typ {
		case unix.RTA_SRC:
			src = v
		case unix.RTA_DST:
			t.Errorf("RTA_DST for a default route")
		}
		return nil
	})
	if want := mustAddr("2001:db8:1::").AsSlice(); string(src) != string(want) {
		t.Errorf("RTA_SRC = %x, want %x", src, want)
	}
}

func TestEncodeAddr(t *testing.T) {
	b := encodeAddr(kernelAddr{Prefix: mustPrefix("192.0.2.2/24"), Preferred: 0, Valid: lifetimeForever, NoPrefixRoute: true}, 5, true)
	if b[0] != unix.AF_INET || b[1] != 24 || binary.NativeEndian.Uint32(b[4:]) != 5 {
		t.Errorf("header % x", b[:8])
	}
	attrs := map[uint16][]byte{}
	if err := walkAttrs(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) error { attrs[typ] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := netip.AddrFrom4([4]byte(attrs[unix.IFA_BROADCAST])); got != mustAddr("192.0.2.255") {
		t.Errorf("broadcast %v", got)
	}
	if f := binary.NativeEndian.Uint32(attrs[unix.IFA_FLAGS]); f != unix.IFA_F_NOPREFIXROUTE {
		t.Errorf("flags %#x", f)
	}
	// Deprecated but valid forever: the case an int-sized lifetime loses
	// on 32-bit boards.
	ci := attrs[unix.IFA_CACHEINFO]
	if len(ci) != 16 || binary.NativeEndian.Uint32(ci) != 0 || binary.NativeEndian.Uint32(ci[4:]) != lifetimeForever {
		t.Errorf("cacheinfo % x", ci)
	}

	del := encodeAddr(kernelAddr{Prefix: mustPrefix("2001:db8::1/64")}, 5, false)
	n := 0
	walkAttrs(del[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) error {
		n++
		if typ != unix.IFA_LOCAL && typ != unix.IFA_ADDRESS {
			t.Errorf("delete carries attribute %d", typ)
		}
		return nil
	})
	if del[0] != unix.AF_INET6 || del[1] != 64 || n != 2 {
		t.Errorf("delete message % x", del)
	}
}

func TestDecodeRouteRejects(t *testing.T) {
	ok := encodeRoute(rtRoute{family: unix.AF_INET, dst: mustPrefix("192.0.2.0/24"), table: 254, typ: unix.RTN_UNICAST})
	for name, b := range map[string][]byte{
		"short header":     ok[:8],
		"family":           append([]byte{unix.AF_PACKET}, ok[1:]...),
		"prefix too long":  append([]byte{unix.AF_INET, 33}, ok[2:]...),
		"cut attribute":    ok[:len(ok)-2],
		"gateway length":   appendAttr(ok, unix.RTA_GATEWAY, make([]byte, 16)),
		"oif length":       appendAttr(ok, unix.RTA_OIF, []byte{1}),
		"attribute length": append(ok, 2, 0, 1, 0),
	} {
		if _, err := decodeRoute(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestModelRoute(t *testing.T) {
	names := map[uint32]string{1: "lo", 3: "wan0"}
	for _, tc := range []struct {
		in   rtRoute
		want kernelRoute
		ok   bool
	}{
		{rtRoute{family: unix.AF_INET6, dst: mustPrefix("2001:db8:1::/56"), oif: 1, metric: 1024, table: 254, typ: unix.RTN_UNREACHABLE, protocol: RouteProtocol},
			kernelRoute{Route{Dst: mustPrefix("2001:db8:1::/56"), Type: Unreachable, Metric: 1024}, RouteProtocol}, true},
		{rtRoute{family: unix.AF_INET6, dst: mustPrefix("::/0"), src: mustPrefix("2001:db8:1::/48"), gw: mustAddr("fe80::1"), oif: 3, metric: 1024, table: 100, typ: unix.RTN_UNICAST, protocol: RouteProtocol, mtu: 1400},
			kernelRoute{Route{Dst: mustPrefix("::/0"), Src: mustPrefix("2001:db8:1::/48"), Via: mustAddr("fe80::1"), Link: "wan0", Metric: 1024, Table: 100, MTU: 1400}, RouteProtocol}, true},
		{rtRoute{family: unix.AF_INET, dst: mustPrefix("192.0.2.0/24"), oif: 3, table: 254, typ: unix.RTN_UNICAST, protocol: RouteProtocol, multipath: true},
			kernelRoute{Route{Dst: mustPrefix("192.0.2.0/24"), Link: "wan0", Type: routeOther}, RouteProtocol}, true},
		{rtRoute{family: unix.AF_INET, dst: mustPrefix("192.0.2.0/24"), table: 254, typ: unix.RTN_PROHIBIT, protocol: 4},
			kernelRoute{Route{Dst: mustPrefix("192.0.2.0/24"), Type: routeOther}, 4}, true},
		{rtRoute{family: unix.AF_INET, dst: mustPrefix("192.0.2.1/32"), table: 255, typ: unix.RTN_LOCAL}, kernelRoute{}, false},
		{rtRoute{family: unix.AF_INET6, dst: mustPrefix("2001:db8::1/128"), table: 254, flags: unix.RTM_F_CLONED}, kernelRoute{}, false},
	} {
		got, ok := modelRoute(tc.in, names)
		if got != tc.want || ok != tc.ok {
			t.Errorf("modelRoute(%+v) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzDecodeRoute feeds route messages as the kernel could send them: the
// parser must not panic, and what it accepts must survive re-encoding.
func FuzzDecodeRoute(f *testing.F) {
	for _, r := range []rtRoute{
		{family: unix.AF_INET6, dst: mustPrefix("::/0"), src: mustPrefix("2001:db8:1::/48"), gw: mustAddr("fe80::1"), oif: 3, metric: 1024, table: 254, typ: unix.RTN_UNICAST, protocol: RouteProtocol, mtu: 1400},
		{family: unix.AF_INET, dst: mustPrefix("198.51.100.0/24"), table: 1000, typ: unix.RTN_BLACKHOLE},
	} {
		f.Add(encodeRoute(r))
	}
	// What a kernel dump adds: cache info, router preference, next hops.
	dump := encodeRoute(rtRoute{family: unix.AF_INET6, dst: mustPrefix("2001:db8:1::/56"), oif: 1, metric: 1024, table: 254, typ: unix.RTN_UNREACHABLE, protocol: RouteProtocol})
	dump = appendAttr(dump, unix.RTA_CACHEINFO, make([]byte, 32))
	dump = appendAttr(dump, unix.RTA_PREF, []byte{0})
	f.Add(dump)
	f.Add(appendAttr(encodeRoute(rtRoute{family: unix.AF_INET, dst: mustPrefix("192.0.2.0/24"), table: 254, typ: unix.RTN_UNICAST}),
		unix.RTA_MULTIPATH, make([]byte, 24)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRoute(b)
		if err != nil {
			return
		}
		r.multipath = false // not something encodeRoute writes
		again, err := decodeRoute(encodeRoute(r))
		if err != nil {
			t.Fatalf("re-encoded %+v does not parse: %v", r, err)
		}
		if again != r {
			t.Fatalf("re-encoding changed the route:\n%+v\n%+v", r, again)
		}
	})
}
