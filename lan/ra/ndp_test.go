package ra

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

// TestRouteInformationEncoding checks our RIO bytes against ndp's own
// marshalling (correct in v1.1.0) and against RFC 4191 2.3 by hand, for
// prefix lengths that are and are not multiples of 8.
func TestRouteInformationEncoding(t *testing.T) {
	for _, p := range []string{"::/0", "2000::/3", "2001:db8::/32", "2001:db8:1:20::/60", "2001:db8:1:30::/64", "2001:db8:1:30:8000::/65", "2001:db8::1/128"} {
		pfx := netip.MustParsePrefix(p)
		r := AdvertisedRoute{Prefix: pfx, Preference: ndp.Low, Lifetime: 1234 * time.Second}
		ours, err := ndp.MarshalMessage(&ndp.RouterAdvertisement{Options: []ndp.Option{rio(r)}})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := ndp.MarshalMessage(&ndp.RouterAdvertisement{Options: []ndp.Option{&ndp.RouteInformation{
			PrefixLength: uint8(pfx.Bits()), Preference: ndp.Low, RouteLifetime: r.Lifetime, Prefix: pfx.Addr()}}})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s: ours %x, ndp %x", p, ours[16:], theirs[16:])
		}
		o := ours[16:]
		a := pfx.Addr().As16()
		wantLen := map[bool]int{true: 1}[pfx.Bits() == 0] + map[bool]int{true: 2}[pfx.Bits() > 0 && pfx.Bits() <= 64] + map[bool]int{true: 3}[pfx.Bits() > 64]
		if o[0] != 24 || int(o[1]) != wantLen || int(o[2]) != pfx.Bits() || o[3] != 0x18 ||
			!bytes.Equal(o[4:8], []byte{0, 0, 0x04, 0xd2}) || !bytes.Equal(o[8:], a[:len(o)-8]) {
			t.Errorf("%s: option %x does not follow RFC 4191 2.3", p, o)
		}
	}
}

// TestRawMessageKeepsRIO is why the Linux Conn sends through rawMessage:
// a /60 survives byte for byte, while ndp's own parse (v1.1.0) drops the
// partial last byte of the prefix.
func TestRawMessageKeepsRIO(t *testing.T) {
	pfx := netip.MustParsePrefix("2001:db8:1:20::/60")
	b, err := ndp.MarshalMessage(&ndp.RouterAdvertisement{Options: []ndp.Option{
		rio(AdvertisedRoute{Prefix: pfx, Lifetime: time.Minute}),
		&ndp.RecursiveDNSServer{Lifetime: time.Minute, Servers: []netip.Addr{dns1}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rawMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ndp.MarshalMessage(m)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("rawMessage round trip: %v\n got %x\nwant %x", err, again, b)
	}
	parsed, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	ri := parsed.(*ndp.RouterAdvertisement).Options[0].(*ndp.RouteInformation)
	if got := netip.PrefixFrom(ri.Prefix, int(ri.PrefixLength)); got != pfx {
		t.Logf("ndp parses %v as %v: the bug rawMessage works around is still there", pfx, got)
	}
	if _, err := rawMessage([]byte{134, 0}); err == nil {
		t.Error("rawMessage accepted a truncated RA")
	}
}
