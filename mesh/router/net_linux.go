package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"

	"cpe/mesh/babel"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// LinuxNet is the Babel socket of a Linux box: one UDP socket on [::]:6696
// that joins ff02::1:6 on each Babel interface as it comes up, learns
// each datagram's interface and destination from IPV6_PKTINFO, and sends
// with hop limit 1 from the interface's link-local address. Interfaces are
// watched through netlink: carrier, removal and link-local addresses.
type LinuxNet struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	pc   *ipv6.PacketConn
	h    *netlink.Handle

	events chan LinkEvent
	done   chan struct{}
	wg     sync.WaitGroup

	rd  *rawRead // ReadFrom's; it has one caller at a time
	wmu sync.Mutex
	wr  *rawWrite // WriteTo's, under wmu

	mu     sync.Mutex
	want   map[string]bool
	byName map[string]*linuxLink
	byIdx  map[int]*linuxLink
	closed bool
}

type linuxLink struct {
	name   string
	index  int
	up     bool
	ll     netip.Addr
	joined bool
	sent   LinkEvent // the last event reported
}

// ListenLinux opens the socket and starts watching ifnames. It must be
// called in the network namespace Babel runs in; everything it opens
// stays there, whichever thread uses it later.
func ListenLinux(ifnames []string) (Net, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("router: netlink: %w", err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Babel is IPv6 only here; IPv4 routes ride on IPv6 (RFC 9229).
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", babel.Port))
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("router: %w", err)
	}
	ln := &LinuxNet{
		conn: c.(*net.UDPConn), h: h,
		events: make(chan LinkEvent, 16), done: make(chan struct{}),
		rd: newRawRead(), wr: newRawWrite(),
		want: map[string]bool{}, byName: map[string]*linuxLink{}, byIdx: map[int]*linuxLink{},
	}
	ln.pc = ipv6.NewPacketConn(ln.conn)
	if ln.raw, err = ln.conn.SyscallConn(); err != nil {
		ln.conn.Close()
		h.Close()
		return nil, fmt.Errorf("router: %w", err)
	}
	for _, set := range []func() error{
		func() error { return ln.pc.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true) },
		func() error { return ln.pc.SetMulticastHopLimit(1) },
		func() error { return ln.pc.SetHopLimit(1) },
		func() error { return ln.pc.SetMulticastLoopback(false) },
	} {
		if err := set(); err != nil {
			ln.conn.Close()
			h.Close()
			return nil, fmt.Errorf("router: socket option: %w", err)
		}
	}
	for _, n := range ifnames {
		ln.want[n] = true
	}
	if err := ln.watch(); err != nil {
		ln.conn.Close()
		h.Close()
		return nil, err
	}
	return ln, nil
}

// watch subscribes to link and address changes, then reads the current
// state, so that nothing falls between the two.
func (ln *LinuxNet) watch() error {
	linkCh := make(chan netlink.LinkUpdate, 16)
	addrCh := make(chan netlink.AddrUpdate, 16)
	linkDone, addrDone := make(chan struct{}), make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(linkCh, linkDone, netlink.LinkSubscribeOptions{}); err != nil {
		return fmt.Errorf("router: link subscription: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrCh, addrDone, netlink.AddrSubscribeOptions{}); err != nil {
		close(linkDone)
		for range linkCh {
		}
		return fmt.Errorf("router: address subscription: %w", err)
	}
	var initial []string
	for n := range ln.want {
		initial = append(initial, n)
	}
	slices.Sort(initial)
	ln.wg.Add(1)
	go func() {
		defer ln.wg.Done()
		defer close(ln.events)
		for _, n := range initial {
			if l, err := ln.h.LinkByName(n); err == nil {
				ln.refresh(l.Attrs().Index, l.Attrs().Name, linkUsable(l))
			}
		}
		for {
			select {
			case <-ln.done:
				close(linkDone)
				close(addrDone)
				// The subscriptions close their channels once their
				// sockets are closed; until then they may be sending.
				for linkCh != nil || addrCh != nil {
					select {
					case _, ok := <-linkCh:
						if !ok {
							linkCh = nil
						}
					case _, ok := <-addrCh:
						if !ok {
							addrCh = nil
						}
					}
				}
				return
			case u, ok := <-linkCh:
				if !ok {
					linkCh = nil
					continue
				}
				up := linkUsable(u.Link) && u.Header.Type != unix.RTM_DELLINK
				ln.refresh(u.Attrs().Index, u.Attrs().Name, up)
			case u, ok := <-addrCh:
				if !ok {
					addrCh = nil
					continue
				}
				ln.mu.Lock()
				l := ln.byIdx[u.LinkIndex]
				ln.mu.Unlock()
				if l != nil {
					ln.refresh(l.index, l.name, l.up)
				} else if ll, err := ln.h.LinkByIndex(u.LinkIndex); err == nil {
					ln.refresh(u.LinkIndex, ll.Attrs().Name, linkUsable(ll))
				}
			}
		}
	}()
	return nil
}

// linkUsable: administratively up with a carrier (or a link that does not
// report one).
func linkUsable(l netlink.Link) bool {
	a := l.Attrs()
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

// refresh re-reads a watched interface's link-local address and reports
// what changed.
func (ln *LinuxNet) refresh(index int, name string, up bool) {
	ln.mu.Lock()
	if !ln.want[name] || ln.closed {
		ln.mu.Unlock()
		return
	}
	l := ln.byName[name]
	if l == nil || l.index != index {
		if l != nil {
			delete(ln.byIdx, l.index)
		}
		l = &linuxLink{name: name, index: index}
		ln.byName[name], ln.byIdx[index] = l, l
	}
	l.up = up
	ln.mu.Unlock()

	ev := LinkEvent{Interface: name}
	if up {
		if ll, err := usableLinkLocal(ln.h, index); err == nil {
			ev.Up, ev.LinkLocal = true, ll
		}
	}
	ln.mu.Lock()
	if ev.Up && !l.joined {
		ifi := &net.Interface{Index: index, Name: name}
		if err := ln.pc.JoinGroup(ifi, &net.UDPAddr{IP: babel.MulticastGroup.AsSlice()}); err == nil || errors.Is(err, unix.EADDRINUSE) {
			l.joined = true
		} else {
			ev.Up = false
		}
	}
	if !ev.Up && l.joined {
		ln.pc.LeaveGroup(&net.Interface{Index: index, Name: name}, &net.UDPAddr{IP: babel.MulticastGroup.AsSlice()})
		l.joined = false
	}
	if ev == l.sent {
		ln.mu.Unlock()
		return
	}
	l.sent = ev
	ln.mu.Unlock()
	select {
	case ln.events <- ev:
	case <-ln.done:
	}
}

// usableLinkLocal is ndpconn.UsableLinkLocal on our own handle, which
// stays in the namespace it was opened in.
func usableLinkLocal(h *netlink.Handle, index int) (netip.Addr, error) {
	link, err := h.LinkByIndex(index)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && ip.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("no usable link-local address")
}

// ReadFrom reads the next Babel datagram.
func (ln *LinuxNet) ReadFrom(b []byte) (int, string, netip.AddrPort, netip.AddrPort, error) {
	r := ln.rd
	r.b = b
	for {
		err := ln.raw.Read(r.read)
		if err == nil && r.errno != 0 {
			err = r.errno
		}
		if err != nil {
			return 0, "", netip.AddrPort{}, netip.AddrPort{}, fmt.Errorf("router: %w", err)
		}
		d := r.d
		if !d.src.IsValid() || d.ifindex == 0 {
			continue
		}
		ln.mu.Lock()
		l := ln.byIdx[d.ifindex]
		ln.mu.Unlock()
		if l == nil {
			continue // not a Babel interface
		}
		return d.n, l.name, d.src, netip.AddrPortFrom(d.dst.Unmap(), babel.Port), nil
	}
}

// WriteTo sends a datagram on ifname.
func (ln *LinuxNet) WriteTo(b []byte, ifname string, dst netip.Addr) error {
	ln.wmu.Lock()
	defer ln.wmu.Unlock()
	w := ln.wr
	ln.mu.Lock()
	l := ln.byName[ifname]
	if l != nil {
		// The interface goes in the packet info, not as a zone: resolving
		// a zone name would look in the calling thread's namespace. The
		// source is the one the MACs were computed for (RFC 8967 4.1).
		var src netip.Addr
		if l.sent.Up {
			src = l.sent.LinkLocal
		}
		pktinfo(w.oob, l.index, src)
	}
	ln.mu.Unlock()
	if l == nil {
		return fmt.Errorf("router: %s is not a Babel interface", ifname)
	}
	w.b, w.dst, w.errno = b, dst, 0
	err := ln.raw.Write(w.write)
	w.b = nil
	if err == nil && w.errno != 0 {
		err = w.errno
	}
	if err != nil {
		return fmt.Errorf("router: send on %s: %w", ifname, err)
	}
	return nil
}

// rawRead and rawWrite are ReadFrom's and WriteTo's system calls, bound
// once with their buffers, so that a datagram costs no allocation.
type rawRead struct {
	b, oob []byte
	d      datagram
	errno  syscall.Errno
	read   func(fd uintptr) bool
}

func newRawRead() *rawRead {
	r := &rawRead{oob: make([]byte, pktinfoSpace)}
	r.read = func(fd uintptr) bool {
		r.d, r.errno = recvDatagram(fd, r.b, r.oob)
		return r.errno != unix.EAGAIN
	}
	return r
}

type rawWrite struct {
	b, oob []byte
	dst    netip.Addr
	errno  syscall.Errno
	write  func(fd uintptr) bool
}

func newRawWrite() *rawWrite {
	w := &rawWrite{oob: make([]byte, pktinfoSpace)}
	w.write = func(fd uintptr) bool {
		w.errno = sendDatagram(fd, w.b, w.dst, babel.Port, w.oob)
		return w.errno != unix.EAGAIN
	}
	return w
}

// Links reports interfaces coming up and going down.
func (ln *LinuxNet) Links() <-chan LinkEvent { return ln.events }

// Close closes the socket and the netlink subscriptions; Links is closed
// once the watcher has stopped.
func (ln *LinuxNet) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return nil
	}
	ln.closed = true
	ln.mu.Unlock()
	close(ln.done)
	err := ln.conn.Close()
	ln.wg.Wait()
	ln.h.Close()
	return err
}
