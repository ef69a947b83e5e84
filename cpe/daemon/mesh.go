package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/console"
	"cpe/cpe/plan"
	"cpe/cpe/supervisor"
	"cpe/internal/clock"
	"cpe/mesh/babel"
	"cpe/mesh/router"
	"cpe/mesh/wifi"
)

// meshComponent runs the Babel router on the configured interfaces: it
// announces what the plan says (re-announcing whenever the facts change)
// and publishes the routes Babel selects, which the planner installs.
type meshComponent struct {
	d   *Daemon
	cfg *config.Config
}

func (m meshComponent) Run(ctx context.Context) error {
	d := m.d
	log := d.opts.Logger.With("component", "mesh")
	opts, err := router.Options(m.cfg.Mesh)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	dir := filepath.Join(d.opts.StateDir, "mesh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	file := filepath.Join(dir, "babel.json")
	if opts.State, err = router.LoadState(file); err != nil {
		// A forgotten seqno is recovered from the neighbours (see
		// mesh/babel); a wrong one must not stop routing.
		log.Error("unreadable Babel state; starting afresh", "file", file, "err", err)
	}
	opts.Announce, _ = plan.MeshAnnouncements(m.cfg, d.facts.Snapshot(), d.opts.Now())
	var ifnames []string
	for _, mi := range m.cfg.Mesh.Interfaces {
		ifnames = append(ifnames, mi.Interface)
	}
	nw, err := router.ListenLinux(ifnames)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	r, err := router.New(router.Config{
		Options: opts, Net: nw, SaveState: router.StateSaver(file), Logger: d.opts.Logger,
		Routes: func(rs []babel.InstalledRoute) { d.facts.Put(plan.KeyMeshRoutes, kernelRoutes(rs)) },
	})
	if err != nil {
		nw.Close()
		return fmt.Errorf("mesh: %w", err)
	}
	d.net.mu.Lock()
	d.net.mesh = r
	d.net.mu.Unlock()
	defer func() {
		d.net.mu.Lock()
		if d.net.mesh == r {
			d.net.mesh = nil
		}
		d.net.mu.Unlock()
		d.facts.Delete(plan.KeyMeshRoutes)
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.announce(ctx, r, opts.Announce, log)
	}()
	err = r.Run(ctx)
	cancel()
	<-done
	return err
}

// kernelRoutes keeps of the installed routes what the kernel plan uses.
// Their Babel metric moves with every smoothed link-cost sample and the
// kernel routes do not carry it (they go in at one metric), so publishing
// it would replan the whole box for nothing each time.
func kernelRoutes(rs []babel.InstalledRoute) []babel.InstalledRoute {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Metric = 0
	}
	return out
}

// announce re-announces whenever the facts change what the box has to
// offer, or a lifetime in it runs out. It subscribes before it looks, so a
// change between the first announcement (made with the router) and the
// subscription is not missed.
func (m meshComponent) announce(ctx context.Context, r *router.Router, last []babel.Announcement, log *slog.Logger) {
	wake, unsub := m.d.facts.Subscribe()
	defer unsub()
	var deadline clock.Deadline
	defer deadline.Stop()
	for {
		as, next := plan.MeshAnnouncements(m.cfg, m.d.facts.Snapshot(), m.d.opts.Now())
		if !slices.Equal(as, last) {
			if err := r.SetAnnouncements(as); err != nil {
				log.Error("announcements refused", "err", err)
			} else {
				last = as
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-deadline.At(next, m.d.opts.Now()):
		}
	}
}

func (d *Daemon) wifiSpec(cfg *config.Config) (supervisor.Spec, bool) {
	w := cfg.Mesh.WiFi
	if w == nil {
		return supervisor.Spec{}, false
	}
	ifname := ""
	for _, mi := range cfg.Mesh.Interfaces {
		if mi.Type == "wireless" {
			ifname = mi.Interface
			break
		}
	}
	return supervisor.Spec{
		Name: "mesh wifi",
		Key: struct {
			W  config.MeshWiFi
			If string
		}{*w, ifname},
		New: func() supervisor.Component {
			if ifname == "" {
				return failed{errors.New("mesh wifi: mesh.wifi needs a wireless entry in mesh.interfaces: the mesh point's interface")}
			}
			l, err := wifi.New(wifi.Config{
				Interface: ifname, MeshID: w.MeshID, Channel: w.Channel, Key: w.Key,
				StateDir: filepath.Join(d.opts.StateDir, "mesh"), Logger: d.opts.Logger,
				OnCost: func(peer net.HardwareAddr, cost int) {
					if r, err := d.meshRouter(); err == nil {
						if ll, ok := wifi.LinkLocal(peer); ok {
							r.SetLinkCost(ifname, ll, uint16(min(cost, int(babel.Infinity))))
						}
					}
				},
				OnPeerGone: func(peer net.HardwareAddr) {
					if r, err := d.meshRouter(); err == nil {
						if ll, ok := wifi.LinkLocal(peer); ok {
							r.NeighbourGone(ifname, ll)
						}
					}
				},
			})
			if err != nil {
				return failed{fmt.Errorf("mesh wifi: %w", err)}
			}
			return wifiComponent{d, l}
		},
	}, true
}

// wifiComponent runs the mesh point and keeps it visible to show mesh
// while it runs.
type wifiComponent struct {
	d *Daemon
	l *wifi.Link
}

// Health is the mesh point's: not in the mesh, or a radio call failing.
func (c wifiComponent) Health() error { return c.l.Health() }

func (c wifiComponent) Run(ctx context.Context) error {
	c.d.net.mu.Lock()
	c.d.net.wifi = c.l
	c.d.net.mu.Unlock()
	defer func() {
		c.d.net.mu.Lock()
		if c.d.net.wifi == c.l {
			c.d.net.wifi = nil
		}
		c.d.net.mu.Unlock()
	}()
	return c.l.Run(ctx)
}

// failed is a component that could not be made: the supervisor shows its
// error and retries with backoff.
type failed struct{ err error }

func (f failed) Run(context.Context) error { return f.err }

func (d *Daemon) meshRouter() (*router.Router, error) {
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	if d.net.mesh == nil {
		return nil, fmt.Errorf("mesh: not running (no mesh.interfaces configured, or it failed: see show components)")
	}
	return d.net.mesh, nil
}

func (d *Daemon) meshCommands() []console.Command {
	return []console.Command{
		{Words: []string{"show", "mesh"}, Help: "mesh links: Babel interfaces and the neighbours on them with their costs", Run: d.showMesh},
		{Words: []string{"show", "babel", "neighbours"}, Help: "Babel neighbours: reachability, rxcost, txcost, link cost", Run: d.showBabelNeighbours},
		{Words: []string{"show", "babel", "routes"}, Help: "Babel routes, installed and not: metric, seqno, source prefix, next hop", Run: d.showBabelRoutes},
		{Words: []string{"show", "babel", "interfaces"}, Help: "Babel interfaces: state, intervals, keys, packet counters", Run: d.showBabelInterfaces},
	}
}

func (d *Daemon) showMesh(ctx context.Context, s *console.Session, args []string, w io.Writer) error {
	r, err := d.meshRouter()
	if err != nil {
		return err
	}
	d.net.mu.Lock()
	wl := d.net.wifi
	d.net.mu.Unlock()
	if wl != nil {
		st := wl.Status()
		joined := "not joined"
		if st.Joined {
			joined = fmt.Sprintf("joined on channel %d (%d MHz)", st.Channel, st.Frequency)
		}
		sec := "open"
		if st.Secured {
			sec = "SAE"
		}
		fmt.Fprintf(w, "mesh point %s (%s, %s) mesh-id %q: %s, %s\n", st.Interface, st.Phy, st.MAC, st.MeshID, joined, sec)
		for _, p := range st.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  PEER\tLINK\tSIGNAL\tTHROUGHPUT\tRETRIES\tFAILED\tCOST\tINACTIVE")
		for _, p := range st.Peers {
			fmt.Fprintf(tw, "  %s\t%s\t%d dBm\t%d kbit/s\t%d\t%d\t%d\t%s\n", p.MAC, p.Plink, p.Signal, p.ExpectedThroughput, p.TxRetries, p.TxFailed, p.Cost, p.Inactive.Round(time.Second))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "router-id %s\n", r.RouterID())
	for _, ifc := range r.Interfaces() {
		state := "down"
		if ifc.Up {
			state = "up " + ifc.Address.String()
		}
		fmt.Fprintf(w, "link %s (%s): %s, %d neighbours\n", ifc.Name, ifc.Type, state, ifc.Neighbours)
	}
	return d.showBabelNeighbours(ctx, s, args, w)
}

func (d *Daemon) showBabelNeighbours(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	r, err := d.meshRouter()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tNEIGHBOUR\tREACH\tRXCOST\tTXCOST\tLINKCOST\tCOST\tAUTH")
	for _, n := range r.Neighbours() {
		link := "-"
		if n.LinkCost != 0 {
			link = fmt.Sprint(n.LinkCost)
		}
		fmt.Fprintf(tw, "%s\t%s\t%016b\t%d\t%d\t%s\t%d\t%v\n", n.Interface, n.Address, n.Reach, n.RxCost, n.TxCost, link, n.Cost, n.Authenticated)
	}
	return tw.Flush()
}

func (d *Daemon) showBabelRoutes(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	r, err := d.meshRouter()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tFROM\tMETRIC\tSEQNO\tROUTER-ID\tNEXT HOP\tSTATE")
	for _, rt := range r.Routes() {
		from := "-"
		if rt.Source.IsValid() && rt.Source.Bits() > 0 {
			from = rt.Source.String()
		}
		via, state := "-", "feasible"
		switch {
		case rt.Own:
			state = "announced"
		case rt.Selected:
			state = "installed"
		case !rt.Feasible:
			state = "unfeasible"
		}
		if rt.NextHop.IsValid() {
			via = rt.NextHop.String() + " dev " + rt.Interface
		}
		metric := fmt.Sprint(rt.Metric)
		if rt.Metric == babel.Infinity {
			metric = "infinity"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", rt.Prefix, from, metric, rt.Seqno, rt.RouterID, via, state)
	}
	return tw.Flush()
}

func (d *Daemon) showBabelInterfaces(_ context.Context, _ *console.Session, _ []string, w io.Writer) error {
	r, err := d.meshRouter()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tTYPE\tSTATE\tHELLO\tUPDATE\tRXCOST\tKEYS\tNEIGHBOURS")
	for _, ifc := range r.Interfaces() {
		state := "down"
		if ifc.Up {
			state = "up"
		}
		keys := "none"
		if len(ifc.Keys) > 0 {
			keys = fmt.Sprint(ifc.Keys)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", ifc.Name, ifc.Type, state, ifc.HelloInterval, ifc.UpdateInterval, ifc.RxCost, keys, ifc.Neighbours)
	}
	tw.Flush()
	c := r.Counters()
	fmt.Fprintf(w, "packets in %d (%d bytes), out %d (%d bytes); TLVs ignored %d, updates refused %d, unfeasible %d\n",
		c.PacketsIn, c.BytesIn, c.PacketsOut, c.BytesOut, c.TLVsIgnored, c.UpdatesRefused, c.UnfeasibleUpdates)
	reasons := make([]string, 0, len(c.Dropped))
	for reason := range c.Dropped {
		reasons = append(reasons, string(reason))
	}
	sort.Strings(reasons)
	for _, reason := range reasons {
		fmt.Fprintf(w, "dropped %s: %d\n", reason, c.Dropped[babel.DropReason(reason)])
	}
	return nil
}
