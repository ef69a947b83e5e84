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
	testKey = []byte("0123456789abcdef0123456789abcdef")
	testCfg = Config{Interface: "wan0", HardwareAddr: testMAC, LinkMTU: 1500, SecretKey: testKey}

	rtr1 = netip.MustParseAddr("fe80::1")
	rtr2 = netip.MustParseAddr("fe80::2")
	rtr3 = netip.MustParseAddr("fe80::3")
	rtr4 = netip.MustParseAddr("fe80::4")
)

func seeded(seed uint64) RandSource { return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15) }

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

// sentRS is one solicitation the receiver handed out.
type sentRS struct {
	at   time.Time
	data []byte
}

// harness drives a Receiver with a fake clock: time only moves when a test
// jumps to the receiver's deadline or to a time of its choosing.
type harness struct {
	t        testing.TB
	r        *Receiver
	now      time.Time
	deadline time.Time
	sent     []sentRS
	facts    []Facts
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	return newHarnessRand(t, cfg, seeded(1))
}

func newHarnessRand(t testing.TB, cfg Config, rnd RandSource) *harness {
	t.Helper()
	r, err := New(Options{Config: cfg, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, r: r, now: t0}
}

func (h *harness) apply(out Output) Output {
	h.t.Helper()
	for _, p := range out.Send {
		m, err := ndp.ParseMessage(p.Data)
		if err != nil {
			h.t.Fatalf("receiver sent an unparseable packet: %v", err)
		}
		if _, ok := m.(*ndp.RouterSolicitation); !ok || p.To != allRouters {
			h.t.Fatalf("receiver sent %T to %v, want a router solicitation to ff02::2", m, p.To)
		}
		h.sent = append(h.sent, sentRS{at: h.now, data: p.Data})
	}
	if out.Facts != nil {
		h.facts = append(h.facts, *out.Facts)
	}
	if !out.Deadline.IsZero() && !out.Deadline.After(h.now) {
		h.t.Fatalf("deadline %v is not after now %v", out.Deadline, h.now)
	}
	h.deadline = out.Deadline
	return out
}

func (h *harness) start() Output { h.t.Helper(); return h.apply(h.r.Start(h.now)) }

// advance jumps to the deadline and fires the timer.
func (h *harness) advance() Output {
	h.t.Helper()
	if h.deadline.IsZero() {
		h.t.Fatal("advance: no deadline")
	}
	h.now = h.deadline
	return h.apply(h.r.Timer(h.now))
}

// at jumps to t, firing every deadline on the way.
func (h *harness) at(t time.Time) {
	h.t.Helper()
	for !h.deadline.IsZero() && !h.deadline.After(t) {
		h.advance()
	}
	h.now = t
	h.apply(h.r.Timer(h.now))
}

func (h *harness) receive(b []byte) Output {
	h.t.Helper()
	return h.apply(h.r.Receive(h.now, b, rtr1, 255))
}

func (h *harness) receiveFrom(src netip.Addr, b []byte) Output {
	h.t.Helper()
	return h.apply(h.r.Receive(h.now, b, src, 255))
}

// nextRS advances until a solicitation goes out and returns its time.
func (h *harness) nextRS() time.Time {
	h.t.Helper()
	for range 1000 {
		n := len(h.sent)
		h.advance()
		if len(h.sent) > n {
			return h.sent[len(h.sent)-1].at
		}
	}
	h.t.Fatal("no solicitation sent")
	return time.Time{}
}

// raOpts builds an RA's bytes with ndp, as a router would send it.
type raSpec struct {
	lifetime int // router lifetime, seconds
	pref     ndp.Preference
	m, o     bool
	opts     []ndp.Option
}

func (s raSpec) bytes(t testing.TB) []byte {
	t.Helper()
	b, err := ndp.MarshalMessage(&ndp.RouterAdvertisement{
		CurrentHopLimit:           64,
		ManagedConfiguration:      s.m,
		OtherConfiguration:        s.o,
		RouterSelectionPreference: s.pref,
		RouterLifetime:            secs(s.lifetime),
		Options:                   s.opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ra(t testing.TB, lifetime int, opts ...ndp.Option) []byte {
	t.Helper()
	return raSpec{lifetime: lifetime, opts: opts}.bytes(t)
}

func pio(prefix string, l, a bool, preferred, valid int) *ndp.PrefixInformation {
	p := netip.MustParsePrefix(prefix)
	return &ndp.PrefixInformation{PrefixLength: uint8(p.Bits()), OnLink: l, AutonomousAddressConfiguration: a,
		PreferredLifetime: secs(preferred), ValidLifetime: secs(valid), Prefix: p.Addr()}
}

func rio(prefix string, pref ndp.Preference, lifetime int) *ndp.RouteInformation {
	p := netip.MustParsePrefix(prefix)
	return &ndp.RouteInformation{PrefixLength: uint8(p.Bits()), Preference: pref, RouteLifetime: secs(lifetime), Prefix: p.Addr()}
}

func rdnss(lifetime int, servers ...string) *ndp.RecursiveDNSServer {
	o := &ndp.RecursiveDNSServer{Lifetime: secs(lifetime)}
	for _, s := range servers {
		o.Servers = append(o.Servers, netip.MustParseAddr(s))
	}
	return o
}

func dnssl(lifetime int, names ...string) *ndp.DNSSearchList {
	return &ndp.DNSSearchList{Lifetime: secs(lifetime), DomainNames: names}
}

func slla() *ndp.LinkLayerAddress {
	return &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}}
}

// stableAddr is the SLAAC address the test config forms in prefix.
func stableAddr(prefix string, dad uint8) netip.Addr {
	p := netip.MustParsePrefix(prefix)
	return withIID(p, StableIID(testKey, p, "wan0", dad))
}

// hexDump writes a message as a commented hex dump, 16 bytes a line.
func hexDump(comment string, b []byte) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "# %s\n", comment)
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

// diffFacts compares two Facts fully, LastRA and LastError included, by
// their printed form (so nil and empty lists are the same), independently
// of the Receiver's own comparison.
func diffFacts(got, want Facts) string {
	g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want)
	if g == w {
		return ""
	}
	return fmt.Sprintf("\ngot  %s\nwant %s", g, w)
}
