package babel

import (
	"bytes"
	"net/netip"
	"testing"

	"cpe/internal/golden"
)

var mp = netip.MustParsePrefix

// goldenCases has one packet per TLV type (and the variants whose layout
// differs), encoded by Marshal and kept under testdata/golden/.
var goldenCases = []struct {
	name string
	tlvs []TLV
	// body is the expected body worked out by hand from the RFC diagrams,
	// independent of the encoder; empty when the golden file alone holds it.
	body string
}{
	{"pad1", []TLV{Pad1{}}, "00"},
	{"padn", []TLV{PadN{N: 3}}, "01 03 000000"},
	{"ackreq", []TLV{AckReq{Opaque: 0xbeef, Interval: 200}},
		// RFC 8966 4.6.3: type 2, length 6, reserved, opaque, interval.
		"02 06 0000 beef 00c8"},
	{"ack", []TLV{Ack{Opaque: 0xbeef}}, "03 02 beef"},
	{"hello", []TLV{Hello{Seqno: 0x1234, Interval: 400}},
		// RFC 8966 4.6.5: type 4, length 6, flags, seqno, interval.
		"04 06 0000 1234 0190"},
	{"hello_unicast_timestamp", []TLV{Hello{Flags: HelloUnicast, Seqno: 7, Interval: 0, HasTimestamp: true, Timestamp: 0x01020304}},
		"04 0c 8000 0007 0000 03 04 01020304"},
	{"ihu_linklocal", []TLV{IHU{Rxcost: 96, Interval: 1200, Address: ll1}},
		// RFC 8966 4.6.6: type 5, length, AE 3, reserved, rxcost, interval,
		// and the 8 low octets of the link-local address.
		"05 0e 03 00 0060 04b0 0211 22ff fe33 4455"},
	{"ihu_wildcard_timestamp", []TLV{IHU{Rxcost: 256, Interval: 1200, HasTimestamp: true, Origin: 1, Receive: 2}},
		"05 10 00 00 0100 04b0 03 08 00000001 00000002"},
	{"ihu_ipv4", []TLV{IHU{Rxcost: 96, Interval: 1200, Address: netip.MustParseAddr("192.0.2.7")}}, ""},
	{"ihu_ipv6", []TLV{IHU{Rxcost: 96, Interval: 1200, Address: netip.MustParseAddr("2001:db8::7")}}, ""},
	{"routerid", []TLV{RouterIDTLV{RouterID: rid1}},
		// RFC 8966 4.6.7: type 6, length 10, reserved, router-id.
		"06 0a 0000 0211 22ff fe33 4455"},
	{"nexthop_ipv4", []TLV{NextHop{Address: netip.MustParseAddr("192.0.2.1")}},
		// RFC 8966 4.6.8: type 7, length, AE 1, reserved, address.
		"07 06 01 00 c0000201"},
	{"nexthop_linklocal", []TLV{NextHop{Address: ll1}}, "07 0a 03 00 021122fffe334455"},
	{"nexthop_ipv6", []TLV{NextHop{Address: netip.MustParseAddr("2001:db8::1")}}, ""},
	{"update_ipv6", []TLV{Update{Interval: 1600, Seqno: 5, Metric: 96, Prefix: mp("2001:db8:1::/48"), RouterID: rid2}},
		// A Router-Id TLV first, then RFC 8966 4.6.9: type 8, length,
		// AE 2, flags 0x80 (default prefix), plen 48, omitted 0, interval,
		// seqno, metric, then the 6 octets the prefix length needs.
		"06 0a 0000 0102030405060708" +
			"08 10 02 80 30 00 0640 0005 0060 20010db80001"},
	{"update_ipv6_routerid_flag", []TLV{Update{Interval: 1600, Seqno: 5, Metric: 0, Prefix: mp("2001:db8::211:22ff:fe33:4455/128"), RouterID: rid1}},
		// The router-id is the prefix's low 64 bits: flag 0x40 replaces
		// the Router-Id TLV.
		"08 1a 02 c0 80 00 0640 0005 0000 20010db8000000000211 22fffe334455"},
	{"update_ipv4_nexthop", []TLV{Update{Interval: 1600, Seqno: 9, Metric: 256, Prefix: mp("198.51.100.0/24"), RouterID: rid2, NextHop: netip.MustParseAddr("192.0.2.1")}},
		"06 0a 0000 0102030405060708" +
			"07 06 01 00 c0000201" +
			"08 0d 01 80 18 00 0640 0009 0100 c63364"},
	{"update_compressed", []TLV{
		Update{Interval: 1600, Seqno: 1, Metric: 96, Prefix: mp("2001:db8:0:1::/64"), RouterID: rid2},
		Update{Interval: 1600, Seqno: 1, Metric: 96, Prefix: mp("2001:db8:0:2::/64"), RouterID: rid2},
	},
		// The second Update omits the 7 octets it shares with the first.
		"06 0a 0000 0102030405060708" +
			"08 12 02 80 40 00 0640 0001 0060 20010db800000001" +
			"08 0b 02 80 40 07 0640 0001 0060 02"},
	{"update_v4viav6", []TLV{Update{Interval: 1600, Seqno: 3, Metric: 96, Prefix: mp("0.0.0.0/0"), V4ViaV6: true, RouterID: rid2}},
		// RFC 9229: AE 4 carries an IPv4 prefix; a default route has no
		// prefix octets.
		"06 0a 0000 0102030405060708" +
			"08 0a 04 80 00 00 0640 0003 0060"},
	{"update_source_specific", []TLV{Update{Interval: 1600, Seqno: 2, Metric: 96, Prefix: mp("::/0"), Source: mp("2001:db8:5::/48"), RouterID: rid2}},
		// RFC 9079: sub-TLV 128, length 7, source plen 48, 6 octets.
		"06 0a 0000 0102030405060708" +
			"08 13 02 80 00 00 0640 0002 0060 80 07 30 20010db80005"},
	{"update_wildcard_retraction", []TLV{Update{Interval: 0, Seqno: 0, Metric: Infinity}},
		"08 0a 00 00 00 00 0000 0000 ffff"},
	{"update_unknown_subtlv", []TLV{Update{Interval: 1600, Metric: 96, Prefix: mp("10.0.0.0/8"), RouterID: rid2, SubTLVs: []SubTLV{{Type: 2, Value: []byte{1, 2}}}}}, ""},
	{"route_request_wildcard", []TLV{RouteRequest{}},
		// RFC 8966 4.6.10: type 9, length 2, AE 0, plen 0.
		"09 02 00 00"},
	{"route_request", []TLV{RouteRequest{Prefix: mp("2001:db8:1::/48"), Source: mp("2001:db8:5::/48")}},
		"09 11 02 30 20010db80001 80 07 30 20010db80005"},
	{"seqno_request", []TLV{SeqnoRequest{Seqno: 0x0102, HopCount: 64, RouterID: rid2, Prefix: mp("192.0.2.0/24")}},
		// RFC 8966 4.6.11: type 10, length, AE, plen, seqno, hop count,
		// reserved, router-id, prefix.
		"0a 11 01 18 0102 40 00 0102030405060708 c00002"},
	{"seqno_request_source", []TLV{SeqnoRequest{Seqno: 1, HopCount: 2, RouterID: rid2, Prefix: mp("2001:db8::/32"), Source: mp("2001:db8:5::/48")}}, ""},
	{"pc", []TLV{PC{PC: 42, Index: []byte("idx1")}},
		// RFC 8967 6.2: type 17, length, 32-bit PC, index.
		"11 08 0000002a 69647831"},
	{"challenge_request", []TLV{ChallengeRequest{Nonce: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}, "12 08 0102030405060708"},
	{"challenge_reply", []TLV{ChallengeReply{Nonce: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}, "13 08 0102030405060708"},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.tlvs...)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "golden/"+tc.name+".hex", []byte(hexLines(b)))
			if tc.body != "" {
				want := append([]byte{Magic, Version, 0, 0}, hexb(t, tc.body)...)
				want[3] = byte(len(want) - HeaderLen)
				if !bytes.Equal(b, want) {
					t.Errorf("encoding differs from the RFC layout\n got %x\nwant %x", b, want)
				}
			}
			p := mustParse(t, b)
			if len(p.Ignored) != 0 {
				t.Errorf("ignored: %+v", p.Ignored)
			}
			var want []TLV
			for _, x := range tc.tlvs {
				switch x.(type) {
				case Pad1, PadN:
				default:
					want = append(want, x)
				}
			}
			equalTLVs(t, withoutState(p.TLVs), withoutState(want))
		})
	}
}

func TestGoldenHMACTrailer(t *testing.T) {
	src := netip.MustParseAddrPort("[fe80::1]:6696")
	dst := netip.MustParseAddrPort("[ff02::1:6]:6696")
	pkt, err := Marshal(Hello{Seqno: 1, Interval: 400})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{0x42}, 32)
	signed, err := SignHMACSHA256(pkt, src, dst, key)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "golden/hmac_trailer.hex", []byte(hexLines(signed)))
	if len(signed) != len(pkt)+2+32 || signed[len(pkt)] != byte(TypeHMAC) || signed[len(pkt)+1] != 32 {
		t.Fatalf("trailer layout: %x", signed[len(pkt):])
	}
	p := mustParse(t, signed)
	if !bytes.Equal(p.Body, pkt) || len(p.MACs) != 1 {
		t.Fatalf("body %x, MACs %d", p.Body, len(p.MACs))
	}
	if !VerifyHMACSHA256(key, src, dst, p) {
		t.Error("own MAC does not verify")
	}
	if VerifyHMACSHA256(key, src, netip.MustParseAddrPort("[fe80::2]:6696"), p) {
		t.Error("MAC verifies for another destination")
	}
	if VerifyHMACSHA256([]byte("other"), src, dst, p) {
		t.Error("MAC verifies under another key")
	}
	signed[6]++ // the Hello's seqno
	if VerifyHMACSHA256(key, src, dst, mustParse(t, signed)) {
		t.Error("MAC verifies over a changed body")
	}
}

func TestHMACInput(t *testing.T) {
	src := netip.MustParseAddrPort("[fe80::1]:6696")
	dst := netip.MustParseAddrPort("192.0.2.1:1234")
	pkt := []byte{Magic, Version, 0, 2, 1, 0, 0xde, 0xad} // PadN body, then a 2-octet trailer
	got := HMACInput(src, dst, pkt)
	// RFC 8967 4.1: src address, src port, dst address (IPv4-mapped), dst
	// port, then header and body without the trailer.
	want := hexb(t, "fe800000000000000000000000000001 1a28"+
		"00000000000000000000ffffc0000201 04d2"+
		"2a020002 0100")
	if !bytes.Equal(got, want) {
		t.Errorf("got  %x\nwant %x", got, want)
	}
}
