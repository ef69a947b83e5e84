package ra

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/ndp"

	"cpe/internal/golden"
)

// fuzzStates brings a fresh receiver into each state a packet can meet it
// in.
var fuzzStates = []struct {
	name  string
	build func(t testing.TB) *harness
}{
	{"idle", func(t testing.TB) *harness { return newHarness(t, testCfg) }},
	{"soliciting", func(t testing.TB) *harness { h := newHarness(t, testCfg); h.start(); h.nextRS(); return h }},
	{"backing off", func(t testing.TB) *harness {
		h := newHarness(t, testCfg)
		h.start()
		for range 6 {
			h.nextRS()
		}
		return h
	}},
	{"known", func(t testing.TB) *harness {
		h := newHarness(t, testCfg)
		h.start()
		h.nextRS()
		h.receive(fullRA(t))
		return h
	}},
	{"full lists", func(t testing.TB) *harness {
		h := newHarness(t, testCfg)
		h.start()
		for i := range maxRouters {
			h.receiveFrom(netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)}), fullRA(t))
		}
		return h
	}},
	{"link down", func(t testing.TB) *harness {
		h := newHarness(t, testCfg)
		h.start()
		h.receive(fullRA(t))
		h.apply(h.r.LinkDown(h.now))
		return h
	}},
	{"eui64 after dad failure", func(t testing.TB) *harness {
		cfg := testCfg
		cfg.EUI64 = true
		h := newHarness(t, cfg)
		h.start()
		h.receive(fullRA(t))
		h.apply(h.r.DADFailed(h.now, h.r.Facts().Addresses[0].Addr))
		return h
	}},
}

func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	// Build each state once; every input gets a copy.
	templates := make([]*harness, len(fuzzStates))
	for i, st := range fuzzStates {
		templates[i] = st.build(f)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, st := range fuzzStates {
			h := templates[i].clone(t)
			for _, src := range []netip.Addr{rtr1, rtr2, netip.MustParseAddr("2001:db8::1")} {
				before := h.r.Counters()
				h.now = h.now.Add(time.Second)
				h.apply(h.r.Receive(h.now, b, src, 255))
				c := h.r.Counters()
				if c.Received != before.Received+1 || c.Accepted+drops(c) != c.Received {
					t.Fatalf("%s: packet not counted exactly once: %+v", st.name, c)
				}
				checkFacts(t, h)
			}
			for range 4 {
				if h.deadline.IsZero() {
					break
				}
				h.advance()
				checkFacts(t, h)
			}
		}
	})
}

// clone copies a harness and its receiver deeply; the copy draws its
// jitter from a fresh seeded source.
func (h *harness) clone(t testing.TB) *harness {
	r := *h.r
	r.rnd = rand.New(seeded(7))
	r.f, r.emitted = h.r.f.Clone(), h.r.emitted.Clone()
	r.dad, r.abandoned = maps.Clone(h.r.dad), maps.Clone(h.r.abandoned)
	return &harness{t: t, r: &r, now: h.now, deadline: h.deadline}
}

func drops(c Counters) uint64 {
	return c.NotLinkLocal + c.BadHopLimit + c.NotRA + c.Truncated + c.ZeroLengthOpt + c.TruncatedOption
}

// checkFacts holds for any input: nothing expired is kept, lists are
// bounded and ordered, addresses live in their /64s.
func checkFacts(t *testing.T, h *harness) {
	t.Helper()
	f := h.r.Facts()
	alive := func(what string, ts ...time.Time) {
		for _, x := range ts {
			if !h.now.Before(x) {
				t.Fatalf("%s kept past its expiry: %+v", what, f)
			}
		}
	}
	if len(f.Routers) > maxRouters || len(f.Prefixes) > maxPrefixes || len(f.Addresses) > maxPrefixes ||
		len(f.Routes) > maxRoutes || len(f.DNS) > maxDNS || len(f.Domains) > maxDomains {
		t.Fatalf("a list outgrew its bound: %+v", f)
	}
	for i, r := range f.Routers {
		alive("router", r.Expires)
		if !r.Addr.IsLinkLocalUnicast() || r.Addr.Zone() != "" {
			t.Fatalf("router %v", r.Addr)
		}
		if i > 0 && f.Routers[i-1].Preference < r.Preference {
			t.Fatalf("routers out of order: %+v", f.Routers)
		}
	}
	for _, p := range f.Prefixes {
		alive("prefix", p.Valid)
		if badPrefix(p.Prefix) != nil || p.Prefix != p.Prefix.Masked() || p.Preferred.After(p.Valid) || !(p.OnLink || p.Autonomous) {
			t.Fatalf("bad prefix %+v", p)
		}
	}
	for _, a := range f.Addresses {
		alive("address", a.Valid)
		if a.Prefix.Bits() != 64 || !a.Prefix.Contains(a.Addr) || a.Preferred.After(a.Valid) {
			t.Fatalf("bad address %+v", a)
		}
	}
	for _, r := range f.Routes {
		alive("route", r.Expires)
		if r.Prefix != r.Prefix.Masked() || (r.Prefix.Bits() > 0 && badPrefix(r.Prefix) != nil) {
			t.Fatalf("bad route %+v", r)
		}
	}
	for _, d := range f.DNS {
		alive("dns", d.Expires)
	}
	for _, d := range f.Domains {
		alive("domain", d.Expires)
	}
	if f.MTU != 0 && (f.MTU < minMTU || f.MTU > testCfg.LinkMTU) {
		t.Fatalf("MTU %d", f.MTU)
	}
	if !slices.IsSortedFunc(f.Prefixes, func(a, b Prefix) int { return comparePrefix(a.Prefix, b.Prefix) }) {
		t.Fatalf("prefixes out of order: %+v", f.Prefixes)
	}
	// With the link up and no router, a solicitation is always pending.
	if h.r.started && !h.r.linkDown && len(f.Routers) == 0 && (!h.r.soliciting || h.deadline.After(h.r.rsNext)) {
		t.Fatalf("no router and no solicitation pending (deadline %v, next RS %v)", h.deadline, h.r.rsNext)
	}
}

// fuzzSeeds are RAs as routers send them (radvd's option order: source
// link-layer address, MTU, prefixes, routes, RDNSS, DNSSL), a withdrawal,
// and a few broken ones; TestFuzzCorpus writes them to testdata/fuzz.
func fuzzSeeds(t testing.TB) [][]byte {
	radvd := raSpec{lifetime: 1800, o: true, opts: []ndp.Option{
		slla(), ndp.NewMTU(1500),
		pio("2001:db8:1::/64", true, true, 14400, 86400),
		rio("2001:db8:100::/56", ndp.High, 1800),
		rdnss(1200, "2001:db8::53"),
		dnssl(1200, "isp.example"),
	}}.bytes(t)
	deprecate := ra(t, 0, slla(), pio("2001:db8:1::/64", true, true, 0, 0), rio("2001:db8:100::/56", ndp.Medium, 0))
	managed := raSpec{lifetime: 9000, m: true, o: true, pref: ndp.Low, opts: []ndp.Option{slla()}}.bytes(t)
	zeroLen := append([]byte(nil), radvd...)
	zeroLen[17] = 0
	return [][]byte{
		radvd,
		fullRA(t),
		deprecate,
		managed,
		zeroLen,
		radvd[:len(radvd)-5],
		{134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0},
		{133, 0, 0, 0, 0, 0, 0, 0},
		{},
	}
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzReceive in step with fuzzSeeds
// (rewritten with -update).
func TestFuzzCorpus(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		name := filepath.Join("fuzz", "FuzzReceive", fmt.Sprintf("seed-%02d", i))
		golden.Check(t, name, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s))
	}
}
