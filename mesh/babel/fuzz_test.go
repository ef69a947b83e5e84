package babel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cpe/internal/golden"
)

// babeldLike are packets written by hand from RFC 8966 the way babeld
// lays them out: a multicast Hello, IHUs, a wildcard request on startup,
// then a route dump with one Router-Id and compressed Updates.
var babeldLike = map[string]string{
	"babeld_startup": "" +
		"04 06 0000 a1b2 0190" +
		"09 02 00 00" +
		"05 0e 03 00 0060 0640 021122fffe334455",
	"babeld_dump": "" +
		"04 0c 0000 a1b3 0190 03 04 0001e240" +
		"05 16 03 00 0060 0640 021122fffe334455 03 08 0001e240 0001e2ff" +
		"06 0a 0000 0211 22ff fe33 4455" +
		"08 0a 02 80 00 00 0640 0010 0060" +
		"08 1a 02 c0 80 00 0640 0010 0000 20010db8000000000211 22fffe334455" +
		"08 10 02 80 38 06 0640 0010 0060 0001 0000 0000" +
		"07 06 01 00 c0000201" +
		"08 0e 01 80 20 00 0640 0010 0000 c0000201" +
		"08 0b 01 80 18 02 0640 0010 0100 64",
	"babeld_source_specific": "" +
		"06 0a 0000 0102030405060708" +
		"08 13 02 80 00 00 0640 0002 0060 80 07 30 20010db80005" +
		"0a 17 02 30 0102 40 00 0102030405060708 20010db80001 80 07 30 20010db80005",
	"babeld_retract_all": "08 0a 00 00 00 00 0000 0000 ffff",
	"babeld_ack":         "02 06 0000 beef 00c8 03 02 beef 01 02 0000 00",
	"babeld_mac_body":    "11 08 0000002a 69647831 12 08 0102030405060708 04 06 8000 0001 0000",
	"babeld_v4viav6":     "06 0a 0000 0102030405060708 08 0b 04 80 08 00 0640 0003 0060 0a",
	"mandatory_subtlv":   "04 0a 0000 0001 0190 81 02 0102 04 06 0000 0002 0190",
	"truncated":          "04 06 0000 0001 0190 08 0a 02",
}

func seedPackets(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for name, body := range babeldLike {
		seeds[name] = packet(t, body)
	}
	for _, tc := range goldenCases {
		b, err := Marshal(tc.tlvs...)
		if err != nil {
			t.Fatal(err)
		}
		seeds["golden_"+tc.name] = b
	}
	return seeds
}

// TestFuzzCorpus writes the seed corpus with -update and otherwise checks
// that every seed is in place and parses.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	for name, b := range seedPackets(t) {
		path := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if golden.Update() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s missing or stale (run go test -update): %v", name, err)
		}
		if _, err := Parse(b); err != nil {
			t.Errorf("seed %s: %v", name, err)
		}
	}
}

// FuzzParse checks that Parse never panics and that what it accepts
// survives encoding: parse, marshal, parse gives the same TLVs.
func FuzzParse(f *testing.F) {
	for _, b := range seedPackets(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if len(p.Body)+len(p.Trailer) != len(data) {
			t.Fatalf("body %d + trailer %d != %d", len(p.Body), len(p.Trailer), len(data))
		}
		b := NewBuilder(HeaderLen + 0xFFFF)
		for _, x := range p.TLVs {
			if err := b.Add(x); err != nil {
				if errors.Is(err, ErrTLVTooLong) {
					// Our compression may differ from the sender's and a
					// full 255-octet TLV can come out longer.
					return
				}
				t.Fatalf("accepted TLV does not encode: %#v: %v", x, err)
			}
		}
		var again []TLV
		for _, pkt := range b.Packets() {
			q, err := Parse(pkt)
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if len(q.Ignored) != 0 {
				t.Fatalf("re-parse ignored %+v", q.Ignored)
			}
			again = append(again, q.TLVs...)
		}
		equalTLVs(t, withoutState(again), withoutState(p.TLVs))
	})
}
