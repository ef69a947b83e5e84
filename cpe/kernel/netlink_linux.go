package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"cpe/internal/pollwait"
)

// netlinkTimeout bounds every netlink exchange: the kernel answers at once,
// and PID 1 must not hang on a socket that never does.
const netlinkTimeout = 10 * time.Second

// linuxOps is netlinkOps on a real kernel: links, address dumps and rules go
// through a netlink.Handle, route and address messages through a raw socket
// of the nl package (see rtnl_linux.go), both opened in one namespace.
type linuxOps struct {
	ns netns.NsHandle // open only when working in another namespace
	h  *netlink.Handle
	rt *nl.SocketHandle
	// watch hears the kernel's notifications of link, address, route
	// and rule changes; nil until Changed first opens it, and again after
	// it failed.
	watch *nl.NetlinkSocket
	// heard is signalled whenever the watch has something queued, by
	// listener, which waits for that through the runtime's poller.
	heard    chan struct{}
	listener *pollwait.Waiter
	// sent are the route changes made since Changed last drained the
	// watch: their notifications are no news. Routes are what the box
	// changes all the time (mesh routes follow every reroute), and have no
	// side effects to be heard.
	sent []sentRoute
	// log hears what the Applier cannot return: a watch or listener that
	// failed.
	log *slog.Logger
}

// sentRoute names a route change as its notification will: a message
// type (RTM_NEWROUTE or RTM_DELROUTE) and the route's identity.
type sentRoute struct {
	msg      uint16
	dst, src netip.Prefix
	table    uint32
	metric   uint32
}

func sentRouteOf(msg uint16, r rtRoute) sentRoute {
	m := r.metric
	if r.family == unix.AF_INET6 && m == 0 {
		m = defaultIPv6Metric
	}
	return sentRoute{msg, r.dst, r.src, r.table, m}
}

// watchGroups are the rtnetlink multicast groups of what Apply reads.
var watchGroups = []uint{
	unix.RTNLGRP_LINK,
	unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE,
	unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE,
}

func newLinuxOps(nsPath string) (_ *linuxOps, err error) {
	o := &linuxOps{ns: netns.None(), heard: make(chan struct{}, 1), log: slog.New(slog.DiscardHandler)}
	defer func() {
		if err != nil {
			o.Close()
		}
	}()
	if nsPath != "" {
		if o.ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("kernel: open netns %s: %w", nsPath, err)
		}
	}
	if o.h, err = netlink.NewHandleAt(o.ns, unix.NETLINK_ROUTE); err != nil {
		return nil, fmt.Errorf("kernel: netlink handle: %w", err)
	}
	if err = o.h.SetSocketTimeout(netlinkTimeout); err != nil {
		return nil, fmt.Errorf("kernel: netlink handle: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(o.ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("kernel: netlink socket: %w", err)
	}
	o.rt = &nl.SocketHandle{Socket: s}
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	if err = s.SetSendTimeout(&tv); err == nil {
		err = s.SetReceiveTimeout(&tv)
	}
	if err == nil {
		// The kernel's own words ("Nexthop has invalid gateway") beat a
		// bare EINVAL in the errors Apply returns.
		err = s.SetExtAck(true)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: netlink socket: %w", err)
	}
	return o, nil
}

// Changed drains the notifications queued on the watch socket since the
// last call: anything but the notification of a route change of our own
// (see sent) is a change. The socket is read only here, so a busy kernel
// costs the box nothing between applies: a queue that overflowed
// (ENOBUFS) just reports a change.
func (o *linuxOps) Changed() bool {
	sent := o.sent
	o.sent = nil
	if o.watch == nil {
		// Without the watch or its listener the box still hears of
		// changes, at its next periodic apply.
		s, err := nl.SubscribeAt(o.ns, netns.None(), unix.NETLINK_ROUTE, watchGroups...)
		if err != nil {
			o.log.Warn("cannot subscribe to the kernel's change notifications: changes made by others are seen only at the periodic apply", "err", err)
			return true
		}
		o.watch = s // non-blocking
		if o.listener, err = listen(s.GetFd(), o.heard); err != nil {
			o.log.Warn("cannot wait for the kernel's change notifications: changes made by others are seen only at the periodic apply", "err", err)
		}
		return true
	}
	changed := false
	// A route notification is well under 4 KiB; a longer message, cut
	// short, is consumed whole all the same and counts as a change.
	var buf [4096]byte
	for {
		n, _, err := unix.Recvfrom(o.watch.GetFd(), buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return changed
		case err != nil:
			if err != unix.ENOBUFS {
				o.closeWatch()
			}
			return true
		case n > len(buf):
			changed = true
		default:
			if !ownRouteChanges(buf[:n], &sent) {
				changed = true
			}
		}
	}
}

// ownRouteChanges reports whether every message of a notification is a
// route change in sent, and takes those out of sent.
func ownRouteChanges(b []byte, sent *[]sentRoute) bool {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil || len(msgs) == 0 {
		return false
	}
	for _, m := range msgs {
		t := m.Header.Type
		if t != unix.RTM_NEWROUTE && t != unix.RTM_DELROUTE {
			return false
		}
		r, err := decodeRoute(m.Data)
		if err != nil || r.protocol != RouteProtocol {
			return false
		}
		i := slices.Index(*sent, sentRouteOf(t, r))
		if i < 0 {
			return false
		}
		*sent = slices.Delete(*sent, i, i+1)
	}
	return true
}

// Heard is ready when the kernel may have news for Changed.
func (o *linuxOps) Heard() <-chan struct{} { return o.heard }

func (o *linuxOps) closeWatch() {
	if o.listener != nil {
		o.listener.Close()
		o.listener = nil
	}
	if o.watch != nil {
		o.watch.Close()
		o.watch = nil
	}
}

// listen signals heard each time the watch socket fd has something
// queued, from a wait on a duplicate of it: Changed reads the socket.
func listen(fd int, heard chan<- struct{}) (*pollwait.Waiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return pollwait.Start(dup, "netlink-watch", func() {
		select {
		case heard <- struct{}{}:
		default:
		}
	})
}

func (o *linuxOps) Close() error {
	o.closeWatch()
	if o.h != nil {
		o.h.Close()
		o.h = nil
	}
	if o.rt != nil {
		o.rt.Close()
		o.rt = nil
	}
	if o.ns.IsOpen() {
		err := o.ns.Close()
		o.ns = netns.None()
		return err
	}
	return nil
}

func (o *linuxOps) link(name string) (netlink.Link, error) {
	l, err := o.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

func (o *linuxOps) Link(name string) (Link, error) {
	l, err := o.link(name)
	if err != nil {
		return Link{}, err
	}
	a := l.Attrs()
	return Link{Name: a.Name, Up: a.Flags&net.FlagUp != 0, MTU: a.MTU}, nil
}

func (o *linuxOps) SetLinkMTU(name string, mtu int) error {
	l, err := o.link(name)
	if err != nil {
		return err
	}
	return o.h.LinkSetMTU(l, mtu)
}

func (o *linuxOps) SetLinkUp(name string, up bool) error {
	l, err := o.link(name)
	if err != nil {
		return err
	}
	if up {
		return o.h.LinkSetUp(l)
	}
	return o.h.LinkSetDown(l)
}

func (o *linuxOps) Addrs(links []string) ([]kernelAddr, error) {
	names := map[int]string{}
	for _, name := range links {
		l, err := o.h.LinkByName(name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			continue // nothing of ours can be on a link that is gone
		}
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", name, err)
		}
		names[l.Attrs().Index] = name
	}
	if len(names) == 0 {
		return nil, nil
	}
	var list []netlink.Addr
	err := retryDump(func() (err error) {
		list, err = o.h.AddrList(nil, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []kernelAddr
	for _, a := range list {
		name, ok := names[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := a.Mask.Size()
		if ip.Is4() && ones > 32 {
			ones -= 96
		}
		out = append(out, kernelAddr{
			Link:   name,
			Prefix: netip.PrefixFrom(ip, ones),
			// Through uint32: on 32-bit boards the int holds forever as -1.
			Preferred:     uint32(a.PreferedLft),
			Valid:         uint32(a.ValidLft),
			NoPrefixRoute: a.Flags&unix.IFA_F_NOPREFIXROUTE != 0,
			Temporary:     ip.Is6() && a.Flags&unix.IFA_F_TEMPORARY != 0,
			Peer:          a.Peer != nil,
		})
	}
	return out, nil
}

func (o *linuxOps) AddAddr(a kernelAddr, replace bool) error {
	l, err := o.link(a.Link)
	if err != nil {
		return err
	}
	flags := unix.NLM_F_CREATE | unix.NLM_F_EXCL
	if replace {
		flags = unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	}
	return o.exec(unix.RTM_NEWADDR, flags, encodeAddr(a, uint32(l.Attrs().Index), true))
}

func (o *linuxOps) DelAddr(a kernelAddr) error {
	l, err := o.link(a.Link)
	if err != nil {
		return err
	}
	return o.exec(unix.RTM_DELADDR, 0, encodeAddr(a, uint32(l.Attrs().Index), false))
}

// exec sends one request on the raw socket and waits for its ack.
func (o *linuxOps) exec(typ uint16, flags int, payload []byte) error {
	req := o.request(typ, flags|unix.NLM_F_ACK)
	req.AddRawData(payload)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

func (o *linuxOps) request(typ uint16, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   unix.SizeofNlMsghdr,
			Type:  typ,
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: o.rt},
	}
}

func (o *linuxOps) Routes() ([]kernelRoute, error) {
	links, err := o.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	names := map[uint32]string{}
	for _, l := range links {
		names[uint32(l.Attrs().Index)] = l.Attrs().Name
	}
	var out []kernelRoute
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var got []kernelRoute
		err := retryDump(func() error {
			got = got[:0]
			req := o.request(unix.RTM_GETROUTE, unix.NLM_F_DUMP)
			hdr := make([]byte, unix.SizeofRtMsg)
			hdr[0] = fam
			req.AddRawData(hdr)
			var perr error
			err := req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWROUTE, func(m []byte) bool {
				r, err := decodeRoute(m)
				if err != nil {
					perr = err
					return false
				}
				if kr, ok := modelRoute(r, names); ok && r.family == fam {
					got = append(got, kr)
				}
				return true
			})
			if err == nil {
				err = perr
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// modelRoute turns a dumped route into the model's terms; ok is false for
// what the Applier never looks at (the local table, cached clones).
func modelRoute(r rtRoute, names map[uint32]string) (kernelRoute, bool) {
	if r.table == tableLocal || r.flags&unix.RTM_F_CLONED != 0 {
		return kernelRoute{}, false
	}
	kr := kernelRoute{Protocol: r.protocol, Route: Route{
		Dst:    r.dst,
		Src:    r.src,
		Metric: r.metric,
		Table:  r.table,
		MTU:    int(r.mtu),
	}}
	if kr.Table == tableMain {
		kr.Table = 0
	}
	switch r.typ {
	case unix.RTN_UNICAST:
		kr.Type = Unicast
		kr.Via = r.gw
		kr.Link = names[r.oif]
		if r.multipath {
			// Several next hops: not a route the model can say, so it never
			// equals a desired one and is replaced by it.
			kr.Type = routeOther
		}
	case unix.RTN_UNREACHABLE:
		kr.Type = Unreachable
	case unix.RTN_BLACKHOLE:
		kr.Type = Blackhole
	default:
		kr.Type = routeOther
	}
	return kr, true
}

// rtRouteOf is the message for r; del asks for the form a delete matches
// with (any scope, no metrics).
func (o *linuxOps) rtRouteOf(r Route, del bool) (rtRoute, error) {
	m := rtRoute{
		dst:      r.Dst,
		src:      r.Src,
		gw:       r.Via,
		metric:   r.Metric,
		table:    r.Table,
		protocol: RouteProtocol,
		scope:    unix.RT_SCOPE_UNIVERSE,
	}
	m.family = unix.AF_INET6
	if r.Dst.Addr().Is4() {
		m.family = unix.AF_INET
	}
	if m.table == 0 {
		m.table = tableMain
	}
	switch r.Type {
	case Unicast:
		m.typ = unix.RTN_UNICAST
	case Unreachable:
		m.typ = unix.RTN_UNREACHABLE
	case Blackhole:
		m.typ = unix.RTN_BLACKHOLE
	default:
		m.typ = unix.RTN_UNSPEC
	}
	if r.Link != "" {
		l, err := o.link(r.Link)
		if err != nil {
			return m, err
		}
		m.oif = uint32(l.Attrs().Index)
	}
	switch {
	case del:
		m.scope = unix.RT_SCOPE_NOWHERE // iproute2's wildcard for deletes
	case r.Type == Unicast && !r.Via.IsValid() && m.family == unix.AF_INET:
		m.scope = unix.RT_SCOPE_LINK
	}
	if !del && r.MTU > 0 {
		m.mtu = uint32(r.MTU)
	}
	return m, nil
}

func (o *linuxOps) AddRoute(r Route, replace bool) error {
	m, err := o.rtRouteOf(r, false)
	if err != nil {
		return err
	}
	// EXCL matters beyond errors: without it the kernel appends an IPv6
	// route with a new gateway to the old one as a second next hop.
	flags := unix.NLM_F_CREATE | unix.NLM_F_EXCL
	if replace {
		flags = unix.NLM_F_CREATE | unix.NLM_F_REPLACE
	}
	if err := o.exec(unix.RTM_NEWROUTE, flags, encodeRoute(m)); err != nil {
		return err
	}
	o.sent = append(o.sent, sentRouteOf(unix.RTM_NEWROUTE, m))
	return nil
}

func (o *linuxOps) DelRoute(r Route) error {
	if r.Type != Unicast {
		r.Link = ""
	}
	m, err := o.rtRouteOf(r, true)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		// The key and protocol name the route well enough without it.
		r.Link = ""
		m, err = o.rtRouteOf(r, true)
	}
	if err != nil {
		return err
	}
	if err := o.exec(unix.RTM_DELROUTE, 0, encodeRoute(m)); err != nil {
		return err
	}
	o.sent = append(o.sent, sentRouteOf(unix.RTM_DELROUTE, m))
	return nil
}

func (o *linuxOps) Rules() ([]kernelRule, error) {
	var out []kernelRule
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		var list []netlink.Rule
		err := retryDump(func() (err error) {
			list, err = o.h.RuleList(fam)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			out = append(out, modelRule(r))
		}
	}
	return out, nil
}

func modelRule(r netlink.Rule) kernelRule {
	kr := kernelRule{Protocol: r.Protocol, Rule: Rule{
		Family:   IPv4,
		Table:    uint32(r.Table),
		Priority: uint32(r.Priority),
	}}
	if r.Family == netlink.FAMILY_V6 {
		kr.Family = IPv6
	}
	if r.Src != nil {
		if ip, ok := netip.AddrFromSlice(r.Src.IP); ok {
			ones, _ := r.Src.Mask.Size()
			kr.Src = netip.PrefixFrom(ip.Unmap(), ones)
		}
	}
	if kr.Table == tableMain {
		kr.Table = 0
	}
	// A rule that goes to a table always names one: table 0 is another
	// action (unreachable, goto). Priority 0 is the local table's rule.
	kr.Unmodelled = r.Table == 0 || r.Priority <= 0 || r.Dst != nil || r.Mark != 0 || r.Mask != nil ||
		r.Tos != 0 || r.TunID != 0 || r.Goto >= 0 || r.Flow >= 0 || r.IifName != "" || r.OifName != "" ||
		r.SuppressIfgroup >= 0 || r.SuppressPrefixlen >= 0 || r.Invert || r.Dport != nil ||
		r.Sport != nil || r.IPProto != 0 || r.UIDRange != nil
	return kr
}

func (o *linuxOps) netlinkRule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.Family == IPv6 {
		nr.Family = netlink.FAMILY_V6
	}
	if r.Src.IsValid() {
		nr.Src = &net.IPNet{
			IP:   r.Src.Addr().AsSlice(),
			Mask: net.CIDRMask(r.Src.Bits(), r.Src.Addr().BitLen()),
		}
	}
	nr.Table = int(r.Table)
	if r.Table == 0 {
		nr.Table = tableMain
	}
	nr.Priority = int(r.Priority)
	// The kernel matches a delete on the protocol too, so a foreign rule
	// with the same fields is never the one removed.
	nr.Protocol = RouteProtocol
	return nr
}

func (o *linuxOps) AddRule(r Rule) error { return o.h.RuleAdd(o.netlinkRule(r)) }

func (o *linuxOps) DelRule(r Rule) error { return o.h.RuleDel(o.netlinkRule(r)) }

// retryDump repeats a dump the kernel interrupted because the table changed
// under it; its result would be inconsistent.
func retryDump(f func() error) error {
	var err error
	for range 3 {
		if err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

const procSys = "/proc/sys/"

func (o *linuxOps) ReadSysctl(path string) (string, error) {
	var v string
	err := o.inNetns(func() error {
		b, err := os.ReadFile(procSys + path)
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

func (o *linuxOps) WriteSysctl(path, value string) error {
	return o.inNetns(func() error {
		f, err := os.OpenFile(procSys+path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(value)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// inNetns runs f on a thread in the Applier's namespace: /proc/sys/net shows
// the namespace of the thread that opens it.
func (o *linuxOps) inNetns(f func() error) error {
	if !o.ns.IsOpen() {
		return f()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(o.ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter netns: %w", err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// The thread stays locked, so the runtime ends it with this
			// goroutine instead of reusing it in the wrong namespace.
			done <- errors.Join(ferr, fmt.Errorf("leave netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
