package wifi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mdwifi "github.com/mdlayher/wifi"

	"cpe/internal/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeRadio is a kernel with radios, wireless interfaces and the stations
// of one mesh point; it records what was asked of it.
type fakeRadio struct {
	mu       sync.Mutex
	phys     []*mdwifi.PHY
	ifis     []*mdwifi.Interface
	stations []Station
	calls    []string
	joinErrs []error // returned by the next JoinMesh calls, in turn
	watchErr error   // returned by the next WatchPeers at once
	watches  int
	closed   bool
	events   chan PeerEvent
}

func newFakeRadio(phys ...string) *fakeRadio {
	f := &fakeRadio{events: make(chan PeerEvent)}
	for i, name := range phys {
		f.phys = append(f.phys, &mdwifi.PHY{Index: i, Name: name})
	}
	return f
}

func (f *fakeRadio) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeRadio) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slicesClone(f.calls)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func (f *fakeRadio) iface(ifindex int) *mdwifi.Interface {
	for _, i := range f.ifis {
		if i.Index == ifindex {
			return i
		}
	}
	return nil
}

// set changes the interface ifindex as the kernel would (wpa_supplicant
// joining, the interface going down).
func (f *fakeRadio) set(ifindex int, change func(*mdwifi.Interface)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.iface(ifindex))
}

func (f *fakeRadio) setStations(sts ...Station) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stations = sts
}

func (f *fakeRadio) PHYs() ([]*mdwifi.PHY, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.phys, nil
}

func (f *fakeRadio) Interfaces() ([]*mdwifi.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*mdwifi.Interface
	for _, i := range f.ifis {
		c := *i
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeRadio) CreateMeshPoint(phy int, name string) (*mdwifi.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("create %s on %d", name, phy)
	i := &mdwifi.Interface{Index: 10 + len(f.ifis), Name: name, PHY: phy, Type: mdwifi.InterfaceTypeMeshPoint,
		HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(phy)}}
	f.ifis = append(f.ifis, i)
	c := *i
	return &c, nil
}

func (f *fakeRadio) DeleteInterface(ifindex int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("delete %d", ifindex)
	for n, i := range f.ifis {
		if i.Index == ifindex {
			f.ifis = append(f.ifis[:n], f.ifis[n+1:]...)
			return nil
		}
	}
	return errors.New("no such interface")
}

func (f *fakeRadio) JoinMesh(ifindex int, m Mesh) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("join %d %+v", ifindex, m)
	if len(f.joinErrs) > 0 {
		err := f.joinErrs[0]
		f.joinErrs = f.joinErrs[1:]
		if err != nil {
			return err
		}
	}
	f.iface(ifindex).Frequency, _ = Frequency(m.Channel)
	return nil
}

func (f *fakeRadio) SetMeshConfig(ifindex int, c MeshConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("set config %d %+v", ifindex, c)
	if f.iface(ifindex).Frequency == 0 {
		return ErrNotJoined
	}
	return nil
}

func (f *fakeRadio) LeaveMesh(ifindex int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("leave %d", ifindex)
	if i := f.iface(ifindex); i != nil {
		i.Frequency = 0
	}
	return nil
}

func (f *fakeRadio) Stations(int) ([]Station, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Station(nil), f.stations...), nil
}

func (f *fakeRadio) WatchPeers(ctx context.Context, ifindex int, events chan<- PeerEvent) error {
	f.mu.Lock()
	f.watches++
	err := f.watchErr
	f.watchErr = nil
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		select {
		case ev := <-f.events:
			select {
			case events <- ev:
			case <-ctx.Done():
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func (f *fakeRadio) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// callbacks collects what a Link reports.
type callbacks struct {
	mu    sync.Mutex
	costs []string
	gone  chan string
}

func newCallbacks() *callbacks { return &callbacks{gone: make(chan string, 16)} }

func (c *callbacks) onCost(mac net.HardwareAddr, cost int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.costs = append(c.costs, fmt.Sprintf("%s %d", mac, cost))
}

func (c *callbacks) onGone(mac net.HardwareAddr) { c.gone <- mac.String() }

// takeCosts returns the costs reported since the last call.
func (c *callbacks) takeCosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.costs
	c.costs = nil
	return out
}

// takeGone returns the peers reported gone so far, without waiting.
func (c *callbacks) takeGone() []string {
	var out []string
	for {
		select {
		case m := <-c.gone:
			out = append(out, m)
		default:
			return out
		}
	}
}

// harness runs a Link on a fakeRadio and a fake clock.
type harness struct {
	t      *testing.T
	radio  *fakeRadio
	clk    *clock.Fake
	cb     *callbacks
	link   *Link
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
}

func startLink(t *testing.T, fake *fakeRadio, cfg Config, run func(context.Context, *exec.Cmd) error) *harness {
	t.Helper()
	checkLeaks(t)
	h := &harness{t: t, radio: fake, clk: clock.NewFake(t0), cb: newCallbacks(), done: make(chan error, 1)}
	cfg.Clock, cfg.OnCost, cfg.OnPeerGone = h.clk, h.cb.onCost, h.cb.onGone
	if cfg.Interface == "" {
		cfg.Interface = "mesh0"
	}
	if cfg.MeshID == "" {
		cfg.MeshID, cfg.Channel = "cpe-mesh", 6
	}
	l, err := newLink(cfg, func() (radio, error) { return fake, nil }, run)
	if err != nil {
		t.Fatal(err)
	}
	h.link = l
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go func() { h.done <- l.Run(h.ctx) }()
	t.Cleanup(func() {
		h.cancel()
		<-h.done
	})
	h.settle()
	return h
}

// settle waits until Run has armed its poll timer: the poll before it is
// over. It fails the test if Run returned instead.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	blocked := make(chan error, 1)
	go func() { blocked <- h.clk.BlockUntil(ctx, 1) }()
	select {
	case err := <-blocked:
		if err != nil {
			h.t.Fatalf("Link did not arm its poll timer: %v", err)
		}
	case err := <-h.done:
		h.done <- err
		cancel()
		<-blocked
		h.t.Fatalf("Run returned %v", err)
	}
}

// poll moves the clock to the next poll and waits until it is done.
func (h *harness) poll() {
	h.t.Helper()
	h.clk.Advance(DefaultPollInterval)
	h.settle()
}

// stop cancels Run and returns what it returned.
func (h *harness) stop() error {
	h.cancel()
	err := <-h.done
	h.done <- err
	return err
}

// waitGone waits for OnPeerGone, which events call outside any poll.
func (h *harness) waitGone() string {
	h.t.Helper()
	select {
	case m := <-h.cb.gone:
		return m
	case <-time.After(10 * time.Second):
		h.t.Fatal("no peer reported gone")
		return ""
	}
}

func noProcess(context.Context, *exec.Cmd) error { return errors.New("no process expected") }

func TestLinkOpenMesh(t *testing.T) {
	radio := newFakeRadio("phy0")
	peer := Station{MAC: peerMAC, SignalAverage: -50, ExpectedThroughput: 50_000, TxPackets: 100, TxRetries: 100, Plink: PlinkEstablished}
	radio.setStations(peer)
	h := startLink(t, radio, Config{}, noProcess)

	wantJoin := "join 10 {ID:cpe-mesh Channel:6 Secured:false Config:{Forwarding:false NoLearn:true}}"
	if got, want := radio.Calls(), []string{"create mesh0 on 0", "leave 10", wantJoin}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	// The first sample counts since the station came: 2 attempts per
	// frame at half the reference throughput.
	if got, want := h.cb.takeCosts(), []string{"02:00:00:00:01:00 1024"}; !reflect.DeepEqual(got, want) {
		t.Errorf("costs %q, want %q", got, want)
	}
	st := h.link.Status()
	wantStatus := Status{Interface: "mesh0", Ifindex: 10, MAC: "02:00:00:00:00:00", Phy: "phy0", MeshID: "cpe-mesh",
		Channel: 6, Frequency: 2437, Joined: true, Peers: []PeerStatus{{
			MAC: "02:00:00:00:01:00", LinkLocal: mustLinkLocal(peerMAC), Plink: PlinkEstablished, Signal: -50,
			ExpectedThroughput: 50_000, Cost: 1024, TxPackets: 100, TxRetries: 100,
		}}}
	if !reflect.DeepEqual(st, wantStatus) {
		t.Errorf("status\n%+v\nwant\n%+v", st, wantStatus)
	}
	if err := h.link.Health(); err != nil {
		t.Errorf("health: %v", err)
	}

	// Next sample: the cost is over the interval only, no retries.
	peer.TxPackets, peer.ExpectedThroughput = 200, 100_000
	radio.setStations(peer)
	h.poll()
	if got, want := h.cb.takeCosts(), []string{"02:00:00:00:01:00 256"}; !reflect.DeepEqual(got, want) {
		t.Errorf("costs %q, want %q", got, want)
	}
	if got := radio.Calls(); len(got) != 3 {
		t.Errorf("joined again while in the mesh: %q", got)
	}

	// The peer link closes: gone at once, and its cost infinite.
	peer.Plink = PlinkHolding
	radio.setStations(peer)
	h.poll()
	if got := h.cb.takeGone(); !reflect.DeepEqual(got, []string{"02:00:00:00:01:00"}) {
		t.Errorf("gone %q", got)
	}
	if got, want := h.cb.takeCosts(), []string{fmt.Sprintf("02:00:00:00:01:00 %d", Infinity)}; !reflect.DeepEqual(got, want) {
		t.Errorf("costs %q, want %q", got, want)
	}
	// Still not established: not reported gone twice.
	h.poll()
	if got := h.cb.takeGone(); got != nil {
		t.Errorf("gone again: %q", got)
	}

	// Established again, then the station vanishes from the dump.
	peer.Plink = PlinkEstablished
	radio.setStations(peer)
	h.poll()
	radio.setStations()
	h.poll()
	if got := h.cb.takeGone(); !reflect.DeepEqual(got, []string{"02:00:00:00:01:00"}) {
		t.Errorf("gone %q", got)
	}
	if n := len(h.link.Status().Peers); n != 0 {
		t.Errorf("%d peers left", n)
	}

	if err := h.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	calls := radio.Calls()
	if calls[len(calls)-1] != "leave 10" || !radio.closed {
		t.Errorf("did not leave the mesh and close: %q", calls)
	}
	if st := h.link.Status(); st.Joined || st.Frequency != 0 {
		t.Errorf("status after stop: %+v", st)
	}
}

func mustLinkLocal(mac net.HardwareAddr) netip.Addr {
	a, _ := LinkLocal(mac)
	return a
}

// TestLinkPeerEvent: a station deleted by the kernel is reported at once,
// between polls.
func TestLinkPeerEvent(t *testing.T) {
	radio := newFakeRadio("phy0")
	radio.setStations(Station{MAC: peerMAC, Plink: PlinkEstablished})
	h := startLink(t, radio, Config{}, noProcess)
	other := net.HardwareAddr{2, 0, 0, 0, 9, 9}
	radio.events <- PeerEvent{Ifindex: 10, MAC: other}
	radio.events <- PeerEvent{Ifindex: 10, MAC: peerMAC, Gone: true}
	if got := h.waitGone(); got != "02:00:00:00:01:00" {
		t.Errorf("gone %s", got)
	}
	if n := len(h.link.Status().Peers); n != 0 {
		t.Errorf("%d peers after the event", n)
	}
	if got := h.cb.takeGone(); got != nil {
		t.Errorf("also gone: %q", got)
	}
}

// TestLinkJoinRetried: an open mesh is joined at the first poll after the
// interface comes up, and again after it was taken out of the mesh.
func TestLinkJoinRetried(t *testing.T) {
	radio := newFakeRadio("phy0")
	radio.ifis = []*mdwifi.Interface{{Index: 3, Name: "mesh0", PHY: 0, Type: mdwifi.InterfaceTypeMeshPoint}}
	down := errors.New("network is down")
	radio.joinErrs = []error{down, down}
	h := startLink(t, radio, Config{}, noProcess)
	if err := h.link.Health(); err == nil || !strings.Contains(err.Error(), "join: network is down") {
		t.Errorf("health %v", err)
	}
	if st := h.link.Status(); st.Joined || len(st.Problems) != 1 {
		t.Errorf("status %+v", st)
	}
	h.poll()
	h.poll()
	if err := h.link.Health(); err != nil {
		t.Errorf("health after joining: %v", err)
	}
	joins := 0
	for _, c := range radio.Calls() {
		if strings.HasPrefix(c, "join 3 ") {
			joins++
		}
		if strings.HasPrefix(c, "create") {
			t.Errorf("created although mesh0 exists: %s", c)
		}
	}
	if joins != 3 {
		t.Errorf("%d joins, want 3", joins)
	}

	// The interface went down and up: mac80211 left the mesh.
	radio.set(3, func(i *mdwifi.Interface) { i.Frequency = 0 })
	h.poll()
	if st := h.link.Status(); !st.Joined || st.Frequency != 2437 {
		t.Errorf("not joined again: %+v", st)
	}
	if c := radio.Calls(); !strings.HasPrefix(c[len(c)-1], "join 3 ") {
		t.Errorf("calls %q", c)
	}

	// Already in a mesh counts as joined.
	radio.set(3, func(i *mdwifi.Interface) { i.Frequency = 0 })
	radio.mu.Lock()
	radio.joinErrs = []error{fmt.Errorf("x: %w", ErrAlreadyJoined)}
	radio.mu.Unlock()
	h.poll()
	if err := h.link.Health(); err != nil {
		t.Errorf("health: %v", err)
	}
}

func TestLinkWatchRetried(t *testing.T) {
	radio := newFakeRadio("phy0")
	radio.watchErr = errors.New("socket broke")
	h := startLink(t, radio, Config{}, noProcess)
	// The loop takes the failure as it comes, between polls.
	eventually(t, "the failed watch recorded", func() bool {
		st := h.link.Status()
		return len(st.Problems) == 1 && strings.Contains(st.Problems[0], "peer events: socket broke")
	})
	h.poll() // starts the watch again
	eventually(t, "the watch started again", func() bool {
		radio.mu.Lock()
		defer radio.mu.Unlock()
		return radio.watches == 2
	})
	radio.events <- PeerEvent{Ifindex: 10, MAC: peerMAC, Gone: true}
	if got := h.waitGone(); got != "02:00:00:00:01:00" {
		t.Errorf("gone %s", got)
	}
	if err := h.link.Health(); err == nil {
		t.Error("healthy before the new watch lasted a poll")
	}
	h.poll()
	if err := h.link.Health(); err != nil {
		t.Errorf("health: %v", err)
	}
}

// eventually waits, yielding, until cond holds: for what Run's goroutine
// does on its own, without a poll to wait for.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		runtime.Gosched()
	}
}

func TestLinkInterfaceGone(t *testing.T) {
	radio := newFakeRadio("phy0")
	h := startLink(t, radio, Config{}, noProcess)
	if err := radio.DeleteInterface(10); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(DefaultPollInterval)
	if err := <-h.done; err == nil || !strings.Contains(err.Error(), "mesh0 disappeared") {
		t.Errorf("Run: %v", err)
	}
	h.done <- nil
}

// fakeProcess stands for wpa_supplicant: it runs until ctx ends or the
// test makes it exit.
type fakeProcess struct {
	started chan []string // the command line, when it starts
	exit    chan error
}

func (p *fakeProcess) run(ctx context.Context, cmd *exec.Cmd) error {
	p.started <- cmd.Args
	select {
	case <-ctx.Done():
		return nil
	case err := <-p.exit:
		return err
	}
}

func TestLinkSecured(t *testing.T) {
	radio := newFakeRadio("phy0", "phy1")
	dir := t.TempDir()
	proc := &fakeProcess{started: make(chan []string, 1), exit: make(chan error, 1)}
	cfg := Config{Phy: "phy1", Key: "secretsecret", StateDir: dir, WPASupplicant: "/sbin/wpa_supplicant"}
	h := startLink(t, radio, cfg, proc.run)

	path := filepath.Join(dir, "wpa_supplicant-mesh0.conf")
	conf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := WPASupplicantConfig("cpe-mesh", 6, "secretsecret")
	if !bytes.Equal(conf, want) {
		t.Errorf("configuration\n%s\nwant\n%s", conf, want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("configuration mode %v %v", fi.Mode(), err)
	}
	if args, want := <-proc.started, []string{"/sbin/wpa_supplicant", "-i", "mesh0", "-c", path, "-D", "nl80211"}; !reflect.DeepEqual(args, want) {
		t.Errorf("command %q, want %q", args, want)
	}
	if err := h.link.Health(); err == nil {
		t.Error("healthy before wpa_supplicant joined")
	}

	// wpa_supplicant joins; the next poll turns no-learn on, once.
	radio.set(10, func(i *mdwifi.Interface) { i.Frequency = 2437 })
	h.poll()
	h.poll()
	setConfig := "set config 10 {Forwarding:false NoLearn:true}"
	if got, want := radio.Calls(), []string{"create mesh0 on 1", "leave 10", setConfig}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if st := h.link.Status(); !st.Joined || !st.Secured || st.Phy != "phy1" || st.Frequency != 2437 {
		t.Errorf("status %+v", st)
	}

	// Out of the mesh and back in (the interface went down and up):
	// wpa_supplicant's join starts from defaults again.
	radio.set(10, func(i *mdwifi.Interface) { i.Frequency = 0 })
	h.poll()
	radio.set(10, func(i *mdwifi.Interface) { i.Frequency = 2437 })
	h.poll()
	if got := radio.Calls(); len(got) != 4 || got[3] != setConfig {
		t.Errorf("calls %q", got)
	}

	proc.exit <- errors.New("exit status 255")
	if err := <-h.done; err == nil || !strings.Contains(err.Error(), "wpa_supplicant on mesh0: exit status 255") {
		t.Errorf("Run: %v", err)
	}
	h.done <- nil
	if c := radio.Calls(); c[len(c)-1] != "leave 10" {
		t.Errorf("did not leave the mesh: %q", c)
	}
}

func TestLinkSetUp(t *testing.T) {
	mp := func(index, phy int) *mdwifi.Interface {
		return &mdwifi.Interface{Index: index, Name: "mesh0", PHY: phy, Type: mdwifi.InterfaceTypeMeshPoint}
	}
	tests := []struct {
		name      string
		phys      []string
		ifis      []*mdwifi.Interface
		phy       string
		wantCalls []string
		wantIndex int
		wantErr   string
	}{
		{"create on the only radio", []string{"phy0"}, nil, "", []string{"create mesh0 on 0"}, 10, ""},
		{"create on a radio by name", []string{"phy0", "phy1"}, nil, "phy1", []string{"create mesh0 on 1"}, 10, ""},
		{"create on a radio by index", []string{"phy0", "phy1"}, nil, "1", []string{"create mesh0 on 1"}, 10, ""},
		{"which radio", []string{"phy0", "phy1"}, nil, "", nil, 0, "2 radios"},
		{"no radio", nil, nil, "", nil, 0, "0 radios"},
		{"unknown radio", []string{"phy0"}, nil, "phy7", nil, 0, `no radio "phy7"`},
		{"take the existing one", []string{"phy0", "phy1"}, []*mdwifi.Interface{mp(4, 1)}, "", nil, 4, ""},
		{"take the existing one on the radio asked", []string{"phy0", "phy1"}, []*mdwifi.Interface{mp(4, 1)}, "phy1", nil, 4, ""},
		{"move it to the radio asked", []string{"phy0", "phy1"}, []*mdwifi.Interface{mp(4, 1)}, "phy0",
			[]string{"delete 4", "create mesh0 on 0"}, 10, ""},
		{"name taken by a station interface", []string{"phy0"},
			[]*mdwifi.Interface{{Index: 4, Name: "mesh0", Type: mdwifi.InterfaceTypeStation}}, "", nil, 0,
			"mesh0 exists and is a station interface"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			radio := newFakeRadio(tc.phys...)
			radio.ifis = tc.ifis
			l, err := newLink(Config{Phy: tc.phy, Interface: "mesh0", MeshID: "m", Channel: 1}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ifi, err := l.setUp(radio)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %+v, %v; want an error with %q", ifi, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ifi.Index != tc.wantIndex || !reflect.DeepEqual(radio.Calls(), tc.wantCalls) {
				t.Errorf("got interface %d, calls %q; want %d, %q", ifi.Index, radio.Calls(), tc.wantIndex, tc.wantCalls)
			}
		})
	}
}

func TestNewChecks(t *testing.T) {
	ok := Config{Interface: "mesh0", MeshID: "m", Channel: 1}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"interface", func(c *Config) { c.Interface = "" }, "interface name"},
		{"mesh ID", func(c *Config) { c.MeshID = strings.Repeat("m", 33) }, "mesh ID"},
		{"channel", func(c *Config) { c.Channel = 15 }, "channel 15"},
		{"key without state", func(c *Config) { c.Key = "secretsecret" }, "state directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestLineLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	w := &lineLogger{log: log}
	for _, s := range []string{"mesh0: joining", " mesh\nsecond\n\nthi", "rd\n", strings.Repeat("x", 3000) + "\n", "unterminated"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	want := "msg=\"mesh0: joining mesh\"\nmsg=second\nmsg=third\nmsg=" + strings.Repeat("x", maxLogLine) + "\n"
	if buf.String() != want {
		t.Errorf("logged\n%s\nwant\n%s", buf.String(), want)
	}
}
