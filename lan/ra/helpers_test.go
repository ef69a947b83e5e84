package ra

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	host    = netip.MustParseAddr("fe80::1234")

	pfxA = netip.MustParsePrefix("2001:db8:1:10::/64")
	pfxB = netip.MustParsePrefix("2001:db8:2:20::/64")
	dns1 = netip.MustParseAddr("2001:db8:ffff::53")
	dns2 = netip.MustParseAddr("2001:db8:ffff::35")
)

func seeded(seed uint64) RandSource { return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15) }

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// normalCfg is a segment with one delegated /64, a default route, the
// ISP's DNS, and the MTU of a PPPoE uplink.
func normalCfg() Config {
	return Config{
		DefaultRouter: true,
		Other:         true,
		MTU:           1492,
		SourceLL:      testMAC,
		Prefixes: []Prefix{{
			Prefix: pfxA, OnLink: true, Autonomous: true,
			Preferred: t0.Add(sec(2700)), Valid: t0.Add(sec(5400)),
		}},
		DNSServers:    []netip.Addr{dns1, dns2},
		SearchDomains: []string{"example.net"},
	}
}

// validRS is an RS from a host with its MAC.
var validRS = []byte{133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

type sent struct {
	at  time.Time
	pkt Packet
	adv Advertisement
}

// harness drives an Advertiser; time moves only when the test says so.
type harness struct {
	t        testing.TB
	a        *Advertiser
	now      time.Time
	deadline time.Time
	sent     []sent
}

func newHarness(t testing.TB, seed uint64) *harness {
	return &harness{t: t, a: New(Options{Rand: seeded(seed)}), now: t0}
}

func (h *harness) apply(out Output) {
	h.t.Helper()
	for _, p := range out.Send {
		if p.To != AllNodes {
			h.t.Fatalf("RA to %v, want ff02::1", p.To)
		}
		h.sent = append(h.sent, sent{at: h.now, pkt: p, adv: h.a.Last()})
	}
	if !out.Deadline.IsZero() && out.Deadline.Before(h.now) {
		h.t.Fatalf("deadline %v is before now %v", out.Deadline, h.now)
	}
	h.deadline = out.Deadline
}

func (h *harness) update(cfg Config) {
	h.t.Helper()
	out, err := h.a.Update(h.now, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.apply(out)
}

func (h *harness) solicit(b []byte, from netip.Addr, hop int) {
	h.t.Helper()
	h.apply(h.a.Solicit(h.now, b, from, hop))
}

// at moves to t (calling Timer on every deadline on the way).
func (h *harness) at(t time.Time) {
	h.t.Helper()
	for !h.deadline.IsZero() && !h.deadline.After(t) {
		h.now = h.deadline
		h.apply(h.a.Timer(h.now))
	}
	h.now = t
}

func (h *harness) after(d time.Duration) { h.at(h.now.Add(d)) }

// next jumps to the deadline and fires it.
func (h *harness) next() {
	h.t.Helper()
	if h.deadline.IsZero() {
		h.t.Fatal("no deadline")
	}
	h.now = h.deadline
	h.apply(h.a.Timer(h.now))
}

func (h *harness) lastSent() sent {
	h.t.Helper()
	if len(h.sent) == 0 {
		h.t.Fatal("nothing sent")
	}
	return h.sent[len(h.sent)-1]
}

// parse reads an RA back with ndp, independently of Advertisement.
func parse(t testing.TB, b []byte) *ndp.RouterAdvertisement {
	t.Helper()
	m, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatalf("RA does not parse: %v\n%x", err, b)
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok {
		t.Fatalf("not an RA: %T", m)
	}
	return ra
}

func pios(ra *ndp.RouterAdvertisement) []*ndp.PrefixInformation {
	var out []*ndp.PrefixInformation
	for _, o := range ra.Options {
		if p, ok := o.(*ndp.PrefixInformation); ok {
			out = append(out, p)
		}
	}
	return out
}

func hexDump(comment string, b []byte) []byte {
	var s strings.Builder
	for _, l := range strings.Split(strings.TrimRight(comment, "\n"), "\n") {
		fmt.Fprintf(&s, "# %s\n", l)
	}
	for i := 0; i < len(b); i += 16 {
		end := min(i+16, len(b))
		for j := i; j < end; j++ {
			if j > i {
				s.WriteByte(' ')
			}
			fmt.Fprintf(&s, "%02x", b[j])
		}
		s.WriteByte('\n')
	}
	return []byte(s.String())
}
