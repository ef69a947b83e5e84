package babel

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// packet wraps a hand-written body in a header with the right length.
func packet(t testing.TB, body string) []byte {
	t.Helper()
	b := hexb(t, body)
	return append([]byte{Magic, Version, byte(len(b) >> 8), byte(len(b))}, b...)
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"short", []byte{42, 2, 0}, ErrShort},
		{"magic", []byte{43, 2, 0, 0}, ErrMagic},
		{"version", []byte{42, 1, 0, 0}, ErrVersion},
		{"body beyond packet", []byte{42, 2, 0, 5, 1, 0}, ErrTruncated},
		{"empty body", []byte{42, 2, 0, 0}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

// TestParserState walks a packet like the ones babeld sends: the Updates
// carry no router-id or next hop of their own and compress against the
// default prefix (RFC 8966 section 4.5).
func TestParserState(t *testing.T) {
	pkt := packet(t, ""+
		"04 06 0000 0001 0190"+ // Hello
		"08 0a 02 00 00 00 0640 0001 ffff"+ // ::/0 retraction before any router-id
		"06 0a 0000 0102030405060708"+ // Router-Id rid2
		"08 10 02 80 30 00 0640 0005 0060 20010db80001"+ // 2001:db8:1::/48, sets the default
		"08 0b 02 00 30 05 0640 0005 0060 02"+ // omits 5 octets: 2001:db8:2::/48, default unchanged
		"08 0b 02 80 38 06 0640 0005 0060 aa"+ // omits 6 octets of 2001:db8:1::: 2001:db8:1:aa00::/56
		"08 0b 02 00 38 06 0640 0005 0060 bb"+ // against the new default: 2001:db8:1:bb00::/56
		"07 06 01 00 c0000201"+ // IPv4 next hop 192.0.2.1
		"07 0a 03 00 021122fffe334455"+ // IPv6 next hop ll1
		"08 0d 01 80 18 00 0640 0009 0100 c63364"+ // 198.51.100.0/24 via 192.0.2.1
		"08 0b 01 00 18 02 0640 0009 0100 65"+ // 198.51.101.0/24, 2 octets omitted
		"08 0b 02 00 38 06 0640 0005 0060 cc"+ // IPv6 via ll1
		"08 0a 04 00 00 00 0640 0003 0060"+ // AE 4 default route via ll1
		"08 1a 02 40 80 00 0640 0005 0000 20010db8000000000211 22fffe334455"+ // R flag: router-id rid1
		"08 0d 01 00 18 00 0640 0009 0100 cb007100") // router-id rid1 still, 203.0.113.0/24
	p := mustParse(t, pkt)
	if len(p.Ignored) != 0 {
		t.Fatalf("ignored: %+v", p.Ignored)
	}
	v4nh := netip.MustParseAddr("192.0.2.1")
	want := []struct {
		prefix string
		id     RouterID
		nh     netip.Addr
	}{
		{"::/0", RouterID{}, netip.Addr{}},
		{"2001:db8:1::/48", rid2, netip.Addr{}},
		{"2001:db8:2::/48", rid2, netip.Addr{}},
		{"2001:db8:1:aa00::/56", rid2, netip.Addr{}},
		{"2001:db8:1:bb00::/56", rid2, netip.Addr{}},
		{"198.51.100.0/24", rid2, v4nh},
		{"198.51.101.0/24", rid2, v4nh},
		{"2001:db8:1:cc00::/56", rid2, ll1},
		{"0.0.0.0/0", rid2, ll1},
		{"2001:db8::211:22ff:fe33:4455/128", rid1, ll1},
		{"203.0.113.0/24", rid1, v4nh},
	}
	var ups []Update
	for _, x := range p.TLVs {
		if u, ok := x.(Update); ok {
			ups = append(ups, u)
		}
	}
	if len(ups) != len(want) {
		t.Fatalf("got %d Updates, want %d: %+v", len(ups), len(want), ups)
	}
	for i, w := range want {
		u := ups[i]
		if u.Prefix != netip.MustParsePrefix(w.prefix) || u.RouterID != w.id || u.NextHop != w.nh {
			t.Errorf("Update %d: %v id %v nh %v, want %v id %v nh %v", i, u.Prefix, u.RouterID, u.NextHop, w.prefix, w.id, w.nh)
		}
	}
	if !ups[8].V4ViaV6 || ups[5].V4ViaV6 {
		t.Errorf("V4ViaV6: AE 4 %v, AE 1 %v", ups[8].V4ViaV6, ups[5].V4ViaV6)
	}
}

// TestParserStateFreshPerPacket: nothing carries over between packets.
func TestParserStateFreshPerPacket(t *testing.T) {
	first := packet(t, "06 0a 0000 0102030405060708 08 10 02 80 30 00 0640 0005 0060 20010db80001")
	mustParse(t, first)
	second := mustParse(t, packet(t, "08 0b 02 00 30 05 0640 0005 0060 02"))
	if len(second.TLVs) != 0 || len(second.Ignored) != 1 {
		t.Fatalf("second packet used the first's state: %+v %+v", second.TLVs, second.Ignored)
	}
}

func TestParseIgnored(t *testing.T) {
	hello := "04 06 0000 0001 0190"
	for _, tc := range []struct {
		name   string
		body   string
		tlvs   int    // TLVs decoded
		reason string // in the one Ignored entry; "" for none
	}{
		{"unknown TLV skipped", "e0 03 010203" + hello, 1, "unknown TLV type"},
		{"unknown optional sub-TLV kept", "04 0a 0000 0001 0190 02 02 0102", 1, ""},
		{"unknown mandatory sub-TLV on Hello", "04 0a 0000 0001 0190 81 02 0102" + hello, 1, "mandatory sub-TLV 129"},
		{"unknown mandatory sub-TLV on Update",
			"06 0a 0000 0102030405060708 08 14 02 80 30 00 0640 0005 0060 20010db80001 90 02 0000", 1, "mandatory sub-TLV 144"},
		{"mandatory sub-TLV after padding", "04 0b 0000 0001 0190 00 81 02 0102" + hello, 1, "mandatory"},
		{"truncated sub-TLV", "04 09 0000 0001 0190 02 05 01" + hello, 1, "truncated sub-TLV"},
		{"short Hello", "04 04 0000 0001" + hello, 1, "short Hello"},
		{"truncated TLV ends the body", hello + "04 06 0000", 1, "truncated TLV"},
		{"lone type octet at the end", hello + "04", 1, "truncated TLV"},
		{"Update without router-id", "08 0a 02 00 00 00 0640 0001 0060", 0, "without a router-id"},
		{"omitted without default", "06 0a 0000 0102030405060708 08 0b 02 00 30 05 0640 0005 0060 02", 1, "without a default prefix"},
		{"IPv4 plen 33", "06 0a 0000 0102030405060708 08 0f 01 00 21 00 0640 0005 0060 0a000000 00", 1, "too long"},
		{"omitted too large", "06 0a 0000 0102030405060708 08 0a 01 80 00 00 0640 0005 0060 08 0a 01 00 00 05 0640 0005 0060", 2, "omitted"},
		{"short prefix", "06 0a 0000 0102030405060708 08 0b 02 00 30 00 0640 0005 0060 20", 1, "short prefix"},
		{"wildcard Update with finite metric", "08 0a 00 00 00 00 0640 0001 0060", 0, "finite metric"},
		{"reserved router-id", "06 0a 0000 0000000000000000", 0, "reserved"},
		{"source prefix twice", "09 0a 02 00 80 02 08 20 80 02 08 20", 0, "more than one"},
		{"zero-length source prefix", "09 05 02 00 80 01 00", 0, "bad source prefix"},
		{"source prefix on wildcard request", "09 05 00 00 80 01 08", 0, "wildcard"},
		{"Next Hop AE 0", "07 02 00 00", 0, "AE 0"},
		{"HMAC in body", "10 02 0102", 0, "HMAC TLV in the body"},
		{"overlong PC index", "11 25 00000001 " + strings.Repeat("00", 33), 0, "bad length"},
		{"unknown AE", "09 02 07 00", 0, "unknown address encoding 7"},
		{"AE 3 prefix", "09 0a 03 40 0000000000000000", 0, "AE 3"},
		{"wildcard seqno request", "0a 0e 00 00 0001 02 00 0102030405060708", 0, "wildcard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, packet(t, tc.body))
			if len(p.TLVs) != tc.tlvs {
				t.Errorf("decoded %d TLVs, want %d: %#v", len(p.TLVs), tc.tlvs, p.TLVs)
			}
			switch {
			case tc.reason == "" && len(p.Ignored) != 0:
				t.Errorf("ignored %+v", p.Ignored)
			case tc.reason != "" && (len(p.Ignored) != 1 || !strings.Contains(p.Ignored[0].Reason, tc.reason)):
				t.Errorf("ignored %+v, want one with %q", p.Ignored, tc.reason)
			}
		})
	}
}

// TestMandatoryKeepsState: an Update ignored for a mandatory sub-TLV still
// sets the default prefix and router-id for the next one (RFC 8966 4.4).
func TestMandatoryKeepsState(t *testing.T) {
	p := mustParse(t, packet(t, ""+
		"08 1e 02 c0 80 00 0640 0005 0000 20010db8000000000211 22fffe334455 90 02 0000"+
		"08 0b 02 00 80 0f 0640 0005 0000 56"))
	if len(p.TLVs) != 1 || len(p.Ignored) != 1 {
		t.Fatalf("TLVs %+v ignored %+v", p.TLVs, p.Ignored)
	}
	u := p.TLVs[0].(Update)
	if u.Prefix != netip.MustParsePrefix("2001:db8::211:22ff:fe33:4456/128") || u.RouterID != rid1 {
		t.Errorf("got %v id %v", u.Prefix, u.RouterID)
	}
}

func TestParseUnknownSubTLVKept(t *testing.T) {
	p := mustParse(t, packet(t, "06 0a 0000 0102030405060708 08 0f 01 80 08 00 0640 0005 0060 0a 02 02 0102 00"))
	u := p.TLVs[1].(Update)
	if len(u.SubTLVs) != 1 || u.SubTLVs[0].Type != 2 || string(u.SubTLVs[0].Value) != "\x01\x02" {
		t.Errorf("sub-TLVs %+v", u.SubTLVs)
	}
}

func TestParseTrailer(t *testing.T) {
	pkt := append(packet(t, "04 06 0000 0001 0190"), hexb(t, "00 01 01 00 10 04 01020304 0f 02 0000 10 09")...)
	p := mustParse(t, pkt)
	if len(p.TLVs) != 1 || len(p.Body) != HeaderLen+8 || len(p.Trailer) != len(pkt)-HeaderLen-8 {
		t.Fatalf("TLVs %d body %d trailer %d", len(p.TLVs), len(p.Body), len(p.Trailer))
	}
	if len(p.MACs) != 1 || string(p.MACs[0].MAC) != "\x01\x02\x03\x04" {
		t.Errorf("MACs %+v", p.MACs)
	}
	if len(p.Ignored) != 2 || !strings.Contains(p.Ignored[0].Reason, "not allowed in the trailer") ||
		!strings.Contains(p.Ignored[1].Reason, "truncated") {
		t.Errorf("ignored %+v", p.Ignored)
	}
}

// TestBabeldHMACPacket is a multicast Hello babeld 1.12.1 sent with an
// HMAC-SHA256 key, captured on the wire: the PC TLV is type 17 and the
// MAC covers the pseudo-header of RFC 8967 section 4.1.
func TestBabeldHMACPacket(t *testing.T) {
	pkt := hexb(t, "2a02 0016 0406 0000 abba 0064 110c 0000 0007 7165 7206 24cf 346c"+
		"1020 6bd7 9ed7 03bc 98df a6d5 b6a3 af32 e367 8b55 5eb2 62d3 cce9 f2f9 b204 eb5d 9a91")
	p := mustParse(t, pkt)
	want := []TLV{
		Hello{Seqno: 0xabba, Interval: 100},
		PC{PC: 7, Index: hexb(t, "7165720624cf346c")},
	}
	equalTLVs(t, p.TLVs, want)
	if len(p.Ignored) != 0 || len(p.MACs) != 1 {
		t.Fatalf("ignored %+v, %d MACs", p.Ignored, len(p.MACs))
	}
	src := netip.MustParseAddrPort("[fe80::b827:20ff:fe0c:abe4]:6696")
	dst := netip.MustParseAddrPort("[ff02::1:6]:6696")
	if !VerifyHMACSHA256([]byte("0123456789abcdef0123456789abcdef"), src, dst, p) {
		t.Error("babeld's MAC does not verify")
	}
}
