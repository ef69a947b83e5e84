package babel

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// randTLVs makes a plausible route table dump with the other TLVs mixed
// in: prefixes of both families near a few bases (so compression has
// something to do), source-specific and v4-via-v6 routes, several
// router-ids and next hops, retractions.
func randTLVs(r *rand.Rand, n int) []TLV {
	v6bases := []netip.Addr{netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8:1234::"), netip.MustParseAddr("fd00::")}
	v4bases := []netip.Addr{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("192.168.0.0")}
	ids := []RouterID{rid1, rid2, {9, 9, 9, 9, 9, 9, 9, 9}}
	nh6 := []netip.Addr{{}, ll1, netip.MustParseAddr("fe80::2"), netip.MustParseAddr("2001:db8::99")}
	nh4 := []netip.Addr{{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	prefix := func(v4 bool) netip.Prefix {
		if v4 {
			a := v4bases[r.IntN(len(v4bases))].As4()
			a[2], a[3] = byte(r.IntN(4)), byte(r.IntN(256))
			return netip.PrefixFrom(netip.AddrFrom4(a), r.IntN(33)).Masked()
		}
		a := v6bases[r.IntN(len(v6bases))].As16()
		for i := 4 + r.IntN(12); i < 16; i++ {
			a[i] = byte(r.IntN(256))
		}
		return netip.PrefixFrom(netip.AddrFrom16(a), r.IntN(129)).Masked()
	}
	source := func(v4 bool) netip.Prefix {
		if r.IntN(4) != 0 {
			return netip.Prefix{}
		}
		for {
			if p := prefix(v4); p.Bits() > 0 {
				return p
			}
		}
	}
	subs := func() []SubTLV {
		if r.IntN(8) != 0 {
			return nil
		}
		v := make([]byte, r.IntN(4))
		for i := range v {
			v[i] = byte(r.IntN(256))
		}
		if len(v) == 0 {
			v = nil
		}
		return []SubTLV{{Type: byte(2 + r.IntN(120)), Value: v}}
	}
	bytesN := func(n int) []byte {
		if n == 0 {
			return nil
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	var out []TLV
	for range n {
		switch k := r.IntN(20); {
		case k < 12:
			v4 := r.IntN(2) == 0
			u := Update{
				Interval: uint16(r.IntN(3000)), Seqno: uint16(r.Uint32()), Metric: uint16(r.IntN(1000)),
				Prefix: prefix(v4), Source: source(v4), RouterID: ids[r.IntN(len(ids))], SubTLVs: subs(),
			}
			if r.IntN(6) == 0 {
				u.Metric = Infinity
				if r.IntN(2) == 0 {
					u.RouterID = RouterID{}
				}
			}
			switch {
			case v4 && r.IntN(3) == 0:
				u.V4ViaV6 = true
				u.NextHop = nh6[r.IntN(len(nh6))]
			case v4:
				u.NextHop = nh4[r.IntN(len(nh4))]
			default:
				u.NextHop = nh6[r.IntN(len(nh6))]
			}
			out = append(out, u)
		case k == 12:
			h := Hello{Flags: uint16(r.IntN(2)) << 15, Seqno: uint16(r.Uint32()), Interval: 400, SubTLVs: subs()}
			if r.IntN(2) == 0 {
				h.HasTimestamp, h.Timestamp = true, r.Uint32()
			}
			out = append(out, h)
		case k == 13:
			ihu := IHU{Rxcost: uint16(r.Uint32()), Interval: 1200, Address: nh6[r.IntN(len(nh6))], SubTLVs: subs()}
			if r.IntN(3) == 0 {
				ihu.Address = nh4[r.IntN(len(nh4))]
			}
			if r.IntN(2) == 0 {
				ihu.HasTimestamp, ihu.Origin, ihu.Receive = true, r.Uint32(), r.Uint32()
			}
			out = append(out, ihu)
		case k == 14:
			v4 := r.IntN(2) == 0
			rr := RouteRequest{SubTLVs: subs()}
			if r.IntN(3) != 0 {
				rr.Prefix, rr.Source = prefix(v4), source(v4)
			}
			out = append(out, rr)
		case k == 15:
			v4 := r.IntN(2) == 0
			out = append(out, SeqnoRequest{Seqno: uint16(r.Uint32()), HopCount: byte(r.IntN(128)), RouterID: ids[r.IntN(len(ids))],
				Prefix: prefix(v4), Source: source(v4), SubTLVs: subs()})
		case k == 16:
			out = append(out, AckReq{Opaque: uint16(r.Uint32()), Interval: uint16(r.Uint32())}, Ack{Opaque: uint16(r.Uint32())})
		case k == 17:
			out = append(out, PC{PC: r.Uint32(), Index: bytesN(r.IntN(MaxIndexLen + 1))})
		case k == 18:
			out = append(out, ChallengeRequest{Nonce: bytesN(r.IntN(MaxNonceLen + 1))}, ChallengeReply{Nonce: bytesN(r.IntN(65))})
		default:
			out = append(out, PadN{N: byte(r.IntN(10))}, Pad1{})
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	compressed := 0
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		in := randTLVs(r, 1+r.IntN(80))
		mtu := 300 + r.IntN(1200)
		b := NewBuilder(mtu)
		if err := b.Add(in...); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var got []TLV
		for _, pkt := range b.Packets() {
			if len(pkt) > mtu {
				t.Fatalf("seed %d: packet of %d octets over %d", seed, len(pkt), mtu)
			}
			p := mustParse(t, pkt)
			if len(p.Ignored) != 0 {
				t.Fatalf("seed %d: ignored %+v", seed, p.Ignored)
			}
			for _, x := range p.TLVs {
				if u, ok := x.(Update); ok && u.Omitted > 0 {
					compressed++
				}
			}
			got = append(got, p.TLVs...)
		}
		var want []TLV
		for _, x := range in {
			switch x.(type) {
			case Pad1, PadN:
			default:
				want = append(want, x)
			}
		}
		equalTLVs(t, withoutState(got), withoutState(want))
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
	if compressed == 0 {
		t.Error("no Update was ever compressed")
	}
}

func TestBuilderSplits(t *testing.T) {
	b := NewBuilder(100)
	var in []TLV
	for i := range 50 {
		in = append(in, Update{Interval: 1600, Seqno: 1, Metric: 96, RouterID: rid2,
			Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 48)})
	}
	if err := b.Add(in...); err != nil {
		t.Fatal(err)
	}
	pkts := b.Packets()
	if len(pkts) < 2 {
		t.Fatalf("%d packets for 50 Updates in 100 octets", len(pkts))
	}
	n := 0
	for _, pkt := range pkts {
		p := mustParse(t, pkt)
		// Each packet starts a fresh parser state, so each repeats the
		// Router-Id TLV and a full first prefix.
		if _, ok := p.TLVs[0].(RouterIDTLV); !ok {
			t.Errorf("packet does not start with a Router-Id: %#v", p.TLVs[0])
		}
		if u := p.TLVs[1].(Update); u.Omitted != 0 {
			t.Errorf("first Update of a packet compressed against nothing: %+v", u)
		}
		n += len(p.TLVs) - 1
	}
	if n != 50 {
		t.Errorf("%d Updates arrived", n)
	}
}

func TestBuilderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		tlv  TLV
	}{
		{"Update without router-id", Update{Metric: 1, Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
		{"wildcard with metric", Update{Metric: 1}},
		{"v4 route via v6 without the flag", Update{Metric: 1, RouterID: rid1, Prefix: netip.MustParsePrefix("10.0.0.0/8"), NextHop: ll1}},
		{"mixed source family", Update{Metric: 1, RouterID: rid1, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Source: netip.MustParsePrefix("2001:db8::/32")}},
		{"reserved router-id", RouterIDTLV{}},
		{"long nonce", ChallengeRequest{Nonce: make([]byte, MaxNonceLen+1)}},
		{"HMAC in body", nil},
		{"too long", Hello{SubTLVs: []SubTLV{{Type: 2, Value: make([]byte, 250)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tlv == nil {
				if _, err := AppendTrailer(nil, Hello{}); err == nil {
					t.Error("Hello accepted in the trailer")
				}
				return
			}
			if _, err := Marshal(tc.tlv); err == nil {
				t.Error("no error")
			}
		})
	}
	// A TLV bigger than the packet is an error, not an endless split.
	if err := NewBuilder(20).Add(ChallengeRequest{Nonce: make([]byte, 40)}); err == nil {
		t.Error("oversized TLV accepted")
	}
}
