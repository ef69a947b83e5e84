package babel

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cpe/internal/golden"
)

// engineSeeds are whole packets as peers send them: the parser's seeds,
// and what our own engine emits (HMAC-signed ones included).
func engineSeeds(t testing.TB) map[string][]byte {
	seeds := seedPackets(t)
	for name, b := range map[string][]TLV{
		"hello_ihu_update": {Hello{Seqno: 1, Interval: 400}, IHU{Rxcost: 96, Interval: 1200, Address: fuzzLL},
			Update{Interval: 1600, Seqno: 3, Metric: 96, Prefix: mp("2001:db8:9::/48"), RouterID: rid1}},
		"requests": {RouteRequest{}, RouteRequest{Prefix: mp("2001:db8::/32")},
			SeqnoRequest{Seqno: 9, HopCount: 3, RouterID: rid1, Prefix: mp("2001:db8:9::/48")}},
		"auth": {PC{PC: 5, Index: []byte("idx")}, ChallengeRequest{Nonce: []byte("nonce")}, ChallengeReply{Nonce: []byte("x")},
			Hello{Seqno: 2, Interval: 400}},
		"wildcard_retraction": {Update{Metric: Infinity}},
	} {
		pkt, err := Marshal(b...)
		if err != nil {
			t.Fatal(err)
		}
		seeds["engine_"+name] = pkt
	}
	return seeds
}

var fuzzLL = netip.MustParseAddr("fe80::1")

func TestFuzzEngineCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzEngine")
	for name, b := range engineSeeds(t) {
		for _, flags := range seedFlags {
			path := filepath.Join(dir, fmt.Sprintf("%s_%d", name, flags))
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", b, flags)
			if golden.Update() {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("seed %s missing or stale (run go test -update): %v", path, err)
			}
		}
	}
}

// FuzzEngine feeds arbitrary packets to engines in a few states (a
// neighbour with routes, on a plain and on an authenticated interface,
// sent multicast or unicast) and checks that nothing panics and that the
// engine's tables stay sane. On the authenticated interface the packet is
// signed first, so that what follows the MAC check is fuzzed too.
func FuzzEngine(f *testing.F) {
	for _, b := range engineSeeds(f) {
		for _, flags := range seedFlags {
			f.Add(b, flags)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		ifo := Interface{Name: "mesh0", Type: LinkType(flags >> 2 & 1)}
		if flags&1 != 0 {
			ifo.Keys = []Key{key1}
		}
		e, err := New(Options{RouterID: rid2, Announce: announce("2001:db8:1::/48", "::/0 from 2001:db8:1::/48", "10.0.0.0/8"), Rand: zeroRand{}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		e.AddInterface(t0, ifo)
		e.LinkUp(t0, "mesh0", fuzzLL)
		peer := netip.MustParseAddrPort("[fe80::2]:6696")
		dst := netip.AddrPortFrom(MulticastGroup, Port)
		if flags&2 != 0 {
			dst = netip.AddrPortFrom(fuzzLL, Port)
		}
		send := func(at time.Time, pkt []byte) {
			if len(ifo.Keys) > 0 {
				if p, err := Parse(pkt); err == nil {
					pkt, _ = SignHMACSHA256(p.Body, peer, dst, key1.Secret)
				}
			}
			e.Receive(at, "mesh0", peer, dst, pkt)
		}
		// A neighbour with a route first, then the fuzz, twice.
		for i := range 3 {
			pkt, _ := Marshal(Hello{Seqno: uint16(i), Interval: 400}, IHU{Rxcost: 96, Interval: 1200, Address: fuzzLL},
				Update{Interval: 1600, Seqno: 3, Metric: 96, Prefix: mp("2001:db8:9::/48"), RouterID: rid1})
			send(t0.Add(time.Duration(i)*time.Second), pkt)
		}
		send(t0.Add(4*time.Second), data)
		send(t0.Add(5*time.Second), data)
		for range 5 {
			at := e.Next()
			e.Tick(at)
			if !e.Next().After(at) {
				t.Fatalf("Tick at %v leaves work due at %v: the driver would spin", at, e.Next())
			}
		}
		e.Output()
		for _, r := range e.Installed() {
			if !r.Prefix.IsValid() || (!r.Unreachable && !r.Via.IsValid()) {
				t.Fatalf("bad installed route %+v", r)
			}
		}
		for _, r := range e.Routes() {
			if !r.Own && r.RouterID == rid2 {
				t.Fatalf("a route of ours came back: %+v", r)
			}
		}
	})
}

// seedFlags are the engine states the seeds run in: multicast on a
// wireless link, signed, signed unicast, and multicast on a wired link.
var seedFlags = []uint8{0, 1, 3, 4}
