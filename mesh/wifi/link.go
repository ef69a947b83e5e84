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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mdwifi "github.com/mdlayher/wifi"

	"cpe/cpe/store"
	"cpe/internal/clock"
)

// DefaultPollInterval is how often Link reads the peers' statistics.
const DefaultPollInterval = 5 * time.Second

// Config configures a Link.
type Config struct {
	// Phy is the radio, by name ("phy0") or index ("0"). Empty means the
	// radio the interface is on if it exists, or else the only radio.
	Phy       string
	Interface string // the mesh point interface, e.g. "mesh0"
	MeshID    string
	Channel   int
	// Key, when set, makes peer links authenticated with SAE: Link runs
	// wpa_supplicant, which joins the mesh.
	Key string
	// WPASupplicant is the program; default "wpa_supplicant" from PATH.
	WPASupplicant string
	// StateDir is where wpa_supplicant's configuration is written (it
	// holds the key: mode 0600). Needed with Key.
	StateDir     string
	PollInterval time.Duration // default DefaultPollInterval
	Clock        clock.Clock   // default the system clock
	Logger       *slog.Logger

	// The callbacks run on Run's goroutine and should return quickly.
	//
	// OnCost is called at every poll with the cost (see Cost) of each
	// peer, established or not: Babel ignores a cost for a neighbour it
	// does not know yet, so it is repeated. Babel's neighbour is
	// probably LinkLocal(peer).
	OnCost func(peer net.HardwareAddr, cost int)
	// OnPeerGone is called as soon as a peer link is gone: the kernel
	// deleted the station, or a poll found it no longer established.
	OnPeerGone func(peer net.HardwareAddr)
}

// radio is the nl80211 side of a Link; *Client is the real one.
type radio interface {
	PHYs() ([]*mdwifi.PHY, error)
	Interfaces() ([]*mdwifi.Interface, error)
	CreateMeshPoint(phy int, name string) (*mdwifi.Interface, error)
	DeleteInterface(ifindex int) error
	JoinMesh(ifindex int, m Mesh) error
	SetMeshConfig(ifindex int, c MeshConfig) error
	LeaveMesh(ifindex int) error
	Stations(ifindex int) ([]Station, error)
	WatchPeers(ctx context.Context, ifindex int, events chan<- PeerEvent) error
	Close() error
}

// Link is the box's mesh point as a component: it creates the interface
// (or takes the one there), joins the mesh, or runs wpa_supplicant to do
// it when a key is set, reads the peers' statistics every PollInterval
// and reports costs and lost peers through the callbacks. It does not set
// the interface up: an open mesh is joined at the first poll after
// something else has (wpa_supplicant sets it up itself). When Run
// returns the mesh is left; the interface stays, with its addresses.
//
// Status and Health are safe to call at any time.
type Link struct {
	cfg        Config
	clk        clock.Clock
	log        *slog.Logger
	dial       func() (radio, error)
	runProcess func(ctx context.Context, cmd *exec.Cmd) error

	// Owned by Run's goroutine.
	configured bool // a secured mesh's Layer3 configuration was set

	mu       sync.Mutex
	status   Status // Peers unused; see peers
	peers    map[string]*peer
	problems map[string]string // what fails now, by operation, for Health
}

type peer struct {
	last        Station
	cost        int
	established bool
}

// Status is the mesh point for `show mesh`.
type Status struct {
	Interface string
	Ifindex   int
	MAC       string
	Phy       string
	MeshID    string
	Channel   int
	Frequency int  // MHz, while in the mesh
	Secured   bool // SAE through wpa_supplicant
	Joined    bool
	Problems  []string // what is failing now
	Peers     []PeerStatus
}

// PeerStatus is one station of the mesh point.
type PeerStatus struct {
	MAC                string
	LinkLocal          netip.Addr // see LinkLocal
	Plink              PlinkState
	Signal             int    // dBm, the driver's average (or the last frame's)
	ExpectedThroughput uint32 // kbit/s, 0 unknown
	Cost               int
	Inactive           time.Duration
	TxPackets          uint32
	TxRetries          uint32
	TxFailed           uint32
	RxPackets          uint32
}

// New checks cfg and returns a Link; nothing happens before Run.
func New(cfg Config) (*Link, error) {
	return newLink(cfg, dialRadio, runProcess)
}

func newLink(cfg Config, dial func() (radio, error), run func(context.Context, *exec.Cmd) error) (*Link, error) {
	if err := checkIfname(cfg.Interface); err != nil {
		return nil, err
	}
	if err := checkMeshID(cfg.MeshID); err != nil {
		return nil, err
	}
	if _, err := Frequency(cfg.Channel); err != nil {
		return nil, err
	}
	if cfg.Key != "" && cfg.StateDir == "" {
		return nil, errors.New("wifi: a mesh key needs a state directory for wpa_supplicant's configuration")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.WPASupplicant == "" {
		cfg.WPASupplicant = "wpa_supplicant"
	}
	l := &Link{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, dial: dial, runProcess: run}
	if l.clk == nil {
		l.clk = clock.System{}
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("interface", cfg.Interface)
	l.status = Status{Interface: cfg.Interface, MeshID: cfg.MeshID, Channel: cfg.Channel, Secured: cfg.Key != ""}
	l.peers = map[string]*peer{}
	l.problems = map[string]string{}
	return l, nil
}

// Run sets up the mesh point and keeps it in the mesh until ctx ends.
// It returns an error when it cannot start, when wpa_supplicant exits, or
// when the interface disappears; the supervisor starts it again.
func (l *Link) Run(ctx context.Context) error {
	nl, err := l.dial()
	if err != nil {
		return err
	}
	defer nl.Close()
	l.configured = false
	ifi, err := l.setUp(nl)
	if err != nil {
		return err
	}
	// An earlier run may have left the interface in a mesh, with another
	// ID or channel: start from none.
	if err := nl.LeaveMesh(ifi.Index); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		// wpa_supplicant does not always leave the mesh when stopped.
		if err := nl.LeaveMesh(ifi.Index); err != nil {
			l.log.Warn("leaving the mesh", "err", err)
		}
		l.mu.Lock()
		l.status.Joined, l.status.Frequency = false, 0
		clear(l.peers)
		l.mu.Unlock()
	}()

	procDone := make(chan error, 1)
	if l.cfg.Key != "" {
		cmd, err := l.wpaSupplicant(ifi.Name)
		if err != nil {
			return err
		}
		wg.Go(func() { procDone <- l.runProcess(ctx, cmd) })
	}

	events := make(chan PeerEvent, 16)
	watchDone := make(chan error, 1)
	watching := false
	watch := func() {
		watching = true
		wg.Go(func() { watchDone <- nl.WatchPeers(ctx, ifi.Index, events) })
	}
	watch()

	if err := l.poll(nl, ifi.Index); err != nil {
		return err
	}
	t := l.clk.NewTimer(l.cfg.PollInterval)
	defer func() { t.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-procDone:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("wifi: wpa_supplicant on %s: %w", ifi.Name, err)
		case err := <-watchDone:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("watch ended")
			}
			// Polling goes on without events; the watch is retried at
			// the next poll.
			watching = false
			l.problem("peer events", err)
		case ev := <-events:
			l.peerEvent(ev)
		case <-t.C():
			if !watching {
				watch()
			} else {
				l.ok("peer events") // a watch that lasted a poll interval works
			}
			if err := l.poll(nl, ifi.Index); err != nil {
				return err
			}
			t = l.clk.NewTimer(l.cfg.PollInterval)
		}
	}
}

// setUp finds or creates the mesh point interface.
func (l *Link) setUp(nl radio) (*mdwifi.Interface, error) {
	phys, err := nl.PHYs()
	if err != nil {
		return nil, err
	}
	ifis, err := nl.Interfaces()
	if err != nil {
		return nil, err
	}
	var phy *mdwifi.PHY
	if l.cfg.Phy != "" {
		if phy = findPhy(phys, l.cfg.Phy); phy == nil {
			return nil, fmt.Errorf("wifi: no radio %q", l.cfg.Phy)
		}
	}
	var ifi *mdwifi.Interface
	for _, i := range ifis {
		if i.Name == l.cfg.Interface {
			ifi = i
		}
	}
	switch {
	case ifi != nil && ifi.Type != mdwifi.InterfaceTypeMeshPoint:
		return nil, fmt.Errorf("wifi: %s exists and is a %s interface, not a mesh point", ifi.Name, ifi.Type)
	case ifi != nil && phy != nil && ifi.PHY != phy.Index:
		l.log.Info("moving the mesh point to another radio", "from", phyName(phys, ifi.PHY), "to", phy.Name)
		if err := nl.DeleteInterface(ifi.Index); err != nil {
			return nil, err
		}
		ifi = nil
	}
	if ifi == nil {
		if phy == nil {
			if len(phys) != 1 {
				return nil, fmt.Errorf("wifi: %d radios: say which one the mesh point is on", len(phys))
			}
			phy = phys[0]
		}
		if ifi, err = nl.CreateMeshPoint(phy.Index, l.cfg.Interface); err != nil {
			return nil, err
		}
		l.log.Info("created the mesh point", "phy", phy.Name)
	}
	l.mu.Lock()
	l.status.Ifindex = ifi.Index
	l.status.MAC = ifi.HardwareAddr.String()
	l.status.Phy = phyName(phys, ifi.PHY)
	l.mu.Unlock()
	return ifi, nil
}

func findPhy(phys []*mdwifi.PHY, want string) *mdwifi.PHY {
	n, err := strconv.Atoi(want)
	for _, p := range phys {
		if p.Name == want || err == nil && p.Index == n {
			return p
		}
	}
	return nil
}

func phyName(phys []*mdwifi.PHY, index int) string {
	for _, p := range phys {
		if p.Index == index {
			return p.Name
		}
	}
	return fmt.Sprintf("phy#%d", index)
}

// wpaSupplicant writes wpa_supplicant's configuration and returns the
// command that runs it.
func (l *Link) wpaSupplicant(ifname string) (*exec.Cmd, error) {
	conf, err := WPASupplicantConfig(l.cfg.MeshID, l.cfg.Channel, l.cfg.Key)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(l.cfg.StateDir, "wpa_supplicant-"+ifname+".conf")
	// The state directory is on flash: write only what changed.
	if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, conf) {
		if err := store.WriteFileAtomic(path, conf, 0o600); err != nil {
			return nil, fmt.Errorf("wifi: %w", err)
		}
	}
	cmd := exec.Command(l.cfg.WPASupplicant, "-i", ifname, "-c", path, "-D", "nl80211")
	out := &lineLogger{log: l.log.With("process", "wpa_supplicant")}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, nil
}

// poll reads the interface and its stations, joins the mesh (open) or
// completes wpa_supplicant's join (secured), and reports the peers. Its
// only error is the interface gone.
func (l *Link) poll(nl radio, ifindex int) error {
	freq, known := 0, false
	if ifis, err := nl.Interfaces(); err != nil {
		l.problem("interfaces", err)
	} else {
		l.ok("interfaces")
		i := slices.IndexFunc(ifis, func(i *mdwifi.Interface) bool { return i.Index == ifindex })
		if i < 0 {
			return fmt.Errorf("wifi: %s disappeared", l.cfg.Interface)
		}
		freq, known = ifis[i].Frequency, true
	}
	joined := freq != 0
	switch {
	case l.cfg.Key == "" && known && !joined:
		err := nl.JoinMesh(ifindex, Mesh{ID: l.cfg.MeshID, Channel: l.cfg.Channel, Config: Layer3})
		if err == nil || errors.Is(err, ErrAlreadyJoined) {
			l.ok("join")
			joined = true
			freq, _ = Frequency(l.cfg.Channel)
		} else {
			l.problem("join", err)
		}
	case l.cfg.Key != "" && known && !joined:
		l.configured = false // wpa_supplicant's next join starts from defaults
	case l.cfg.Key != "" && joined && !l.configured:
		switch err := nl.SetMeshConfig(ifindex, Layer3); {
		case err == nil:
			l.configured = true
			l.ok("mesh config")
			l.log.Info("wpa_supplicant joined the mesh; forwarding off, no-learn on")
		case errors.Is(err, ErrNotJoined):
		default:
			l.problem("mesh config", err)
		}
	}
	l.mu.Lock()
	was := l.status.Joined
	if known {
		l.status.Joined, l.status.Frequency = joined, freq
	}
	l.mu.Unlock()
	if known && joined != was {
		l.log.Info("mesh", "joined", joined, "mesh_id", l.cfg.MeshID, "frequency", freq)
	}

	sts, err := nl.Stations(ifindex)
	if err != nil {
		l.problem("stations", err)
		return nil
	}
	l.ok("stations")
	l.updatePeers(sts)
	return nil
}

type peerCost struct {
	mac  net.HardwareAddr
	cost int
}

// updatePeers takes a new sample of every station and calls back.
func (l *Link) updatePeers(sts []Station) {
	var costs []peerCost
	var gone []net.HardwareAddr
	l.mu.Lock()
	seen := map[string]bool{}
	for _, st := range sts {
		k := string(st.MAC)
		seen[k] = true
		p := l.peers[k]
		if p == nil {
			p = &peer{}
			l.peers[k] = p
		}
		p.cost = Cost(p.last, st)
		p.last = st
		est := st.Plink == PlinkEstablished
		if p.established && !est {
			gone = append(gone, st.MAC)
		}
		p.established = est
		costs = append(costs, peerCost{st.MAC, p.cost})
	}
	for k, p := range l.peers {
		if !seen[k] {
			delete(l.peers, k)
			if p.established {
				gone = append(gone, p.last.MAC)
			}
		}
	}
	l.mu.Unlock()
	slices.SortFunc(gone, func(a, b net.HardwareAddr) int { return bytes.Compare(a, b) })
	for _, mac := range gone {
		l.log.Info("peer link lost", "peer", mac)
		if l.cfg.OnPeerGone != nil {
			l.cfg.OnPeerGone(slices.Clone(mac))
		}
	}
	if l.cfg.OnCost != nil {
		for _, c := range costs {
			l.cfg.OnCost(slices.Clone(c.mac), c.cost)
		}
	}
}

func (l *Link) peerEvent(ev PeerEvent) {
	if !ev.Gone {
		l.log.Debug("new station", "peer", ev.MAC)
		return
	}
	l.mu.Lock()
	delete(l.peers, string(ev.MAC))
	l.mu.Unlock()
	l.log.Info("peer link gone", "peer", ev.MAC)
	if l.cfg.OnPeerGone != nil {
		l.cfg.OnPeerGone(ev.MAC)
	}
}

// problem records and logs (once per new message) what fails.
func (l *Link) problem(op string, err error) {
	msg := op + ": " + err.Error()
	l.mu.Lock()
	changed := l.problems[op] != msg
	l.problems[op] = msg
	l.mu.Unlock()
	if changed {
		l.log.Warn(op, "err", err)
	}
}

func (l *Link) ok(op string) {
	l.mu.Lock()
	_, was := l.problems[op]
	delete(l.problems, op)
	l.mu.Unlock()
	if was {
		l.log.Info(op + " works again")
	}
}

// Status returns the mesh point and its peers, sorted by MAC address.
func (l *Link) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	s.Problems = nil
	for _, p := range l.problems {
		s.Problems = append(s.Problems, p)
	}
	slices.Sort(s.Problems)
	s.Peers = make([]PeerStatus, 0, len(l.peers))
	for _, p := range l.peers {
		st := p.last
		ll, _ := LinkLocal(st.MAC)
		signal := st.SignalAverage
		if signal == 0 {
			signal = st.Signal
		}
		s.Peers = append(s.Peers, PeerStatus{
			MAC: st.MAC.String(), LinkLocal: ll, Plink: st.Plink, Signal: signal,
			ExpectedThroughput: st.ExpectedThroughput, Cost: p.cost, Inactive: st.Inactive,
			TxPackets: st.TxPackets, TxRetries: st.TxRetries, TxFailed: st.TxFailed, RxPackets: st.RxPackets,
		})
	}
	slices.SortFunc(s.Peers, func(a, b PeerStatus) int { return strings.Compare(a.MAC, b.MAC) })
	return s
}

// Health reports a mesh point that is not in the mesh, or whose
// statistics or events fail.
func (l *Link) Health() error {
	s := l.Status()
	if len(s.Problems) > 0 {
		return fmt.Errorf("wifi: %s", strings.Join(s.Problems, "; "))
	}
	if !s.Joined {
		return fmt.Errorf("wifi: %s is not in the mesh", s.Interface)
	}
	return nil
}

// maxLogLine bounds a line of a child's output kept while waiting for its
// newline.
const maxLogLine = 1024

// lineLogger logs a child process's output line by line.
type lineLogger struct {
	log *slog.Logger
	buf []byte
}

func (w *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := max(maxLogLine-len(w.buf), 0)
			w.buf = append(w.buf, p[:min(len(p), room)]...)
			break
		}
		line := append(w.buf, p[:min(i, max(maxLogLine-len(w.buf), 0))]...)
		if len(line) > 0 {
			w.log.Info(string(line))
		}
		w.buf, p = w.buf[:0], p[i+1:]
	}
	return n, nil
}
