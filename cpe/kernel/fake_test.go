package kernel

import (
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"
)

// fakeOps is a kernel in memory that behaves like the real one where the
// Applier depends on it (EEXIST on a second add, deletes matched by key and
// protocol, lifetimes counting down) and records every change asked of it,
// as iproute2-like lines.
type fakeOps struct {
	now     func() time.Time
	links   map[string]*Link
	addrs   map[addrKey]fakeAddr
	routes  []kernelRoute
	rules   []kernelRule
	sysctls map[string]string

	log     []string
	fail    map[string]error // calls starting with the key fail with its error
	readErr map[string]error // "links", "addrs", "routes", "rules", "sysctls"
	closed  bool

	// quiet makes Changed report only touch, as a kernel whose
	// notifications are heard would; otherwise it always says changed.
	quiet, touched bool
	reads          int // Addrs, Routes and Rules calls
}

func (f *fakeOps) Changed() bool {
	if !f.quiet {
		return true
	}
	c := f.touched
	f.touched = false
	return c
}

func (f *fakeOps) Heard() <-chan struct{} { return nil }

type fakeAddr struct {
	kernelAddr
	setAt time.Time
}

func newFakeOps(now func() time.Time) *fakeOps {
	return &fakeOps{
		now:     now,
		links:   map[string]*Link{},
		addrs:   map[addrKey]fakeAddr{},
		sysctls: map[string]string{},
		fail:    map[string]error{},
		readErr: map[string]error{},
	}
}

func (f *fakeOps) addLink(name string, up bool, mtu int) {
	f.links[name] = &Link{Name: name, Up: up, MTU: mtu}
	f.sysctls["net/ipv6/conf/"+name+"/accept_ra"] = "1"
	f.sysctls["net/ipv6/conf/"+name+"/forwarding"] = "0"
}

// call records a change and returns the error injected for it, if any.
func (f *fakeOps) call(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	for prefix, err := range f.fail {
		if strings.HasPrefix(line, prefix) {
			f.log = append(f.log, line+" -> "+err.Error())
			return err
		}
	}
	f.log = append(f.log, line)
	return nil
}

// takeLog returns the calls since the last takeLog.
func (f *fakeOps) takeLog() []string {
	l := f.log
	f.log = nil
	return l
}

// Virtual records the virtual links asked for; the Applier's handling of
// them is tested against a real kernel (virtual_linux_test.go).
func (f *fakeOps) Virtual(want []VirtualLink) ([]string, error) {
	for _, v := range want {
		if _, ok := f.links[v.Name]; !ok {
			f.links[v.Name] = &Link{Name: v.Name}
			f.log = append(f.log, "create "+v.Kind.String()+" "+v.Name)
		}
	}
	return nil, nil
}

func (f *fakeOps) Link(name string) (Link, error) {
	if err := f.readErr["links"]; err != nil {
		return Link{}, err
	}
	l, ok := f.links[name]
	if !ok {
		return Link{}, fmt.Errorf("link %s: not found", name)
	}
	return *l, nil
}

func (f *fakeOps) SetLinkMTU(name string, mtu int) error {
	l, ok := f.links[name]
	if !ok {
		return syscall.ENODEV
	}
	if err := f.call("link %s mtu %d", name, mtu); err != nil {
		return err
	}
	l.MTU = mtu
	return nil
}

func (f *fakeOps) SetLinkUp(name string, up bool) error {
	l, ok := f.links[name]
	if !ok {
		return syscall.ENODEV
	}
	state := "down"
	if up {
		state = "up"
	}
	if err := f.call("link %s %s", name, state); err != nil {
		return err
	}
	l.Up = up
	return nil
}

func fakeAddrKey(a kernelAddr) addrKey {
	return keyOfAddress(Address{Link: a.Link, Prefix: a.Prefix})
}

// left is what the kernel reports of a lifetime set at setAt.
func left(lft uint32, setAt, now time.Time) uint32 {
	if lft == lifetimeForever {
		return lft
	}
	gone := uint32(now.Sub(setAt) / time.Second)
	if gone >= lft {
		return 0
	}
	return lft - gone
}

func (f *fakeOps) Addrs(links []string) ([]kernelAddr, error) {
	f.reads++
	if err := f.readErr["addrs"]; err != nil {
		return nil, err
	}
	var out []kernelAddr
	for k, a := range f.addrs {
		if !slices.Contains(links, a.Link) {
			continue
		}
		ka := a.kernelAddr
		ka.Preferred = left(ka.Preferred, a.setAt, f.now())
		ka.Valid = left(ka.Valid, a.setAt, f.now())
		if ka.Valid == 0 {
			delete(f.addrs, k) // the kernel's own expiry
			continue
		}
		out = append(out, ka)
	}
	// The kernel's order is not the Applier's: shuffle-free but reversed.
	slices.SortFunc(out, func(a, b kernelAddr) int { return -comparePrefixes(a.Prefix, b.Prefix) })
	return out, nil
}

func lft(s uint32) string {
	if s == lifetimeForever {
		return "forever"
	}
	return fmt.Sprint(s)
}

func (a kernelAddr) String() string {
	s := fmt.Sprintf("%s dev %s preferred %s valid %s", a.Prefix, a.Link, lft(a.Preferred), lft(a.Valid))
	if a.NoPrefixRoute {
		s += " noprefixroute"
	}
	return s
}

func (f *fakeOps) AddAddr(a kernelAddr, replace bool) error {
	if _, ok := f.links[a.Link]; !ok {
		return syscall.ENODEV
	}
	k := fakeAddrKey(a)
	_, exists := f.addrs[k]
	verb := "add"
	if replace {
		verb = "replace"
	}
	if exists && !replace {
		return syscall.EEXIST
	}
	if a.Preferred > a.Valid {
		return syscall.EINVAL
	}
	if err := f.call("addr %s %s", verb, a); err != nil {
		return err
	}
	f.addrs[k] = fakeAddr{a, f.now()}
	return nil
}

func (f *fakeOps) DelAddr(a kernelAddr) error {
	k := fakeAddrKey(a)
	got, ok := f.addrs[k]
	if !ok || got.Prefix != a.Prefix {
		return syscall.EADDRNOTAVAIL
	}
	if err := f.call("addr del %s dev %s", a.Prefix, a.Link); err != nil {
		return err
	}
	delete(f.addrs, k)
	return nil
}

func (f *fakeOps) Routes() ([]kernelRoute, error) {
	f.reads++
	if err := f.readErr["routes"]; err != nil {
		return nil, err
	}
	return slices.Clone(f.routes), nil
}

func (f *fakeOps) findRoute(r Route, proto int) int {
	return slices.IndexFunc(f.routes, func(kr kernelRoute) bool {
		return keyOfRoute(kr.Route) == keyOfRoute(r) && (proto < 0 || int(kr.Protocol) == proto)
	})
}

func (f *fakeOps) AddRoute(r Route, replace bool) error {
	if r.Type == Unicast && f.links[r.Link] == nil {
		return syscall.ENODEV
	}
	i := f.findRoute(r, -1)
	switch {
	case i >= 0 && !replace:
		return syscall.EEXIST
	case replace:
		if err := f.call("route replace %s", r.text()); err != nil {
			return err
		}
	default:
		if err := f.call("route add %s", r.text()); err != nil {
			return err
		}
	}
	kr := kernelRoute{r, RouteProtocol}
	if i >= 0 {
		f.routes[i] = kr
	} else {
		f.routes = append(f.routes, kr)
	}
	return nil
}

func (f *fakeOps) DelRoute(r Route) error {
	i := f.findRoute(r, RouteProtocol)
	if i < 0 {
		return syscall.ESRCH
	}
	if err := f.call("route del %s", r.text()); err != nil {
		return err
	}
	f.routes = slices.Delete(f.routes, i, i+1)
	return nil
}

func (f *fakeOps) Rules() ([]kernelRule, error) {
	f.reads++
	if err := f.readErr["rules"]; err != nil {
		return nil, err
	}
	return slices.Clone(f.rules), nil
}

func (f *fakeOps) AddRule(r Rule) error {
	kr := kernelRule{Rule: r, Protocol: RouteProtocol}
	if slices.Contains(f.rules, kr) {
		return syscall.EEXIST
	}
	if err := f.call("rule add %s", r.text()); err != nil {
		return err
	}
	f.rules = append(f.rules, kr)
	return nil
}

func (f *fakeOps) DelRule(r Rule) error {
	i := slices.Index(f.rules, kernelRule{Rule: r, Protocol: RouteProtocol})
	if i < 0 {
		return syscall.ENOENT
	}
	if err := f.call("rule del %s", r.text()); err != nil {
		return err
	}
	f.rules = slices.Delete(f.rules, i, i+1)
	return nil
}

func (f *fakeOps) ReadSysctl(path string) (string, error) {
	if err := f.readErr["sysctls"]; err != nil {
		return "", err
	}
	v, ok := f.sysctls[path]
	if !ok {
		return "", &fs.PathError{Op: "open", Path: "/proc/sys/" + path, Err: fs.ErrNotExist}
	}
	return v, nil
}

func (f *fakeOps) WriteSysctl(path, value string) error {
	if _, ok := f.sysctls[path]; !ok {
		return &fs.PathError{Op: "open", Path: "/proc/sys/" + path, Err: fs.ErrNotExist}
	}
	if err := f.call("sysctl %s=%s", path, value); err != nil {
		return err
	}
	f.sysctls[path] = value
	return nil
}

func (f *fakeOps) Close() error {
	f.closed = true
	return nil
}

// state lists everything in the fake kernel, foreign entries included, one
// sorted line each, for comparing whole states between steps.
func (f *fakeOps) state() []string {
	var out []string
	for _, l := range f.links {
		out = append(out, fmt.Sprintf("link %s up=%v mtu %d", l.Name, l.Up, l.MTU))
	}
	for _, a := range f.addrs {
		out = append(out, "addr "+a.kernelAddr.String())
	}
	for _, r := range f.routes {
		out = append(out, fmt.Sprintf("route %s proto %d", r.text(), r.Protocol))
	}
	for _, r := range f.rules {
		out = append(out, fmt.Sprintf("rule %s proto %d", r.text(), r.Protocol))
	}
	for p, v := range f.sysctls {
		out = append(out, "sysctl "+p+"="+v)
	}
	slices.Sort(out)
	return out
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
