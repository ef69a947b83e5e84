package ndpconn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ErrNoLinkLocal is returned by Listen while the interface has no
// link-local address that finished DAD; callers retry.
var ErrNoLinkLocal = errors.New("no usable link-local address yet")

// Listen opens a raw ICMPv6 socket (ndp.Listen) bound to ifname's usable
// link-local address, which ties it to the interface. Only accept passes
// its ICMPv6 filter, and each message arrives with its hop limit.
//
// The errors carry no package prefix: they are the callers' Listen errors
// and the callers add their own ("ra: %w").
func Listen(ifname string, accept ipv6.ICMPType) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ll, err := UsableLinkLocal(ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", ifname, err)
	}
	c, _, err := ndp.Listen(ifi, ndp.Addr(ll.String()))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", ifname, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(accept)
	if err := c.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("listen on %s: icmp filter: %w", ifname, err)
	}
	if err := c.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("listen on %s: hop limit: %w", ifname, err)
	}
	return &Conn{c: c}, nil
}

// UsableLinkLocal picks the interface's link-local address that is neither
// tentative nor a duplicate. net.Interface.Addrs cannot tell, and binding
// a tentative address fails anyway.
func UsableLinkLocal(index int) (netip.Addr, error) {
	link, err := netlink.LinkByIndex(index)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || !ip.IsLinkLocalUnicast() || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		return ip, nil
	}
	return netip.Addr{}, ErrNoLinkLocal
}

// Conn is the socket Listen opened. Addresses come without a zone; the
// connection knows its interface.
type Conn struct{ c *ndp.Conn }

// ReadFrom reads one ICMPv6 message (from its type byte on) into b and
// returns its source and the hop limit it arrived with.
func (n *Conn) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	l, cm, src, err := n.c.ReadRaw(b)
	hop := -1 // unknown: callers drop it rather than trust it
	if cm != nil {
		hop = cm.HopLimit
	}
	return l, src.WithZone(""), hop, err
}

// WriteMessage sends m to to; ndp sends with hop limit 255.
func (n *Conn) WriteMessage(m ndp.Message, to netip.Addr) error { return n.c.WriteTo(m, nil, to) }

// JoinGroup joins the multicast group on the socket's interface.
func (n *Conn) JoinGroup(group netip.Addr) error { return n.c.JoinGroup(group) }

func (n *Conn) SetReadDeadline(t time.Time) error { return n.c.SetReadDeadline(t) }
func (n *Conn) Close() error                      { return n.c.Close() }
