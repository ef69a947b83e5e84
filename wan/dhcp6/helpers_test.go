package dhcp6

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

var (
	t0         = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testMAC    = []byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	serverAddr = netip.MustParseAddrPort("[fe80::1]:547")
	otherAddr  = netip.MustParseAddrPort("[fe80::2]:547")
	both       = Config{IANA: true, IAPD: true}
)

func seeded(seed uint64) RandSource { return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15) }

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

// sent is one packet the client handed out, decoded.
type sent struct {
	at  time.Time
	to  netip.AddrPort
	raw []byte
	m   *dhcpv6.Message
}

// harness drives a Client with a fake clock: time only moves when a test
// jumps to the client's deadline or to a time of its choosing.
type harness struct {
	t        testing.TB
	c        *Client
	now      time.Time
	deadline time.Time
	sent     []sent
	leases   []Lease
	persists []Persist
}

func newHarness(t testing.TB, cfg Config, p Persist) *harness {
	t.Helper()
	c, err := New(Options{Config: cfg, Persist: p, HardwareAddr: testMAC, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, c: c, now: t0}
}

func (h *harness) apply(out Output) Output {
	h.t.Helper()
	for _, p := range out.Send {
		m, err := dhcpv6.MessageFromBytes(p.Data)
		if err != nil {
			h.t.Fatalf("client sent an unparseable %s: %v", p.Type, err)
		}
		if m.MessageType != p.Type {
			h.t.Fatalf("packet says %s, bytes say %s", p.Type, m.MessageType)
		}
		h.sent = append(h.sent, sent{at: h.now, to: p.To, raw: p.Data, m: m})
	}
	if out.Lease != nil {
		h.leases = append(h.leases, *out.Lease)
	}
	if out.Persist != nil {
		h.persists = append(h.persists, *out.Persist)
	}
	if !out.Deadline.IsZero() && out.Deadline.Before(h.now) {
		h.t.Fatalf("deadline %v is in the past (now %v)", out.Deadline, h.now)
	}
	h.deadline = out.Deadline
	return out
}

func (h *harness) start() Output { h.t.Helper(); return h.apply(h.c.Start(h.now)) }

// advance jumps to the deadline and fires the timer.
func (h *harness) advance() Output {
	h.t.Helper()
	if h.deadline.IsZero() {
		h.t.Fatal("advance: no deadline")
	}
	h.now = h.deadline
	return h.apply(h.c.Timer(h.now))
}

// at jumps to t, firing every deadline on the way.
func (h *harness) at(t time.Time) {
	h.t.Helper()
	for !h.deadline.IsZero() && !h.deadline.After(t) {
		h.advance()
	}
	h.now = t
	h.apply(h.c.Timer(h.now))
}

// next advances until the client sends a message of type typ and returns it.
func (h *harness) next(typ dhcpv6.MessageType) sent {
	h.t.Helper()
	for range 200 {
		n := len(h.sent)
		if h.deadline.IsZero() {
			break
		}
		h.advance()
		for _, s := range h.sent[n:] {
			if s.m.MessageType == typ {
				return s
			}
		}
	}
	h.t.Fatalf("no %s sent (state %s)", typ, h.c.State())
	return sent{}
}

// nextAny advances until the client sends anything and returns it.
func (h *harness) nextAny() sent {
	h.t.Helper()
	for range 200 {
		n := len(h.sent)
		if h.deadline.IsZero() {
			break
		}
		h.advance()
		if len(h.sent) > n {
			return h.sent[n]
		}
	}
	h.t.Fatalf("nothing sent (state %s)", h.c.State())
	return sent{}
}

func (h *harness) last() sent {
	h.t.Helper()
	if len(h.sent) == 0 {
		h.t.Fatal("nothing sent")
	}
	return h.sent[len(h.sent)-1]
}

func (h *harness) lastLease() Lease {
	h.t.Helper()
	if len(h.leases) == 0 {
		h.t.Fatal("no lease emitted")
	}
	return h.leases[len(h.leases)-1]
}

func (h *harness) receive(m *dhcpv6.Message) Output {
	h.t.Helper()
	return h.apply(h.c.Receive(h.now, m.ToBytes(), serverAddr))
}

func (h *harness) receiveFrom(m *dhcpv6.Message, from netip.AddrPort) Output {
	h.t.Helper()
	return h.apply(h.c.Receive(h.now, m.ToBytes(), from))
}

func (h *harness) wantState(s State) {
	h.t.Helper()
	if got := h.c.State(); got != s {
		h.t.Fatalf("state %s, want %s (last error %q)", got, s, h.c.Lease().LastError)
	}
}

// server builds a DHCPv6 server's answers to a client message.
type server struct{ duid []byte }

var (
	srv  = server{duid: []byte{0, 1, 0, 1, 0x2e, 0x10, 0x20, 0x30, 0x52, 0x54, 0, 0, 0, 1}}
	srv2 = server{duid: []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0, 0, 2}}
)

func (s server) answer(typ dhcpv6.MessageType, to *dhcpv6.Message, opts ...dhcpv6.Option) *dhcpv6.Message {
	m := &dhcpv6.Message{MessageType: typ, TransactionID: to.TransactionID}
	if cid := to.Options.GetOne(dhcpv6.OptionClientID); cid != nil {
		m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionClientID, OptionData: cid.ToBytes()})
	}
	m.Options.Add(&dhcpv6.OptionGeneric{OptionCode: dhcpv6.OptionServerID, OptionData: s.duid})
	for _, o := range opts {
		m.Options.Add(o)
	}
	return m
}

func (s server) advertise(to sent, opts ...dhcpv6.Option) *dhcpv6.Message {
	return s.answer(dhcpv6.MessageTypeAdvertise, to.m, opts...)
}

func (s server) reply(to sent, opts ...dhcpv6.Option) *dhcpv6.Message {
	return s.answer(dhcpv6.MessageTypeReply, to.m, opts...)
}

func (h *harness) iaidNA() [4]byte { return h.c.iaidNA }
func (h *harness) iaidPD() [4]byte { return h.c.iaidPD }

func iaNA(iaid [4]byte, t1, t2 int, sub ...dhcpv6.Option) *dhcpv6.OptIANA {
	ia := &dhcpv6.OptIANA{IaId: iaid, T1: secs(t1), T2: secs(t2)}
	ia.Options.Options = sub
	return ia
}

func iaPD(iaid [4]byte, t1, t2 int, sub ...dhcpv6.Option) *dhcpv6.OptIAPD {
	ia := &dhcpv6.OptIAPD{IaId: iaid, T1: secs(t1), T2: secs(t2)}
	ia.Options.Options = sub
	return ia
}

func addr(s string, pref, valid int) *dhcpv6.OptIAAddress {
	return &dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(s), PreferredLifetime: secs(pref), ValidLifetime: secs(valid)}
}

func pfx(s string, pref, valid int) *dhcpv6.OptIAPrefix {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return &dhcpv6.OptIAPrefix{Prefix: n, PreferredLifetime: secs(pref), ValidLifetime: secs(valid)}
}

func status(code iana.StatusCode) *dhcpv6.OptStatusCode {
	return &dhcpv6.OptStatusCode{StatusCode: code, StatusMessage: code.String()}
}

func generic(code dhcpv6.OptionCode, data ...byte) *dhcpv6.OptionGeneric {
	return &dhcpv6.OptionGeneric{OptionCode: code, OptionData: data}
}

func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// The lease a standard server hands out.
const (
	stdAddr   = "2001:db8:1::100"
	stdPrefix = "2001:db8:ff00::/56"
)

func stdNA(h *harness) *dhcpv6.OptIANA {
	return iaNA(h.iaidNA(), 1800, 2880, addr(stdAddr, 3600, 7200))
}

func stdPD(h *harness) *dhcpv6.OptIAPD {
	return iaPD(h.iaidPD(), 1800, 2880, pfx(stdPrefix, 3600, 7200))
}

// bind runs Solicit → Advertise → Request → Reply with the given IAs in
// both Advertise and Reply, and returns the Reply's time.
func bind(t testing.TB, h *harness, ias ...dhcpv6.Option) {
	t.Helper()
	h.start()
	sol := h.next(dhcpv6.MessageTypeSolicit)
	h.receive(srv.advertise(sol, append([]dhcpv6.Option{dhcpv6.OptPreference(255)}, ias...)...))
	req := h.last()
	if req.m.MessageType != dhcpv6.MessageTypeRequest {
		t.Fatalf("after Advertise sent %s, want Request", req.m.MessageType)
	}
	h.receive(srv.reply(req, ias...))
	h.wantState(StateBound)
}

// Accessors on a client message.
func iaNAOf(m *dhcpv6.Message) *dhcpv6.OptIANA {
	if o, ok := m.Options.GetOne(dhcpv6.OptionIANA).(*dhcpv6.OptIANA); ok {
		return o
	}
	return nil
}

func iaPDOf(m *dhcpv6.Message) *dhcpv6.OptIAPD {
	if o, ok := m.Options.GetOne(dhcpv6.OptionIAPD).(*dhcpv6.OptIAPD); ok {
		return o
	}
	return nil
}

func optBytes(m *dhcpv6.Message, code dhcpv6.OptionCode) []byte {
	if o := m.Options.GetOne(code); o != nil {
		return o.ToBytes()
	}
	return nil
}

func prefixesOf(ia *dhcpv6.OptIAPD) []string {
	var out []string
	for _, p := range ia.Options.Prefixes() {
		if p.Prefix == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, p.Prefix.String())
	}
	return out
}

func elapsedOf(t *testing.T, m *dhcpv6.Message) time.Duration {
	t.Helper()
	b := optBytes(m, dhcpv6.OptionElapsedTime)
	if len(b) != 2 {
		t.Fatalf("%s without Elapsed Time", m.MessageType)
	}
	return time.Duration(int(b[0])<<8|int(b[1])) * 10 * time.Millisecond
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

func domainList(names ...string) dhcpv6.Option {
	return dhcpv6.OptDomainSearchList(&rfc1035label.Labels{Labels: names})
}
