package dhcp4

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

var (
	t0       = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mac      = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	serverIP = netip.MustParseAddr("192.0.2.1")
	leaseIP  = netip.MustParseAddr("192.0.2.10")
	dnsIP    = netip.MustParseAddr("198.51.100.53")
)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func testConfig() Config {
	return Config{Interface: "wan0", HWAddr: mac, Hostname: "cpe", Rand: rand.New(rand.NewPCG(1, 2))}
}

func randFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func newClient(t testing.TB, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := testConfig()
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decode parses a packet the client sent.
func decode(t testing.TB, b []byte) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		t.Fatalf("client sent an unparsable packet: %v", err)
	}
	return m
}

// one returns the single packet of out.
func one(t testing.TB, out Output) Packet {
	t.Helper()
	if len(out.Send) != 1 {
		t.Fatalf("sent %d packets, want 1", len(out.Send))
	}
	return out.Send[0]
}

func msgType(t testing.TB, p Packet) dhcpv4.MessageType {
	t.Helper()
	return decode(t, p.Data).MessageType()
}

type mod func(*dhcpv4.DHCPv4)

func opt(code uint8, v []byte) mod { return func(m *dhcpv4.DHCPv4) { m.Options[code] = v } }
func without(code uint8) mod       { return func(m *dhcpv4.DHCPv4) { delete(m.Options, code) } }
func yiaddr(a string) mod {
	return func(m *dhcpv4.DHCPv4) { m.YourIPAddr = netip.MustParseAddr(a).AsSlice() }
}
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func ip(s string) []byte  { return netip.MustParseAddr(s).AsSlice() }

// answer is what a well-behaved server on 192.0.2.0/24 replies to req.
func answer(t testing.TB, req []byte, typ dhcpv4.MessageType, mods ...mod) []byte {
	t.Helper()
	r := decode(t, req)
	m := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        iana.HWTypeEthernet,
		TransactionID: r.TransactionID,
		Flags:         r.Flags,
		ClientIPAddr:  r.ClientIPAddr,
		YourIPAddr:    leaseIP.AsSlice(),
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		ClientHWAddr:  r.ClientHWAddr,
		Options: dhcpv4.Options{
			optMessageType: {byte(typ)},
			optServerID:    serverIP.AsSlice(),
			optLeaseTime:   u32(3600),
			optSubnetMask:  ip("255.255.255.0"),
			optRouter:      serverIP.AsSlice(),
			optDNS:         dnsIP.AsSlice(),
			optDomainName:  []byte("isp.example"),
			optMTU:         u16(1500),
		},
	}
	if typ == dhcpv4.MessageTypeNak {
		m.YourIPAddr = net.IPv4zero
		m.Options = dhcpv4.Options{optMessageType: {byte(typ)}, optServerID: serverIP.AsSlice(),
			optMessage: []byte("address not yours")}
	}
	for _, f := range mods {
		f(m)
	}
	return m.ToBytes()
}

// bind runs DORA at t0 and returns the client BOUND, with the ACK's Output.
func bind(t testing.TB, c *Client, ackMods ...mod) Output {
	t.Helper()
	out := c.Start(t0, nil)
	out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeOffer, ackMods...))
	out = c.Receive(t0, answer(t, one(t, out).Data, dhcpv4.MessageTypeAck, ackMods...))
	if c.State() != StateBound {
		t.Fatalf("state %s after DORA, want BOUND (last error %q)", c.State(), c.Lease().LastError)
	}
	return out
}
