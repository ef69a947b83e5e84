package router

import (
	"context"
	"cpe/internal/leaktest"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"cpe/cpe/config"
	"cpe/internal/clock"
	"cpe/mesh/babel"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// hub is a link joining fake networks: multicast goes to everyone else,
// unicast to the owner of the address.
type hub struct {
	mu      sync.Mutex
	members []*fakeNet
}

type packet struct {
	data     []byte
	src, dst netip.AddrPort
}

type fakeNet struct {
	hub    *hub
	ifname string
	ll     netip.Addr
	in     chan packet
	links  chan LinkEvent
	closed chan struct{}
	once   sync.Once
}

func (h *hub) join(ifname string, ll netip.Addr) *fakeNet {
	n := &fakeNet{hub: h, ifname: ifname, ll: ll, in: make(chan packet, 256),
		links: make(chan LinkEvent, 4), closed: make(chan struct{})}
	n.links <- LinkEvent{Interface: ifname, Up: true, LinkLocal: ll}
	h.mu.Lock()
	h.members = append(h.members, n)
	h.mu.Unlock()
	return n
}

func (n *fakeNet) ReadFrom(b []byte) (int, string, netip.AddrPort, netip.AddrPort, error) {
	select {
	case p := <-n.in:
		return copy(b, p.data), n.ifname, p.src, p.dst, nil
	case <-n.closed:
		return 0, "", netip.AddrPort{}, netip.AddrPort{}, errors.New("closed")
	}
}

func (n *fakeNet) WriteTo(b []byte, ifname string, dst netip.Addr) error {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	for _, m := range n.hub.members {
		if m == n || (dst != babel.MulticastGroup && dst != m.ll) {
			continue
		}
		select {
		case m.in <- packet{append([]byte(nil), b...), netip.AddrPortFrom(n.ll, babel.Port), netip.AddrPortFrom(dst, babel.Port)}:
		default:
		}
	}
	return nil
}

func (n *fakeNet) Links() <-chan LinkEvent { return n.links }

func (n *fakeNet) Close() error {
	n.once.Do(func() {
		close(n.closed)
		close(n.links)
	})
	return nil
}

// TestRouter runs two routers over a fake link with a fake clock: they
// learn each other's prefix, save their state before sending, publish
// their routes, react to LinkDown at once, and leave no goroutine behind.
func TestRouter(t *testing.T) {
	checkLeaks(t)
	c := clock.NewFake(t0)
	h := &hub{}
	type box struct {
		r      *Router
		saved  chan babel.State
		routes chan []babel.InstalledRoute
	}
	mk := func(name string, ll string, prefix string) *box {
		b := &box{saved: make(chan babel.State, 100), routes: make(chan []babel.InstalledRoute, 100)}
		r, err := New(Config{
			Options: babel.Options{
				Interfaces: []babel.Interface{{Name: "mesh0", Type: babel.Wired}},
				Announce:   []babel.Announcement{{Prefix: netip.MustParsePrefix(prefix)}},
			},
			Net:   h.join("mesh0", netip.MustParseAddr(ll)),
			Clock: c,
			SaveState: func(s babel.State) error {
				select {
				case b.saved <- s:
				default:
				}
				return nil
			},
			Routes: func(rs []babel.InstalledRoute) {
				select {
				case b.routes <- rs:
				default:
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		b.r = r
		return b
	}
	a := mk("a", "fe80::a", "2001:db8:a::/64")
	b := mk("b", "fe80::b", "2001:db8:b::/64")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, x := range []*box{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x.r.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	select {
	case st := <-a.saved:
		if st != a.r.State() {
			t.Errorf("saved %+v, engine has %+v", st, a.r.State())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("state never saved")
	}

	// Step the fake clock until b has a's prefix.
	want := netip.MustParsePrefix("2001:db8:a::/64")
	learned := func(rs []babel.InstalledRoute) bool {
		for _, r := range rs {
			if r.Prefix == want && !r.Unreachable && r.Metric == 96 && r.Via == netip.MustParseAddr("fe80::a") {
				return true
			}
		}
		return false
	}
	deadline := time.After(10 * time.Second)
	for !learned(b.r.Installed()) {
		select {
		case <-deadline:
			t.Fatalf("b never learned a's prefix: %+v", b.r.Routes())
		case <-b.routes:
		default:
			if err := c.BlockUntil(ctx, 2); err != nil {
				t.Fatal(err)
			}
			c.Advance(250 * time.Millisecond)
			runtime.Gosched()
		}
	}
	if n := b.r.Neighbours(); len(n) != 1 || n[0].Cost != 96 {
		t.Errorf("neighbours %+v", n)
	}

	// The kernel says the link is gone: the route goes at once, held
	// unreachable, before any timer runs.
	b.r.LinkDown("mesh0")
	for _, r := range b.r.Installed() {
		if r.Prefix == want && !r.Unreachable {
			t.Errorf("route still usable after LinkDown: %+v", r)
		}
	}
	if ifs := b.r.Interfaces(); len(ifs) != 1 || ifs[0].Up {
		t.Errorf("interfaces %+v", ifs)
	}
}

func TestOptionsFromConfig(t *testing.T) {
	c := config.Mesh{
		RouterID: config.RouterID{2, 0, 0, 0, 0, 0, 0, 1},
		Interfaces: []config.MeshIf{
			{Interface: "mesh0", Type: "wireless", HelloInterval: config.Duration(2 * time.Second), UpdateInterval: config.Duration(8 * time.Second)},
			{Interface: "eth1", Type: "wired", Cost: 200},
		},
		Keys: []config.MeshKey{{ID: "k1", Secret: strings.Repeat("ab", 32)}},
	}
	o, err := Options(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.RouterID != (babel.RouterID{2, 0, 0, 0, 0, 0, 0, 1}) || len(o.Interfaces) != 2 {
		t.Fatalf("%+v", o)
	}
	w, e := o.Interfaces[0], o.Interfaces[1]
	if w.Type != babel.Wireless || w.HelloInterval != 2*time.Second || w.UpdateInterval != 8*time.Second || w.RxCost != 0 {
		t.Errorf("wireless %+v", w)
	}
	if e.Type != babel.Wired || e.RxCost != 200 || len(e.Keys) != 1 || len(e.Keys[0].Secret) != 32 || e.Keys[0].Secret[0] != 0xab {
		t.Errorf("wired %+v", e)
	}
	if _, err := babel.New(o, t0); err != nil {
		t.Errorf("engine refuses the options: %v", err)
	}
	c.Keys[0].Secret = "zz"
	if _, err := Options(c); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestStateFile(t *testing.T) {
	path := t.TempDir() + "/babel.json"
	st, err := LoadState(path)
	if err != nil || st != (babel.State{}) {
		t.Fatalf("missing file: %+v %v", st, err)
	}
	want := babel.State{RouterID: babel.RouterID{1, 2, 3, 4, 5, 6, 7, 8}, Seqno: 4242}
	if err := StateSaver(path)(want); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadState(path); err != nil || got != want {
		t.Errorf("got %+v %v", got, err)
	}
}

func checkLeaks(t *testing.T) { leaktest.Check(t) }
