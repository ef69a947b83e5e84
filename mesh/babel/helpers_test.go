package babel

import (
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// hexb decodes hex written with spaces and line breaks, as in the RFC's
// diagrams read octet by octet.
func hexb(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// hexLines formats b as the golden files hold it: 16 octets a line.
func hexLines(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		chunk := b[i:min(i+16, len(b))]
		for j, c := range chunk {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(hex.EncodeToString([]byte{c}))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// wire drops what Parse reports only as received (Update flags and
// omitted octets), which a re-encoding is free to choose differently.
func wire(tlvs []TLV) []TLV {
	out := make([]TLV, len(tlvs))
	for i, t := range tlvs {
		if u, ok := t.(Update); ok {
			u.Flags, u.Omitted = 0, 0
			t = u
		}
		out[i] = t
	}
	return out
}

// withoutState drops Router-Id and Next Hop TLVs, which a Builder emits
// as it sees fit: what must survive is the state they put on Updates.
func withoutState(tlvs []TLV) []TLV {
	var out []TLV
	for _, t := range wire(tlvs) {
		switch t.(type) {
		case RouterIDTLV, NextHop:
			continue
		}
		out = append(out, t)
	}
	return out
}

func equalTLVs(t testing.TB, got, want []TLV) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Errorf("got %d TLVs, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("TLV %d:\n got %#v\nwant %#v", i, got[i], want[i])
			return
		}
	}
}

func mustParse(t testing.TB, b []byte) Packet {
	t.Helper()
	p, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

var (
	rid1 = RouterID{0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}
	rid2 = RouterID{1, 2, 3, 4, 5, 6, 7, 8}
	ll1  = netip.MustParseAddr("fe80::211:22ff:fe33:4455")
)
