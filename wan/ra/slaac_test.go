package ra

import (
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestTwoHourRule is RFC 4862 5.5.3 e for an address whose valid lifetime
// has `remaining` left when a PIO advertises `advertised`.
func TestTwoHourRule(t *testing.T) {
	const inf = 0xffffffff
	for _, tc := range []struct {
		name                 string
		remaining, advertise int // seconds
		want                 int // remaining after the PIO
	}{
		{"longer: taken", 3 * 3600, 4 * 3600, 4 * 3600},
		{"infinite: taken", 3 * 3600, inf, inf},
		{"above 2h, shorter: taken", 5 * 3600, 3 * 3600, 3 * 3600},
		{"shorter than 2h: cut to 2h", 3 * 3600, 3600, 2 * 3600},
		{"exactly 2h: cut to 2h", 3 * 3600, 2 * 3600, 2 * 3600},
		{"zero with 3h left: cut to 2h", 3 * 3600, 0, 2 * 3600},
		{"1h left, 30m advertised: ignored", 3600, 1800, 3600},
		{"1h left, zero advertised: ignored", 3600, 0, 3600},
		{"2h left, 1h advertised: ignored", 2 * 3600, 3600, 2 * 3600},
		{"1h left, 90m advertised: taken", 3600, 5400, 5400},
		{"1h left, 3h advertised: taken", 3600, 3 * 3600, 3 * 3600},
		{"10m left, 10m advertised: ignored", 600, 600, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testCfg)
			// The first PIO made the address 10 minutes ago.
			made := h.now
			h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, 0, tc.remaining+600)))
			h.now = made.Add(10 * time.Minute)
			h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, min(tc.advertise, 300), tc.advertise)))
			f := h.r.Facts()
			if len(f.Addresses) != 1 {
				t.Fatalf("addresses %+v", f.Addresses)
			}
			a := f.Addresses[0]
			if got := a.Valid.Sub(h.now); got != secs(tc.want) {
				t.Errorf("valid for %v, want %v", got, secs(tc.want))
			}
			// The preferred lifetime is always the advertised one, within
			// the valid lifetime.
			if got := a.Preferred.Sub(h.now); got != secs(min(tc.advertise, 300)) {
				t.Errorf("preferred for %v, want %v", got, secs(min(tc.advertise, 300)))
			}
			// The on-link prefix itself follows the PIO as it is (RFC 4861).
			if len(f.Prefixes) != 1 && tc.advertise != 0 {
				t.Fatalf("prefixes %+v", f.Prefixes)
			}
			if tc.advertise != 0 && !f.Prefixes[0].Valid.Equal(h.now.Add(secs(tc.advertise))) {
				t.Errorf("prefix valid until %v", f.Prefixes[0].Valid.Sub(h.now))
			}
		})
	}
}

func TestStableIID(t *testing.T) {
	p1 := netip.MustParsePrefix("2001:db8:1::/64")
	p2 := netip.MustParsePrefix("2001:db8:2::/64")
	base := StableIID(testKey, p1, "wan0", 0)
	if base != StableIID(testKey, p1, "wan0", 0) {
		t.Fatal("not stable for the same inputs")
	}
	// Bits past the prefix length do not matter: the prefix is the prefix.
	if base != StableIID(testKey, netip.MustParsePrefix("2001:db8:1::1/64"), "wan0", 0) {
		t.Fatal("host bits of the prefix changed the identifier")
	}
	for name, other := range map[string][8]byte{
		"prefix":    StableIID(testKey, p2, "wan0", 0),
		"length":    StableIID(testKey, netip.MustParsePrefix("2001:db8:1::/63"), "wan0", 0),
		"interface": StableIID(testKey, p1, "wan1", 0),
		"dad":       StableIID(testKey, p1, "wan0", 1),
		"key":       StableIID([]byte("another secret key for tests!!!!"), p1, "wan0", 0),
		// Length-prefixing keeps "wan0"+counter 1 apart from "wan0\x01".
		"concatenation": StableIID(testKey, p1, "wan0\x00", 1),
	} {
		if other == base {
			t.Errorf("same identifier with another %s", name)
		}
	}
	// Every box's WAN address depends on this function: it must never
	// change. This value was computed once with the code above.
	if got := hex.EncodeToString(base[:]); got != "8cbffcfd117aaad1" {
		t.Errorf("StableIID changed: %s", got)
	}
}

func TestReservedIID(t *testing.T) {
	for _, tc := range []struct {
		iid  string
		want bool
	}{
		{"0000000000000000", true},
		{"02005efffe000000", true},
		{"02005efffe005213", true},
		{"02005efffeffffff", true},
		{"fdffffffffffff80", true},
		{"ffffffffffffffff", true},
		{"0000000000000001", false},
		{"02005efffd000000", false},
		{"02005eff00000000", false},
		{"fdffffffffffff7f", false},
		{"8cbffcfd117aaad1", false},
	} {
		var iid [8]byte
		b, _ := hex.DecodeString(tc.iid)
		copy(iid[:], b)
		if got := IsReservedIID(iid); got != tc.want {
			t.Errorf("IsReservedIID(%s) = %v", tc.iid, got)
		}
	}
}

func TestEUI64(t *testing.T) {
	iid, ok := EUI64IID(net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56})
	if !ok || hex.EncodeToString(iid[:]) != "505400fffe123456" {
		t.Fatalf("EUI64IID = %x, %v", iid, ok)
	}
	if _, ok := EUI64IID(make(net.HardwareAddr, 8)); ok {
		t.Fatal("EUI64IID took an 8-byte address")
	}
	cfg := testCfg
	cfg.EUI64, cfg.SecretKey = true, nil
	h := newHarness(t, cfg)
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200)))
	if f := h.r.Facts(); len(f.Addresses) != 1 || f.Addresses[0].Addr != netip.MustParseAddr("2001:db8:1:0:0:5eff:fe10:1") {
		t.Fatalf("EUI-64 address: %+v", f.Addresses)
	}
	// A duplicate EUI-64 address has no second choice.
	h.apply(h.r.DADFailed(h.now, netip.MustParseAddr("2001:db8:1:0:0:5eff:fe10:1")))
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200)))
	if f := h.r.Facts(); len(f.Addresses) != 0 || f.LastError == "" {
		t.Fatalf("after DAD failure: %+v", f)
	}
}

func TestStableAddressAcrossPrefixes(t *testing.T) {
	h := newHarness(t, testCfg)
	h.receive(ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200), pio("2001:db8:2::/64", true, true, 600, 1200)))
	f := h.r.Facts()
	if len(f.Addresses) != 2 {
		t.Fatalf("addresses %+v", f.Addresses)
	}
	a1, a2 := f.Addresses[0].Addr.As16(), f.Addresses[1].Addr.As16()
	if [8]byte(a1[8:]) == [8]byte(a2[8:]) {
		t.Fatal("same interface identifier in two prefixes")
	}
	// Another receiver (a reboot) forms the same addresses.
	h2 := newHarnessRand(t, testCfg, seeded(99))
	h2.receive(ra(t, 1800, pio("2001:db8:2::/64", true, true, 600, 1200), pio("2001:db8:1::/64", true, true, 600, 1200)))
	if g := h2.r.Facts().Addresses; g[0].Addr != f.Addresses[0].Addr || g[1].Addr != f.Addresses[1].Addr {
		t.Fatalf("addresses changed across a restart: %v vs %v", g, f.Addresses)
	}
}

func TestDADFailed(t *testing.T) {
	h := newHarness(t, testCfg)
	pioB := ra(t, 1800, pio("2001:db8:1::/64", true, true, 600, 1200))
	h.receive(pioB)
	for n := range idgenRetries {
		a := h.r.Facts().Addresses[0]
		if a.Addr != stableAddr("2001:db8:1::/64", uint8(n)) || a.DADCounter != n {
			t.Fatalf("try %d: address %v counter %d", n, a.Addr, a.DADCounter)
		}
		out := h.apply(h.r.DADFailed(h.now, a.Addr))
		if out.Facts == nil || out.Facts.Addresses[0].Addr == a.Addr {
			t.Fatalf("try %d: no new address", n)
		}
		// Lifetimes carry over to the new address.
		if !out.Facts.Addresses[0].Valid.Equal(a.Valid) {
			t.Fatal("lifetime lost")
		}
	}
	last := h.r.Facts().Addresses[0]
	if last.DADCounter != idgenRetries {
		t.Fatalf("counter %d", last.DADCounter)
	}
	// An address that is not ours changes nothing.
	if out := h.apply(h.r.DADFailed(h.now, netip.MustParseAddr("2001:db8:1::1"))); out.Facts != nil {
		t.Fatal("unknown address changed the facts")
	}
	h.apply(h.r.DADFailed(h.now, last.Addr))
	if f := h.r.Facts(); len(f.Addresses) != 0 || f.LastError == "" {
		t.Fatalf("IDGEN_RETRIES exceeded, still: %+v", f.Addresses)
	}
	h.receive(pioB)
	if len(h.r.Facts().Addresses) != 0 {
		t.Fatal("abandoned prefix got an address again")
	}
	if c := h.r.Counters(); c.DADFailures != idgenRetries+1 {
		t.Fatalf("DADFailures = %d", c.DADFailures)
	}
	// Once the prefix is gone, it starts afresh.
	h.at(h.now.Add(1200 * time.Second))
	h.receive(pioB)
	if f := h.r.Facts(); len(f.Addresses) != 1 || f.Addresses[0].DADCounter != 0 {
		t.Fatalf("after the prefix expired: %+v", f.Addresses)
	}
}

func TestNewErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"short key":       {Interface: "wan0", SecretKey: []byte("short")},
		"eui64 no mac":    {Interface: "wan0", EUI64: true},
		"link mtu small":  {Interface: "wan0", SecretKey: testKey, LinkMTU: 1000},
		"link mtu large":  {Interface: "wan0", SecretKey: testKey, LinkMTU: 70000},
		"eui64 ppp":       {Interface: "ppp0", EUI64: true, HardwareAddr: make(net.HardwareAddr, 0)},
		"eui64 long addr": {Interface: "ib0", EUI64: true, HardwareAddr: make(net.HardwareAddr, 20)},
	} {
		if _, err := New(Options{Config: cfg}); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	r, err := New(Options{Config: Config{Interface: "wan0", SecretKey: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	// The secret is copied: a caller reusing its buffer changes nothing.
	key := append([]byte(nil), testKey...)
	r2, _ := New(Options{Config: Config{Interface: "wan0", SecretKey: key}})
	key[0] ^= 0xff
	p := netip.MustParsePrefix("2001:db8::/64")
	a1, _, _ := r.formAddress(p, 0)
	a2, _, _ := r2.formAddress(p, 0)
	if a1 != a2 {
		t.Fatal("secret key not copied")
	}
}
