package router

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"cpe/internal/netnstest"
	"cpe/mesh/babel"

	"golang.org/x/sys/unix"
)

// The packet info parser finds its message after another one, and takes
// nothing from a buffer that is short or lies about lengths.
func TestParsePktinfo(t *testing.T) {
	want := netip.MustParseAddr("ff02::1:6")
	info := make([]byte, pktinfoSpace)
	pktinfo(info, 7, want)

	// An IPV6_HOPLIMIT message first, as the kernel would put it.
	hop := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&hop[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
	h.SetLen(unix.CmsgLen(4))

	for _, c := range []struct {
		name  string
		oob   []byte
		addr  netip.Addr
		index int
	}{
		{"alone", info, want, 7},
		{"after another", append(append([]byte{}, hop...), info...), want, 7},
		{"empty", nil, netip.Addr{}, 0},
		{"cut short", info[:unix.CmsgLen(unix.SizeofInet6Pktinfo)-1], netip.Addr{}, 0},
		{"header only", info[:unix.CmsgLen(0)], netip.Addr{}, 0},
		{"another only", hop, netip.Addr{}, 0},
	} {
		addr, index := parsePktinfo(c.oob)
		if addr != c.addr || index != c.index {
			t.Errorf("%s: got %v %d, want %v %d", c.name, addr, index, c.addr, c.index)
		}
	}

	// A length below the header's own, or past the end, stops the walk.
	bad := append([]byte{}, info...)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).Len = 3
	if addr, _ := parsePktinfo(bad); addr.IsValid() {
		t.Errorf("length 3: got %v", addr)
	}
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).Len = uint64(len(bad) + 8)
	if addr, _ := parsePktinfo(bad); addr.IsValid() {
		t.Errorf("length past the end: got %v", addr)
	}
}

// A datagram through the Babel socket, out of one end of a veth pair and
// in at the other, arrives with its interface, source and destination,
// and neither sending nor receiving it allocates: an idle mesh box does
// little else.
func TestLinuxNetDatagram(t *testing.T) {
	netnstest.Run(t, func() {
		netnstest.Veth(t, "m0", "fe80::1/64", "m1", "fe80::2/64")
		n, err := ListenLinux([]string{"m0", "m1"})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		up := map[string]netip.Addr{}
		timeout := time.After(10 * time.Second)
		for len(up) < 2 {
			select {
			case ev := <-n.Links():
				if ev.Up {
					up[ev.Interface] = ev.LinkLocal
				}
			case <-timeout:
				t.Fatalf("interfaces up: %v", up)
			}
		}
		msg := []byte("babel")
		buf := make([]byte, 1500)
		exchange := func() {
			if err := n.WriteTo(msg, "m0", babel.MulticastGroup); err != nil {
				t.Fatal(err)
			}
			k, ifname, src, dst, err := n.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:k]) != "babel" || ifname != "m1" || src.Addr() != up["m0"] || src.Port() != babel.Port ||
				dst.Addr() != babel.MulticastGroup {
				t.Fatalf("got %q on %s from %v to %v; want %q on m1 from %v to %v",
					buf[:k], ifname, src, dst, msg, up["m0"], babel.MulticastGroup)
			}
		}
		exchange()
		if allocs := testing.AllocsPerRun(50, exchange); allocs != 0 {
			t.Errorf("%v allocations per datagram sent and received, want 0", allocs)
		}
	})
}
