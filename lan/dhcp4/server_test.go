package dhcp4

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"cpe/cpe/config"
)

func TestDORA(t *testing.T) {
	s := newServer(t, testConfig())
	hw := mac(1)
	r, offer := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, hw, dhcpv4.WithBroadcast(true),
		dhcpv4.WithOption(dhcpv4.OptHostName("laptop"))))
	if typeOf(offer) != "OFFER" || offer.YourIPAddr.String() != "192.168.1.100" {
		t.Fatalf("offer %s %v, want OFFER of 192.168.1.100", typeOf(offer), offer.YourIPAddr)
	}
	if r.Dest != DestBroadcast || r.To.String() != "255.255.255.255:68" || r.From != router || r.Interface != "lan0" {
		t.Errorf("offer sent %+v, want broadcast from the router out of lan0", r)
	}
	if got := s.Snapshot(t0); len(got) != 1 || got[0].State != Offered {
		t.Errorf("after OFFER: %+v", got)
	}
	r, ack := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, hw, ours, reqIP("192.168.1.100")))
	if typeOf(ack) != "ACK" || ack.YourIPAddr.String() != "192.168.1.100" {
		t.Fatalf("got %s %v", typeOf(ack), ack)
	}
	if r.Dest != DestHW || r.To.String() != "192.168.1.100:68" || r.HW.String() != hw.String() {
		t.Errorf("ACK without the broadcast bit: %v to %v at %v, want hw unicast", r.Dest, r.To, r.HW)
	}
	got := s.Snapshot(t0)
	want := []Lease{{Address: netip.MustParseAddr("192.168.1.100"), ClientID: "01:02:00:00:00:00:01",
		MAC: hw.String(), Hostname: "laptop", State: Bound, Expires: t0.Add(time.Hour)}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("Snapshot = %+v\nwant %+v", got, want)
	}
	c := s.Counters()
	if c.Discovers != 1 || c.Offers != 1 || c.Requests != 1 || c.Acks != 1 || c.Sent != 2 || c.Received != 2 {
		t.Errorf("counters %+v", c)
	}
	if !s.Dirty() {
		t.Error("a new lease must make the table dirty")
	}
}

func TestAckOptions(t *testing.T) {
	s := newServer(t, testConfig())
	id := []byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8}
	dora(t, s, t0, mac(1), dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id)))
	_, ack := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), ciaddr("192.168.1.100"),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(id))))
	tests := []struct {
		code dhcpv4.OptionCode
		want []byte
	}{
		{dhcpv4.OptionDHCPMessageType, []byte{5}},
		{dhcpv4.OptionSubnetMask, []byte{255, 255, 255, 0}},
		{dhcpv4.OptionRouter, []byte{192, 168, 1, 1}},
		{dhcpv4.OptionServerIdentifier, []byte{192, 168, 1, 1}},
		{dhcpv4.OptionBroadcastAddress, []byte{192, 168, 1, 255}},
		{dhcpv4.OptionDomainNameServer, []byte{192, 0, 2, 53}},
		{dhcpv4.OptionDomainName, []byte("home.arpa")},
		{dhcpv4.OptionInterfaceMTU, []byte{0x05, 0xd4}},
		{dhcpv4.OptionIPAddressLeaseTime, []byte{0, 0, 0x0e, 0x10}}, // 3600
		{dhcpv4.OptionRenewTimeValue, []byte{0, 0, 0x07, 0x08}},     // 1800
		{dhcpv4.OptionRebindingTimeValue, []byte{0, 0, 0x0c, 0x4e}}, // 3150
		{dhcpv4.OptionClientIdentifier, id},                         // RFC 6842
	}
	for _, tt := range tests {
		if got := opt(ack, tt.code); !bytes.Equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.code, got, tt.want)
		}
	}
	if ack.ClientIPAddr.String() != "192.168.1.100" {
		t.Errorf("ciaddr of a renewal ACK = %v, want the client's", ack.ClientIPAddr)
	}
}

func TestRenewRebind(t *testing.T) {
	for _, tc := range []struct {
		name      string
		broadcast bool
	}{{"renew", false}, {"rebind", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, testConfig())
			dora(t, s, t0, mac(1))
			now := t0.Add(50 * time.Minute)
			r, ack := do(t, s, now, msg(t, dhcpv4.MessageTypeRequest, mac(1), ciaddr("192.168.1.100"), dhcpv4.WithBroadcast(tc.broadcast)))
			if typeOf(ack) != "ACK" || ack.YourIPAddr.String() != "192.168.1.100" {
				t.Fatalf("got %s", typeOf(ack))
			}
			if r.Dest != DestClient || r.To.String() != "192.168.1.100:68" {
				t.Errorf("sent %v to %v, want unicast to ciaddr", r.Dest, r.To)
			}
			if l := s.Snapshot(now); len(l) != 1 || !l[0].Expires.Equal(now.Add(time.Hour)) {
				t.Errorf("lease not extended: %+v", l)
			}
			// Still bound past the first expiry.
			if l := s.Snapshot(t0.Add(90 * time.Minute)); len(l) != 1 || l[0].State != Bound {
				t.Errorf("extended lease gone: %+v", l)
			}
		})
	}
}

func TestRenewWrong(t *testing.T) {
	s := newServer(t, testConfig())
	dora(t, s, t0, mac(1))
	tests := []struct {
		name string
		hw   net.HardwareAddr
		ci   string
		want string
	}{
		{"someone else's address", mac(2), "192.168.1.100", "NAK"},
		{"off the subnet", mac(1), "10.0.0.5", "NAK"},
		{"outside the pool", mac(2), "192.168.1.20", "NAK"},
		{"unknown client, free address: recovered", mac(3), "192.168.1.150", "ACK"},
	}
	for _, tt := range tests {
		r, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, tt.hw, ciaddr(tt.ci)))
		if typeOf(m) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, typeOf(m), tt.want)
		}
		if tt.want == "NAK" && (r.Dest != DestBroadcast || m.YourIPAddr.String() != "0.0.0.0") {
			t.Errorf("%s: NAK %v yiaddr %v, want broadcast without address", tt.name, r.Dest, m.YourIPAddr)
		}
	}
}

func TestInitReboot(t *testing.T) {
	cfg := testConfig()
	cfg.Static = []Static{{MAC: mac(9), Address: netip.MustParseAddr("192.168.1.10")}}
	tests := []struct {
		name string
		hw   net.HardwareAddr
		req  string
		want string
	}{
		{"own lease", mac(1), "192.168.1.100", "ACK"},
		{"wrong subnet", mac(1), "10.1.1.7", "NAK"},
		{"known client, other address", mac(1), "192.168.1.150", "NAK"},
		{"someone else's lease", mac(2), "192.168.1.100", "NAK"},
		{"unknown client, free address", mac(3), "192.168.1.150", "silence"},
		{"unknown client, router address", mac(3), "192.168.1.1", "NAK"},
		{"unknown client, another's static", mac(3), "192.168.1.10", "NAK"},
		{"static host, its address", mac(9), "192.168.1.10", "ACK"},
		{"static host, another address", mac(9), "192.168.1.150", "NAK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, cfg)
			dora(t, s, t0, mac(1))
			r, m := do(t, s, t0.Add(time.Minute), msg(t, dhcpv4.MessageTypeRequest, tt.hw, reqIP(tt.req)))
			if typeOf(m) != tt.want {
				t.Fatalf("%s, want %s", typeOf(m), tt.want)
			}
			if tt.want == "silence" && s.Counters().Unknown != 1 {
				t.Error("silence not counted as Unknown")
			}
			if tt.want == "ACK" && m.YourIPAddr.String() != tt.req {
				t.Errorf("ACKed %v", m.YourIPAddr)
			}
			if m != nil && r.Dest == DestClient {
				t.Errorf("INIT-REBOOT reply unicast to ciaddr 0")
			}
		})
	}
}

func TestSelecting(t *testing.T) {
	s := newServer(t, testConfig())
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1)))
	// Asking for an address other than the one offered, if it is free, is
	// granted; asking for a taken one is not.
	dora(t, s, t0, mac(2)) // .101
	_, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), ours, reqIP("192.168.1.101")))
	if typeOf(m) != "NAK" {
		t.Errorf("request of another client's address: %s, want NAK", typeOf(m))
	}
	_, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), ours, reqIP("192.168.1.50")))
	if typeOf(m) != "NAK" {
		t.Errorf("request outside the pool: %s, want NAK", typeOf(m))
	}
	if string(opt(m, dhcpv4.OptionMessage)) == "" {
		t.Error("NAK without a message")
	}
	_, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), ours, reqIP("192.168.1.100")))
	if typeOf(m) != "ACK" {
		t.Errorf("request of the offer: %s", typeOf(m))
	}
}

func TestOtherServerDropsOffer(t *testing.T) {
	s := newServer(t, testConfig())
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1)))
	_, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), sid(otherSID), reqIP("192.168.1.7")))
	if m != nil {
		t.Fatalf("answered a REQUEST for another server: %s", typeOf(m))
	}
	if len(s.Snapshot(t0)) != 0 || s.Counters().OtherServer != 1 {
		t.Errorf("reservation kept: %+v", s.Snapshot(t0))
	}
	if a := dora(t, s, t0, mac(2)); a.String() != "192.168.1.100" {
		t.Errorf("next client got %s, want the dropped offer's 192.168.1.100", a)
	}
}

func TestOfferReservation(t *testing.T) {
	s := newServer(t, testConfig())
	_, o1 := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1)))
	_, o2 := do(t, s, t0.Add(time.Second), msg(t, dhcpv4.MessageTypeDiscover, mac(2)))
	if o1.YourIPAddr.Equal(o2.YourIPAddr) {
		t.Fatalf("two clients offered %v", o1.YourIPAddr)
	}
	// The same client asking again gets the same offer.
	if _, again := do(t, s, t0.Add(2*time.Second), msg(t, dhcpv4.MessageTypeDiscover, mac(1))); !again.YourIPAddr.Equal(o1.YourIPAddr) {
		t.Errorf("repeated DISCOVER offered %v, then %v", o1.YourIPAddr, again.YourIPAddr)
	}
	// After the hold, the reservation is gone and the address is offered
	// to others.
	late := t0.Add(DefaultOfferHold + 3*time.Second)
	if _, o3 := do(t, s, late, msg(t, dhcpv4.MessageTypeDiscover, mac(3))); !o3.YourIPAddr.Equal(o1.YourIPAddr) {
		t.Errorf("after the hold offered %v, want %v", o3.YourIPAddr, o1.YourIPAddr)
	}
}

func TestRequestedAddress(t *testing.T) {
	s := newServer(t, testConfig())
	dora(t, s, t0, mac(1)) // .100
	tests := []struct{ req, want string }{
		{"192.168.1.150", "192.168.1.150"}, // free: honoured
		{"192.168.1.100", "192.168.1.101"}, // taken: lowest free
		{"192.168.1.20", "192.168.1.101"},  // outside the pool
		{"10.0.0.1", "192.168.1.101"},      // off the subnet
		{"192.168.1.1", "192.168.1.101"},   // the router
	}
	for i, tt := range tests {
		_, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(10+i), reqIP(tt.req)))
		if m.YourIPAddr.String() != tt.want {
			t.Errorf("requested %s: offered %v, want %s", tt.req, m.YourIPAddr, tt.want)
		}
		// Let the offer go, so each case starts from the same table.
		do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(10+i), sid(otherSID), reqIP("10.9.9.9")))
	}
}

func TestRelease(t *testing.T) {
	s := newServer(t, testConfig())
	a := dora(t, s, t0, mac(1))
	dora(t, s, t0, mac(2))
	s.State()
	// A RELEASE from someone else, or for another address, is ignored.
	do(t, s, t0, msg(t, dhcpv4.MessageTypeRelease, mac(2), ciaddr(a.String()), ours))
	do(t, s, t0, msg(t, dhcpv4.MessageTypeRelease, mac(1), ciaddr("192.168.1.101"), ours))
	if len(s.Snapshot(t0)) != 2 || s.Counters().Ignored != 2 || s.Dirty() {
		t.Fatalf("forged RELEASE acted upon: %+v", s.Snapshot(t0))
	}
	do(t, s, t0, msg(t, dhcpv4.MessageTypeRelease, mac(1), ciaddr(a.String()), ours))
	if l := s.Snapshot(t0); len(l) != 1 || l[0].MAC != mac(2).String() || !s.Dirty() {
		t.Fatalf("after RELEASE: %+v", l)
	}
	// The client comes back and gets the same address.
	if b := dora(t, s, t0.Add(time.Minute), mac(1)); b != a {
		t.Errorf("after release got %s, want %s back", b, a)
	}
}

func TestDecline(t *testing.T) {
	s := newServer(t, testConfig())
	a := dora(t, s, t0, mac(1))
	// A DECLINE for someone else's address is ignored.
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDecline, mac(2), reqIP(a.String()), ours))
	if s.Counters().Ignored != 1 {
		t.Fatal("forged DECLINE acted upon")
	}
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDecline, mac(1), reqIP(a.String()), ours))
	l := s.Snapshot(t0)
	if len(l) != 1 || l[0].State != Declined || l[0].Address != a || !l[0].Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after DECLINE: %+v", l)
	}
	for i, now := range []time.Time{t0, t0.Add(59 * time.Minute)} {
		if b := dora(t, s, now, mac(1+i)); b == a {
			t.Fatalf("declined %s offered again at %v", a, now)
		}
		_, m := do(t, s, now, msg(t, dhcpv4.MessageTypeRequest, mac(20+i), ciaddr(a.String())))
		if typeOf(m) != "NAK" {
			t.Errorf("renewal of a declined address: %s", typeOf(m))
		}
	}
	if b := dora(t, s, t0.Add(time.Hour), mac(3)); b != a {
		t.Errorf("after the quarantine got %s, want %s", b, a)
	}
}

func TestInform(t *testing.T) {
	s := newServer(t, testConfig())
	r, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeInform, mac(1), ciaddr("192.168.1.20")))
	if typeOf(m) != "ACK" {
		t.Fatalf("got %s", typeOf(m))
	}
	if r.Dest != DestClient || r.To.String() != "192.168.1.20:68" {
		t.Errorf("sent %v to %v", r.Dest, r.To)
	}
	if !m.YourIPAddr.Equal(net.IPv4zero) || m.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || m.Options.Has(dhcpv4.OptionRenewTimeValue) {
		t.Errorf("INFORM ACK carries a lease: %s", m.Summary())
	}
	if u32opt(m, dhcpv4.OptionRouter) != 0xc0a80101 || !bytes.Equal(opt(m, dhcpv4.OptionDomainNameServer), []byte{192, 0, 2, 53}) {
		t.Errorf("INFORM ACK options: %s", m.Summary())
	}
	if len(s.Snapshot(t0)) != 0 {
		t.Error("INFORM made a lease")
	}
}

func TestStatic(t *testing.T) {
	cfg := testConfig()
	cfg.PoolStart, cfg.PoolEnd = netip.MustParseAddr("192.168.1.100"), netip.MustParseAddr("192.168.1.103")
	cfg.Static = []Static{
		{MAC: mac(50), Address: netip.MustParseAddr("192.168.1.101"), Hostname: "printer"}, // inside the pool
		{MAC: mac(51), Address: netip.MustParseAddr("192.168.1.20")},                       // outside
	}
	s := newServer(t, cfg)
	// Others fill the pool without ever getting .101.
	for i := 1; i <= 3; i++ {
		if a := dora(t, s, t0, mac(i), reqIP("192.168.1.101")); a.String() == "192.168.1.101" {
			t.Fatalf("client %d got the static address", i)
		}
	}
	if _, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(4))); m != nil {
		t.Fatalf("pool should be full, offered %v", m.YourIPAddr)
	}
	// The static hosts get theirs, whatever they ask for.
	_, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(50), reqIP("192.168.1.150")))
	if m.YourIPAddr.String() != "192.168.1.101" || m.HostName() != "printer" {
		t.Errorf("static host offered %v hostname %q", m.YourIPAddr, m.HostName())
	}
	_, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(50), ours, reqIP("192.168.1.102")))
	if typeOf(m) != "NAK" {
		t.Errorf("static host requesting another address: %s", typeOf(m))
	}
	if a := dora(t, s, t0, mac(50)); a.String() != "192.168.1.101" {
		t.Errorf("static host got %s", a)
	}
	if a := dora(t, s, t0, mac(51)); a.String() != "192.168.1.20" {
		t.Errorf("static host outside the pool got %s", a)
	}
	// Nobody else can take it by renewing or rebooting into it.
	for _, b := range [][]byte{
		msg(t, dhcpv4.MessageTypeRequest, mac(4), ciaddr("192.168.1.20")),
		msg(t, dhcpv4.MessageTypeRequest, mac(4), reqIP("192.168.1.101")),
		msg(t, dhcpv4.MessageTypeRequest, mac(4), ours, reqIP("192.168.1.101")),
	} {
		if _, m := do(t, s, t0, b); typeOf(m) != "NAK" {
			t.Errorf("other host taking a static address: %s", typeOf(m))
		}
	}
	if l := s.Snapshot(t0); len(l) != 5 || !l[0].Static || l[0].Address.String() != "192.168.1.20" {
		t.Errorf("snapshot %+v", l)
	}
}

func TestPoolBoundaries(t *testing.T) {
	tests := []struct {
		name, prefix, start, end string
		want                     []string // every address handed out, in order
	}{
		{"/30, router in the pool", "192.168.5.1/30", "192.168.5.1", "192.168.5.2", []string{"192.168.5.2"}},
		{"/30, router last", "192.168.5.2/30", "192.168.5.1", "192.168.5.1", []string{"192.168.5.1"}},
		{"/23 across the byte", "10.0.0.1/23", "10.0.0.254", "10.0.1.1", []string{"10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Address = netip.MustParsePrefix(tt.prefix)
			cfg.PoolStart, cfg.PoolEnd = netip.MustParseAddr(tt.start), netip.MustParseAddr(tt.end)
			s := newServer(t, cfg)
			var got []string
			for i := 0; ; i++ {
				_, offer := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(i)))
				if offer == nil {
					break
				}
				_, ack := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(i), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(cfg.Address.Addr().AsSlice()))),
					dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr))))
				if typeOf(ack) != "ACK" {
					t.Fatalf("%s", typeOf(ack))
				}
				got = append(got, ack.YourIPAddr.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("handed out %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWholeSlash23(t *testing.T) {
	cfg := testConfig()
	cfg.Address = netip.MustParsePrefix("10.0.0.1/23")
	cfg.PoolStart, cfg.PoolEnd = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.1.254")
	s := newServer(t, cfg)
	seen := map[netip.Addr]bool{}
	for i := 0; i < 509; i++ {
		a := dora(t, s, t0, mac(i))
		if seen[a] || a.String() == "10.0.0.1" {
			t.Fatalf("client %d got %s twice or the router's", i, a)
		}
		seen[a] = true
	}
	if _, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1000))); m != nil {
		t.Errorf("510th client offered %v", m.YourIPAddr)
	}
}

func TestExhaustionLogsOnce(t *testing.T) {
	cfg := testConfig()
	cfg.PoolEnd = netip.MustParseAddr("192.168.1.101")
	var logs bytes.Buffer
	s, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dora(t, s, t0, mac(1))
	dora(t, s, t0, mac(2))
	for i := 3; i < 8; i++ {
		if _, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(i))); m != nil {
			t.Fatalf("offered %v from a full pool", m.YourIPAddr)
		}
	}
	if n := strings.Count(logs.String(), "pool exhausted"); n != 1 || s.Counters().Exhausted != 5 {
		t.Errorf("logged %d times, counted %d; want 1 and 5:\n%s", n, s.Counters().Exhausted, logs.String())
	}
	do(t, s, t0, msg(t, dhcpv4.MessageTypeRelease, mac(1), ciaddr("192.168.1.100")))
	dora(t, s, t0, mac(3))
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(4)))
	if n := strings.Count(logs.String(), "pool exhausted"); n != 2 {
		t.Errorf("a new episode logged %d times in all, want 2", n)
	}
}

func TestExpiryAndReuse(t *testing.T) {
	cfg := testConfig()
	cfg.PoolEnd = cfg.PoolStart
	s := newServer(t, cfg)
	a := dora(t, s, t0, mac(1))
	if _, m := do(t, s, t0.Add(59*time.Minute), msg(t, dhcpv4.MessageTypeDiscover, mac(2))); m != nil {
		t.Fatal("offered a leased address")
	}
	if l := s.Snapshot(t0.Add(time.Hour)); len(l) != 0 {
		t.Errorf("expired lease still shown: %+v", l)
	}
	if b := dora(t, s, t0.Add(time.Hour+time.Second), mac(2)); b != a {
		t.Errorf("expired address not reused: %s", b)
	}
	// The first client is back: its address is someone else's now.
	_, m := do(t, s, t0.Add(2*time.Hour), msg(t, dhcpv4.MessageTypeRequest, mac(1), reqIP(a.String())))
	if typeOf(m) != "NAK" {
		t.Errorf("INIT-REBOOT into a reused address: %s", typeOf(m))
	}
}

func TestClientIdentity(t *testing.T) {
	s := newServer(t, testConfig())
	id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0, 'h', 'o', 's', 't'}))
	a := dora(t, s, t0, mac(1), id)
	// Same client id behind another MAC (a VM moved, a new NIC): same client.
	_, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(2), id, ciaddr(a.String())))
	if typeOf(m) != "ACK" {
		t.Errorf("same client id, other chaddr: %s", typeOf(m))
	}
	// Same MAC without the client id: another client.
	_, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), ciaddr(a.String())))
	if typeOf(m) != "NAK" {
		t.Errorf("same chaddr, no client id: %s", typeOf(m))
	}
	// A type-1 client id equal to chaddr is the same as none.
	b := dora(t, s, t0, mac(3))
	_, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(3), ciaddr(b.String()),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, mac(3)...)))))
	if typeOf(m) != "ACK" {
		t.Errorf("type-1 client id matching chaddr: %s", typeOf(m))
	}
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 2, 4
	s := newServer(t, cfg)
	answered := func(now time.Time, hw net.HardwareAddr, n int) int {
		k := 0
		for range n {
			if _, m := do(t, s, now, msg(t, dhcpv4.MessageTypeDiscover, hw)); m != nil {
				k++
			}
		}
		return k
	}
	if got := answered(t0, mac(1), 10); got != 4 {
		t.Errorf("burst: %d answered, want 4", got)
	}
	if got := answered(t0, mac(2), 3); got != 3 {
		t.Errorf("another client is limited too: %d of 3", got)
	}
	if got := answered(t0.Add(time.Second), mac(1), 10); got != 2 {
		t.Errorf("after 1 s at 2/s: %d answered, want 2", got)
	}
	if c := s.Counters(); c.RateLimited != 6+8 {
		t.Errorf("RateLimited = %d, want 14", c.RateLimited)
	}
}

func TestDropped(t *testing.T) {
	s := newServer(t, testConfig())
	relayed := dhcpv4.WithGatewayIP(net.IPv4(10, 9, 9, 1))
	tests := []struct {
		name    string
		ifname  string
		b       []byte
		wantErr bool
		counter func(Counters) uint64
	}{
		{"other interface", "wan0", msg(t, dhcpv4.MessageTypeDiscover, mac(1)), false, func(c Counters) uint64 { return c.WrongInterface }},
		{"relayed from another subnet", "lan0", msg(t, dhcpv4.MessageTypeDiscover, mac(1), relayed), false, func(c Counters) uint64 { return c.WrongSubnet }},
		{"garbage", "lan0", []byte("hello"), true, func(c Counters) uint64 { return c.Malformed }},
		{"a reply", "lan0", msg(t, dhcpv4.MessageTypeOffer, mac(1), dhcpv4.WithReply(&dhcpv4.DHCPv4{})), true, func(c Counters) uint64 { return c.Malformed }},
		{"an OFFER in a request", "lan0", msg(t, dhcpv4.MessageTypeOffer, mac(1)), false, func(c Counters) uint64 { return c.Ignored }},
		{"no chaddr", "lan0", msg(t, dhcpv4.MessageTypeDiscover, nil), true, func(c Counters) uint64 { return c.Malformed }},
	}
	for _, tt := range tests {
		before := tt.counter(s.Counters())
		r, err := s.Handle(t0, tt.b, tt.ifname, noSrc)
		if r != nil || (err != nil) != tt.wantErr {
			t.Errorf("%s: reply %v, err %v", tt.name, r != nil, err)
		}
		if tt.counter(s.Counters()) != before+1 {
			t.Errorf("%s: not counted", tt.name)
		}
	}
}

func TestRelayed(t *testing.T) {
	s := newServer(t, testConfig())
	gi := dhcpv4.WithGatewayIP(net.IPv4(192, 168, 1, 2))
	ri := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionRelayAgentInformation, []byte{1, 2, 'a', 'b'}))
	r, m := do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(1), gi, ri))
	if r.Dest != DestRelay || r.To.String() != "192.168.1.2:67" || !bytes.Equal(opt(m, dhcpv4.OptionRelayAgentInformation), []byte{1, 2, 'a', 'b'}) {
		t.Errorf("relayed OFFER sent %v to %v; option 82 %v", r.Dest, r.To, opt(m, dhcpv4.OptionRelayAgentInformation))
	}
	r, m = do(t, s, t0, msg(t, dhcpv4.MessageTypeRequest, mac(1), gi, ciaddr("10.0.0.1")))
	if typeOf(m) != "NAK" || r.Dest != DestRelay || !m.IsBroadcast() {
		t.Errorf("relayed NAK: %s %v broadcast bit %v", typeOf(m), r.Dest, m.IsBroadcast())
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no interface", func(c *Config) { c.Interface = "" }, "no interface"},
		{"IPv6", func(c *Config) { c.Address = netip.MustParsePrefix("2001:db8::1/64") }, "IPv4"},
		{"/31", func(c *Config) { c.Address = netip.MustParsePrefix("192.168.1.1/31") }, "/30"},
		{"network address", func(c *Config) { c.Address = netip.MustParsePrefix("192.168.1.0/24") }, "not a host"},
		{"pool off the subnet", func(c *Config) { c.PoolEnd = netip.MustParseAddr("192.168.2.10") }, "pool end"},
		{"pool reversed", func(c *Config) { c.PoolStart = netip.MustParseAddr("192.168.1.200") }, "start after end"},
		{"pool on broadcast", func(c *Config) { c.PoolEnd = netip.MustParseAddr("192.168.1.255") }, "pool end"},
		{"static on router", func(c *Config) { c.Static = []Static{{MAC: mac(1), Address: router}} }, "router"},
		{"static twice", func(c *Config) {
			c.Static = []Static{{MAC: mac(1), Address: netip.MustParseAddr("192.168.1.5")}, {MAC: mac(1), Address: netip.MustParseAddr("192.168.1.6")}}
		}, "listed twice"},
		{"bad MTU", func(c *Config) { c.MTU = 20 }, "MTU"},
		{"IPv6 DNS", func(c *Config) { c.DNS = []netip.Addr{netip.MustParseAddr("2001:db8::53")} }, "DNS"},
	}
	for _, tt := range tests {
		c := testConfig()
		tt.edit(&c)
		_, err := New(c, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(testConfig(), nil); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestPersistence(t *testing.T) {
	cfg := testConfig()
	cfg.Static = []Static{{MAC: mac(50), Address: netip.MustParseAddr("192.168.1.10")}}
	s := newServer(t, cfg)
	for i := 1; i <= 4; i++ {
		dora(t, s, t0, mac(i), dhcpv4.WithOption(dhcpv4.OptHostName("h"+string(rune('0'+i)))))
	}
	dora(t, s, t0, mac(50))
	do(t, s, t0, msg(t, dhcpv4.MessageTypeRelease, mac(2), ciaddr("192.168.1.101")))
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDecline, mac(3), reqIP("192.168.1.102")))
	do(t, s, t0, msg(t, dhcpv4.MessageTypeDiscover, mac(7))) // an offer: not saved

	doc, err := json.Marshal(s.State())
	if err != nil {
		t.Fatal(err)
	}
	if s.Dirty() {
		t.Error("State must clear Dirty")
	}
	var st State
	if err := json.Unmarshal(doc, &st); err != nil {
		t.Fatal(err)
	}
	s2 := newServer(t, cfg)
	if err := s2.Load(st, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, s2)
	doc2, _ := json.Marshal(s2.State())
	if !bytes.Equal(doc, doc2) {
		t.Errorf("round trip differs:\n%s\n%s", doc, doc2)
	}
	if len(st.Leases) != 5 {
		t.Errorf("saved %d leases, want 5 (3 bound, 1 released, 1 declined): %s", len(st.Leases), doc)
	}
	now := t0.Add(2 * time.Minute)
	// Bound leases renew, the released client gets its address back, the
	// declined address stays out of use.
	if _, m := do(t, s2, now, msg(t, dhcpv4.MessageTypeRequest, mac(1), ciaddr("192.168.1.100"))); typeOf(m) != "ACK" {
		t.Errorf("renewal after load: %s", typeOf(m))
	}
	if a := dora(t, s2, now, mac(2)); a.String() != "192.168.1.101" {
		t.Errorf("released client got %s after load", a)
	}
	if a := dora(t, s2, now, mac(8)); a.String() != "192.168.1.104" {
		t.Errorf("new client got %s, want .104 (.102 declined, .103 bound)", a)
	}

	// A config change drops what it no longer allows.
	cfg.PoolEnd = netip.MustParseAddr("192.168.1.101")
	cfg.Static = nil
	s3 := newServer(t, cfg)
	err = s3.Load(st, now)
	if err == nil || !strings.Contains(err.Error(), "3 saved leases dropped") {
		t.Errorf("Load under a smaller pool: %v", err)
	}
	checkInvariants(t, s3)
}

func TestFromConfig(t *testing.T) {
	doc := `{"interface":"lan0","ipv4":{"address":"192.168.7.1/24","nat":true,"dhcp4":{"pool_start":"192.168.7.50","pool_end":"192.168.7.60","lease_time":"2h",
	  "static_leases":[{"mac":"02:00:00:00:00:09","address":"192.168.7.9","hostname":"nas"}]}}}`
	var l config.LAN
	if err := json.Unmarshal([]byte(doc), &l); err != nil {
		t.Fatal(err)
	}
	c, ok := FromConfig(l, []netip.Addr{netip.MustParseAddr("2001:db8::53"), dns1})
	if !ok {
		t.Fatal("no DHCPv4 config")
	}
	if c.Interface != "lan0" || c.LeaseTime != 2*time.Hour || len(c.Static) != 1 || c.Static[0].Hostname != "nas" ||
		len(c.DNS) != 1 || c.DNS[0] != dns1 {
		t.Errorf("FromConfig = %+v", c)
	}
	if _, err := New(c, nil); err != nil {
		t.Error(err)
	}
	l.IPv4.DHCP4 = nil
	if _, ok := FromConfig(l, nil); ok {
		t.Error("LAN without dhcp4 gave a config")
	}
}

func TestFreeSet(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 4097, 300000} {
		s := newFreeSet(n)
		s.fill(n)
		model := map[int]bool{}
		for i := range n {
			model[i] = true
		}
		rng := uint64(n)
		for range 20000 {
			rng = rng*6364136223846793005 + 1442695040888963407
			i := int(rng>>33) % n
			if rng&1 == 0 {
				s.add(i)
				model[i] = true
			} else {
				s.remove(i)
				delete(model, i)
			}
			if s.has(i) != model[i] || s.count != len(model) {
				t.Fatalf("n=%d: %d has %v, count %d, model %d", n, i, s.has(i), s.count, len(model))
			}
		}
		for _, want := range slices.Sorted(maps.Keys(model)) {
			m, ok := s.min()
			if !ok || m != want {
				t.Fatalf("n=%d: min %d %v, want %d", n, m, ok, want)
			}
			s.remove(m)
		}
		if _, ok := s.min(); ok {
			t.Errorf("n=%d: empty set has a min", n)
		}
	}
}
