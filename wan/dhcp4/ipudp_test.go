package dhcp4

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestFrameIPv4UDP(t *testing.T) {
	payload := []byte("a DHCP message, odd length")
	src, dst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.1")
	b := frameIPv4UDP(src, dst, payload)
	if len(b) != 28+len(payload) || b[0] != 0x45 || b[9] != 17 {
		t.Fatalf("header % x", b[:28])
	}
	if checksum(0, b[:20]) != 0xffff {
		t.Error("IPv4 header checksum does not verify")
	}
	pseudo := append(append(append([]byte{}, b[12:20]...), 0, 17), b[24:26]...)
	if checksum(checksum(0, pseudo), b[20:]) != 0xffff {
		t.Error("UDP checksum does not verify")
	}
	if got := binary.BigEndian.Uint16(b[20:]); got != 68 {
		t.Errorf("source port %d", got)
	}
	if got := binary.BigEndian.Uint16(b[22:]); got != 67 {
		t.Errorf("destination port %d", got)
	}
	if got := frameIPv4UDP(netip.Addr{}, dst, payload); !bytes.Equal(got[12:16], []byte{0, 0, 0, 0}) {
		t.Errorf("source without a lease % x, want 0.0.0.0", got[12:16])
	}
}

func TestParseIPv4UDP(t *testing.T) {
	payload := []byte{1, 2, 3, 4, 5}
	reply := func() []byte {
		b := frameIPv4UDP(netip.MustParseAddr("192.0.2.1"), limitedBroadcast, payload)
		binary.BigEndian.PutUint16(b[20:], 67) // from the server port
		binary.BigEndian.PutUint16(b[22:], 68) // to ours
		return b
	}
	tests := []struct {
		name string
		edit func([]byte) []byte
		ok   bool
	}{
		{"reply", func(b []byte) []byte { return b }, true},
		{"Ethernet padding", func(b []byte) []byte { return append(b, make([]byte, 20)...) }, true},
		{"IP options", func(b []byte) []byte {
			o := append(append([]byte{}, b[:20]...), 1, 1, 1, 1) // four NOPs
			o[0] = 0x46
			binary.BigEndian.PutUint16(o[2:], uint16(len(b)+4))
			return append(o, b[20:]...)
		}, true},
		{"empty", func([]byte) []byte { return nil }, false},
		{"IPv6", func(b []byte) []byte { b[0] = 0x65; return b }, false},
		{"short IHL", func(b []byte) []byte { b[0] = 0x44; return b }, false},
		{"TCP", func(b []byte) []byte { b[9] = 6; return b }, false},
		{"fragment", func(b []byte) []byte { b[6] = 0x20; return b }, false},
		{"later fragment", func(b []byte) []byte { b[7] = 1; return b }, false},
		{"DF is fine", func(b []byte) []byte { b[6] = 0x40; return b }, true},
		{"to another port", func(b []byte) []byte { b[23] = 53; return b }, false},
		{"total length beyond data", func(b []byte) []byte { return b[:len(b)-1] }, false},
		{"UDP length beyond datagram", func(b []byte) []byte { b[25] += 1; return b }, false},
		{"UDP length below header", func(b []byte) []byte { b[24], b[25] = 0, 7; return b }, false},
	}
	for _, tt := range tests {
		got, ok := parseIPv4UDP(tt.edit(reply()))
		if ok != tt.ok || (ok && !bytes.Equal(got, payload)) {
			t.Errorf("%s: got %v %v, want ok=%v", tt.name, got, ok, tt.ok)
		}
	}
}

func FuzzParseIPv4UDP(f *testing.F) {
	f.Add(frameIPv4UDP(netip.MustParseAddr("192.0.2.1"), limitedBroadcast, []byte("x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := parseIPv4UDP(b)
		if ok && len(p) > len(b)-28 {
			t.Fatalf("payload of %d bytes from %d", len(p), len(b))
		}
	})
}
