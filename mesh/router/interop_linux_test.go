package router

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cpe/internal/lab"
	"cpe/mesh/babel"
)

// The interop lab: our router in "cpe", babeld in "babeld", BIRD in
// "bird", in a triangle:
//
//	cpe mesh0 ── eth0 babeld eth1 ── eth0 bird
//	cpe mesh1 ─────────────────────── eth1 bird (rxcost 500)
//
// babeld redistributes 2001:db8:bb::/48, a source-specific default from
// it and 10.20.0.0/24; BIRD originates 2001:db8:c::/64; we announce
// 2001:db8:a::/64, a source-specific default from 2001:db8:a::/48 and
// 10.10.0.0/24 (v4-via-v6). All links are wired, with 1 s Hellos.

const (
	goodSecret = "0123456789abcdef0123456789abcdef"
	badSecret  = "fedcba9876543210fedcba9876543210"
	babeldPort = 33123
)

type interopLab struct {
	t        *testing.T
	cpe      *lab.Netns
	babeld   *lab.Netns
	bird     *lab.Netns
	birdSock string
	r        *Router
}

func startInterop(t *testing.T, ourSecret, theirSecret string) *interopLab {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "babeld", "bird", "birdc")
	l := lab.New(t)
	x := &interopLab{t: t, cpe: l.Netns("cpe"), babeld: l.Netns("babeld"), bird: l.Netns("bird")}
	l.Veth(x.cpe, "mesh0", x.babeld, "eth0")
	l.Veth(x.babeld, "eth1", x.bird, "eth0")
	l.Veth(x.cpe, "mesh1", x.bird, "eth1")
	dir := t.TempDir()

	// babeld.
	x.babeld.Run("ip", "-6", "route", "add", "unreachable", "2001:db8:bb::/48", "proto", "static")
	x.babeld.Run("ip", "-6", "route", "add", "unreachable", "::/0", "from", "2001:db8:bb::/48", "proto", "static")
	x.babeld.Run("ip", "route", "add", "unreachable", "10.20.0.0/24", "proto", "static")
	conf := []string{
		"default hello-interval 1",
		"default update-interval 4",
		"redistribute ip 2001:db8:bb::/48 allow",
		"redistribute ip ::/0 src-ip 2001:db8:bb::/48 allow",
		"redistribute ip 10.20.0.0/24 allow",
		"redistribute local deny",
	}
	keyOpt := ""
	if theirSecret != "" {
		conf = append(conf, "key id k1 type hmac-sha256 value "+hex.EncodeToString([]byte(theirSecret)))
		keyOpt = " key k1"
	}
	conf = append(conf, "interface eth0"+keyOpt, "interface eth1"+keyOpt)
	bconf := filepath.Join(dir, "babeld.conf")
	if err := os.WriteFile(bconf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x.babeld.Start("babeld", "-d", "0", "-I", filepath.Join(dir, "babeld.pid"), "-S", filepath.Join(dir, "babeld.state"),
		"-g", strconv.Itoa(babeldPort), "-c", bconf, "eth0", "eth1")

	// BIRD.
	auth := ""
	if theirSecret != "" {
		auth = fmt.Sprintf("authentication mac; password %q { algorithm hmac sha256; };", theirSecret)
	}
	birdConf := fmt.Sprintf(`router id 10.0.0.3;
protocol device { scan time 1; }
protocol static { ipv6; route 2001:db8:c::/64 unreachable; }
protocol babel {
  interface "eth0" { type wired; hello interval 1 s; update interval 4 s; %s };
  interface "eth1" { type wired; rxcost 500; hello interval 1 s; update interval 4 s; %s };
  ipv6 { import all; export all; };
}
`, auth, auth)
	cf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cf, []byte(birdConf), 0o644); err != nil {
		t.Fatal(err)
	}
	x.birdSock = filepath.Join(dir, "bird.ctl")
	x.bird.Start("bird", "-f", "-c", cf, "-s", x.birdSock, "-P", filepath.Join(dir, "bird.pid"))

	// Us.
	var keys []babel.Key
	if ourSecret != "" {
		keys = []babel.Key{{ID: "k1", Secret: []byte(ourSecret)}}
	}
	var ln Net
	if err := x.cpe.Do(func() (err error) {
		ln, err = ListenLinux([]string{"mesh0", "mesh1"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ifo := func(name string) babel.Interface {
		return babel.Interface{Name: name, Type: babel.Wired, HelloInterval: time.Second, UpdateInterval: 4 * time.Second, Keys: keys}
	}
	r, err := New(Config{
		Options: babel.Options{
			Interfaces: []babel.Interface{ifo("mesh0"), ifo("mesh1")},
			Announce: []babel.Announcement{
				{Prefix: netip.MustParsePrefix("2001:db8:a::/64")},
				{Prefix: netip.MustParsePrefix("::/0"), Source: netip.MustParsePrefix("2001:db8:a::/48")},
				{Prefix: netip.MustParsePrefix("10.10.0.0/24")},
			},
		},
		Net: ln,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	x.r = r
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return x
}

// babeldRoutes asks babeld's local interface for its routes: one line
// per route, as "prefix from source metric N via ADDR installed yes|no".
func (x *interopLab) babeldRoutes() ([]string, error) {
	lines, err := x.babeld.BabeldDump(babeldPort)
	var out []string
	for _, f := range lines {
		if f[1] != "route" {
			continue
		}
		kv := lab.BabeldAttrs(f)
		out = append(out, fmt.Sprintf("%s from %s metric %s via %s installed %s",
			kv["prefix"], kv["from"], kv["metric"], kv["via"], kv["installed"]))
	}
	return out, err
}

// birdc runs a BIRD command and returns what it printed; birdc fails
// for "not found", which is an answer too.
func (x *interopLab) birdc(args ...string) string {
	out, _ := x.bird.Exec(append([]string{"birdc", "-s", x.birdSock}, args...)...)
	return out
}

func (x *interopLab) linkLocal(n *lab.Netns, dev string) netip.Addr {
	x.t.Helper()
	for _, f := range strings.Fields(n.Run("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link")) {
		if p, err := netip.ParsePrefix(f); err == nil {
			return p.Addr()
		}
	}
	x.t.Fatalf("no link-local address on %s", dev)
	return netip.Addr{}
}

// eventually polls cond until it holds or the time is up; these peers run
// on real time.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			t.Logf("%s: after %v", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last state:\n%s", what, within, state)
		}
		<-tick.C
	}
}

// ourRoute finds our selected route to (prefix, src) with its metric and
// next hop.
func (x *interopLab) ourRoute(prefix, src string) (babel.RouteInfo, bool) {
	for _, r := range x.r.Routes() {
		if r.Prefix.String() == prefix && (src == "" && !r.Source.IsValid() || r.Source.String() == src) && r.Selected && !r.Own {
			return r, true
		}
	}
	return babel.RouteInfo{}, false
}

func (x *interopLab) dumpOurs() string {
	var b strings.Builder
	for _, r := range x.r.Routes() {
		fmt.Fprintf(&b, "%v from %v metric %d via %v on %s selected %v\n", r.Prefix, r.Source, r.Metric, r.NextHop, r.Interface, r.Selected)
	}
	for _, n := range x.r.Neighbours() {
		fmt.Fprintf(&b, "neighbour %+v\n", n)
	}
	fmt.Fprintf(&b, "counters %+v\n", x.r.Counters())
	return b.String()
}

// TestInterop: routes flow between our router, babeld and BIRD with the
// metrics each hop adds, source-specific and v4-via-v6 routes with babeld
// included, unsigned and with HMAC-SHA256.
func TestInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a lab test of many seconds")
	}
	for _, tc := range []struct{ name, secret string }{{"plain", ""}, {"hmac", goodSecret}} {
		t.Run(tc.name, func(t *testing.T) {
			x := startInterop(t, tc.secret, tc.secret)
			babeldLL := x.linkLocal(x.babeld, "eth0")
			ourLL := x.linkLocal(x.cpe, "mesh0")
			ourLL1 := x.linkLocal(x.cpe, "mesh1")

			// What we learn: babeld's routes at one hop (96), BIRD's
			// through babeld (192) rather than over the direct link, for
			// which BIRD reports an rxcost of 500.
			for _, want := range []struct {
				prefix, src string
				metric      uint16
			}{
				{"2001:db8:bb::/48", "", 96},
				{"::/0", "2001:db8:bb::/48", 96},
				{"10.20.0.0/24", "", 96},
				{"2001:db8:c::/64", "", 192},
			} {
				// A better route that comes later must wait for its smoothed metric
				// (4 s half-life from 32767) before it replaces the direct one.
				eventually(t, 60*time.Second, "our route to "+want.prefix+" from "+want.src, func() (bool, string) {
					r, ok := x.ourRoute(want.prefix, want.src)
					return ok && r.Metric == want.metric && r.NextHop == babeldLL && r.Interface == "mesh0", x.dumpOurs()
				})
			}
			eventually(t, 10*time.Second, "the direct route from BIRD", func() (bool, string) {
				for _, r := range x.r.Routes() {
					if r.Prefix.String() == "2001:db8:c::/64" && r.Interface == "mesh1" && r.Metric == 500 && !r.Selected {
						return true, ""
					}
				}
				return false, x.dumpOurs()
			})
			if r, _ := x.ourRoute("10.20.0.0/24", ""); !r.V4ViaV6 {
				t.Errorf("babeld's IPv4 route did not come as v4-via-v6: %+v", r)
			}

			// What babeld learns from us: one hop. babeld may first hear
			// our prefix through BIRD (192) and, smoothing as it does,
			// take tens of seconds to switch to the direct route.
			for _, want := range []string{
				"2001:db8:a::/64 from ::/0 metric 96 via " + ourLL.String() + " installed yes",
				"::/0 from 2001:db8:a::/48 metric 96 via " + ourLL.String() + " installed yes",
				"10.10.0.0/24 from 0.0.0.0/0 metric 96 via " + ourLL.String() + " installed yes",
			} {
				eventually(t, 60*time.Second, "babeld's route "+want, func() (bool, string) {
					rs, err := x.babeldRoutes()
					for _, r := range rs {
						if r == want {
							return true, ""
						}
					}
					return false, fmt.Sprintf("%v\n%s", err, strings.Join(rs, "\n"))
				})
			}
			// And the kernel got babeld's source-specific route.
			if out := x.babeld.Run("ip", "-6", "route", "show", "from", "2001:db8:a::/48"); !strings.Contains(out, "via "+ourLL.String()) {
				t.Errorf("babeld did not install the source-specific default: %q", out)
			}

			// What BIRD learns from us, over the direct link: 96.
			eventually(t, 60*time.Second, "BIRD's route to us", func() (bool, string) {
				out := x.birdc("show", "route", "2001:db8:a::/64", "all")
				return strings.Contains(out, "Babel.metric: 96") && strings.Contains(out, "via "+ourLL1.String()), out
			})
			if tc.secret != "" {
				out := x.birdc("show", "babel", "neighbors")
				if !strings.Contains(out, ourLL1.String()) || !strings.Contains(out, "Yes") {
					t.Errorf("BIRD does not list us as authenticated:\n%s", out)
				}
				for _, n := range x.r.Neighbours() {
					if !n.Authenticated {
						t.Errorf("neighbour not authenticated: %+v", n)
					}
				}
				if c := x.r.Counters(); c.Dropped[babel.DropBadMAC] != 0 || c.Dropped[babel.DropUnsigned] != 0 {
					t.Errorf("dropped %v with matching keys", c.Dropped)
				}
			}
		})
	}
}

// TestInteropWrongKey: with a key that differs from babeld's and BIRD's,
// neither side accepts the other, while babeld and BIRD, whose keys
// match, still exchange routes.
func TestInteropWrongKey(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a lab test of many seconds")
	}
	x := startInterop(t, badSecret, goodSecret)
	// babeld and BIRD talk: BIRD has babeld's prefix.
	eventually(t, 20*time.Second, "BIRD's route to babeld", func() (bool, string) {
		out := x.birdc("show", "route", "2001:db8:bb::/48", "all")
		return strings.Contains(out, "Babel.metric: 96"), out
	})
	// Several Hellos later, nothing of ours anywhere, nothing of theirs
	// here, and our drops counted.
	eventually(t, 10*time.Second, "bad MACs counted from both peers", func() (bool, string) {
		c := x.r.Counters()
		return c.Dropped[babel.DropBadMAC] >= 10, x.dumpOurs()
	})
	if ns := x.r.Neighbours(); len(ns) != 0 {
		t.Errorf("neighbours with a wrong key: %+v", ns)
	}
	for _, r := range x.r.Routes() {
		if !r.Own {
			t.Errorf("route learned with a wrong key: %+v", r)
		}
	}
	rs, err := x.babeldRoutes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if strings.HasPrefix(r, "2001:db8:a::/64") || strings.Contains(r, "2001:db8:a::/48") {
			t.Errorf("babeld accepted our route: %s", r)
		}
	}
	if out := x.birdc("show", "route", "2001:db8:a::/64"); strings.Contains(out, "2001:db8:a::/64") {
		t.Errorf("BIRD accepted our route:\n%s", out)
	}
	if out := x.birdc("show", "babel", "neighbors"); strings.Contains(out, x.linkLocal(x.cpe, "mesh1").String()) {
		t.Errorf("BIRD lists us as a neighbour:\n%s", out)
	}
}
