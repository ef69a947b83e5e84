package daemon

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"cpe/cpe/config"
	"cpe/cpe/kernel"
	"cpe/cpe/plan"
	"cpe/cpe/supervisor"
	"cpe/firewall"
	"cpe/internal/clock"
	"cpe/lan"
	"cpe/mesh/router"
	"cpe/mesh/wifi"
	"cpe/wan"
)

// KernelApplier makes the kernel match a desired state; *kernel.Applier in
// production, a recording fake in tests (or nil: plan, apply nothing).
type KernelApplier interface {
	Apply(ctx context.Context, d kernel.Desired) ([]string, error)
	// Heard is ready when the kernel reported a change (nil: never).
	Heard() <-chan struct{}
}

// FirewallApplier loads a ruleset and reads its counters back;
// *firewall.Applier in production.
type FirewallApplier interface {
	Apply(ctx context.Context, rs firewall.Ruleset) (firewall.Changes, error)
	Stats() (firewall.Ruleset, firewall.Stats, error)
}

// firewallStatus is what the last firewall apply did, for show firewall.
type firewallStatus struct {
	Input   firewall.Input
	Ruleset firewall.Ruleset
	Loaded  bool // a ruleset was loaded at least once since start
	At      time.Time
	Checked time.Time // when the applier last compared Ruleset with the kernel
	Err     error
	Offload string // why flow offload is off although configured
}

// network holds the daemon's protocol side: the uplinks it runs and their
// histories, which outlive restarts of the uplink components.
type network struct {
	mu        sync.Mutex
	uplinks   map[string]*wan.Uplink
	histories map[string]*wan.History
	kick      chan struct{}
	lan       *lan.Service
	lastPlan  kernel.Desired
	lastErr   error
	fw        firewallStatus
	mesh      *router.Router
	wifi      *wifi.Link
}

func newNetwork() *network {
	return &network{uplinks: map[string]*wan.Uplink{}, histories: map[string]*wan.History{}, kick: make(chan struct{}, 1)}
}

func (n *network) history(name string) *wan.History {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.histories[name]
	if h == nil {
		h = wan.NewHistory(200, nil)
		n.histories[name] = h
	}
	return h
}

func (n *network) uplink(name string) *wan.Uplink {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.uplinks[name]
}

// replan wakes the kernel component, after a commit.
func (n *network) replan() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// networkSpecs are the components for the uplinks and the kernel applier.
func (d *Daemon) networkSpecs(cfg *config.Config) []supervisor.Spec {
	var specs []supervisor.Spec
	for _, w := range cfg.WAN {
		w := w
		host := cfg.System.Hostname
		specs = append(specs, supervisor.Spec{
			Name: "wan " + w.Name,
			Key: struct {
				W    config.WAN
				Host string
			}{w, host},
			New: func() supervisor.Component {
				u := wan.NewUplink(w, host, filepath.Join(d.opts.StateDir, "wan", w.Name), d.facts, d.net.history(w.Name), d.opts.Logger)
				d.net.mu.Lock()
				d.net.uplinks[w.Name] = u
				d.net.mu.Unlock()
				return u
			},
		})
	}
	if len(cfg.LAN) > 0 {
		specs = append(specs, supervisor.Spec{
			Name: "lan",
			Key: struct {
				LAN []config.LAN
				WAN []config.WAN
			}{cfg.LAN, cfg.WAN},
			New: func() supervisor.Component {
				s := &lan.Service{Config: cfg, StateDir: filepath.Join(d.opts.StateDir, "lan"), Facts: d.facts,
					Logger: d.opts.Logger, Now: d.opts.Now}
				d.net.mu.Lock()
				d.net.lan = s
				d.net.mu.Unlock()
				return s
			},
		})
	}
	if len(cfg.Mesh.Interfaces) > 0 {
		specs = append(specs, supervisor.Spec{
			Name: "mesh",
			Key: struct {
				Mesh config.Mesh
				LAN  []config.LAN
				WAN  []config.WAN
			}{cfg.Mesh, cfg.LAN, cfg.WAN},
			New: func() supervisor.Component { return meshComponent{d, cfg} },
		})
	}
	if spec, ok := d.wifiSpec(cfg); ok {
		specs = append(specs, spec)
	}
	specs = append(specs, supervisor.Spec{
		Name: "kernel",
		New:  func() supervisor.Component { return kernelComponent{d} },
	})
	return specs
}

// forgetRemoved releases the leases of uplinks no longer configured (the
// only time the box sends Release) and drops their facts, so their
// addresses and routes are withdrawn.
func (d *Daemon) forgetRemoved(cfg *config.Config) {
	keep := map[string]bool{}
	for _, w := range cfg.WAN {
		keep[w.Name] = true
	}
	d.net.mu.Lock()
	var removed []*wan.Uplink
	for name, u := range d.net.uplinks {
		if !keep[name] {
			delete(d.net.uplinks, name)
			removed = append(removed, u)
		}
	}
	d.net.mu.Unlock()
	for _, u := range removed {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if err := u.Release(ctx); err != nil {
			d.log.Warn("releasing the leases of a removed uplink", "uplink", u.Config.Name, "err", err)
		}
		cancel()
		d.facts.DeletePrefix(plan.KeyUplink(u.Config.Name))
	}
}

// releaseTimeout bounds how long a commit waits for Release to go out.
const releaseTimeout = 2 * time.Second

// kernelComponent plans whenever facts or the configuration change, and
// when a lifetime in the last plan runs out. It applies the last plan
// again when the kernel reports a change, which repairs at once what
// someone else changed and costs nothing for the box's own changes.
type kernelComponent struct{ d *Daemon }

// replanEvery is how often the kernel component applies its plan with
// nothing heard: what the kernel does not report (sysctls, a lost
// notification) is repaired then, as the applier and the firewall read
// the kernel again every 5 minutes. Waking every 30 s to look at the
// notifications was about 4 % of an idle mesh box's CPU time.
const replanEvery = 5 * time.Minute

// kernelPlan is what the kernel component planned, and from what.
type kernelPlan struct {
	cfg     *config.Config
	version uint64 // of the facts
	desired kernel.Desired
	fw      firewall.Input
	next    time.Time // the plan changes; zero: never by itself
}

// current reports whether planning again for cfg and the facts at version
// would give the same plan at now.
func (p *kernelPlan) current(cfg *config.Config, version uint64, now time.Time) bool {
	return p.cfg != nil && p.cfg == cfg && p.version == version && (p.next.IsZero() || now.Before(p.next))
}

func (k kernelComponent) Run(ctx context.Context) error {
	d := k.d
	wake, cancel := d.facts.Subscribe()
	defer cancel()
	var deadline clock.Deadline
	defer deadline.Stop()
	var heard <-chan struct{}
	if d.opts.Kernel != nil {
		heard = d.opts.Kernel.Heard()
	}
	var p kernelPlan
	for {
		d.mu.Lock()
		cfg := d.running
		d.mu.Unlock()
		now := d.opts.Now()
		if !p.current(cfg, d.facts.Version(), now) {
			snap := d.facts.Snapshot()
			p = kernelPlan{cfg: cfg, version: snap.Version}
			at := plan.Moment{Now: now}
			var kernelNext, fwNext time.Time
			p.desired, kernelNext = plan.Kernel(cfg, snap, now)
			p.fw, fwNext = plan.Firewall(cfg, snap, now)
			at.Note(kernelNext)
			at.Note(fwNext)
			p.next = at.Next
		}
		desired := p.desired
		if !k.applyFirewall(ctx, p.fw, now) {
			desired.Sysctls = maps.Clone(desired.Sysctls)
			for _, key := range forwardingSysctls {
				desired.Sysctls[key] = "0"
			}
		}
		var err error
		if d.opts.Kernel != nil {
			// The applier logs each change it makes.
			_, err = d.opts.Kernel.Apply(ctx, desired)
		}
		d.net.mu.Lock()
		d.net.lastPlan, d.net.lastErr = desired, err
		d.net.mu.Unlock()
		if err != nil {
			d.log.Error("applying the plan to the kernel", "err", err)
		}

		wakeAt := plan.Moment{Now: d.opts.Now()}
		wakeAt.Note(p.next)
		wakeAt.Note(wakeAt.Now.Add(replanEvery))
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-heard:
		case <-d.net.kick:
			p = kernelPlan{} // plan again, whatever changed
		case <-deadline.At(wakeAt.Next, wakeAt.Now):
		}
	}
}

// applyFirewall loads the ruleset built from in before the kernel plan is
// applied, so forwarding is never switched on without it: until a ruleset
// has been loaded once it reports false, and forwarding stays off (fail
// closed). A later failure keeps the ruleset loaded before in place.
// Without a firewall applier (unit tests) forwarding may go on.
func (k kernelComponent) applyFirewall(ctx context.Context, in firewall.Input, now time.Time) (forward bool) {
	d := k.d
	d.net.mu.Lock()
	last := d.net.fw
	d.net.mu.Unlock()
	if d.opts.Firewall != nil && last.Loaded && last.Err == nil && reflect.DeepEqual(in, last.Input) &&
		!now.Before(last.Checked) && now.Sub(last.Checked) < firewallRecheck {
		return true
	}
	rs := firewall.Build(in)
	if d.opts.Firewall == nil {
		d.net.mu.Lock()
		d.net.fw = firewallStatus{Input: in, Ruleset: rs}
		d.net.mu.Unlock()
		return true
	}
	ch, err := d.opts.Firewall.Apply(ctx, rs)
	d.net.mu.Lock()
	fw := &d.net.fw
	fw.Input, fw.Err, fw.Offload = in, err, ch.OffloadUnavailable
	if err == nil {
		fw.Ruleset, fw.Loaded, fw.Checked = rs, true, now
		if !ch.Empty() {
			fw.At = now
		}
	}
	forward = fw.Loaded
	d.net.mu.Unlock()
	if err != nil {
		d.log.Error("loading the firewall", "err", err)
	}
	return forward
}

// firewallRecheck bounds how long an unchanged ruleset goes without the
// applier comparing it with the kernel, which repairs a table someone
// edited. Replans that leave the firewall's input as it was skip it until
// then: building and checking the ruleset at every replan, when replans
// came every 30 s, was about 5 % of an idle mesh box's CPU time.
const firewallRecheck = 5 * time.Minute

// forwardingSysctls are the switches the planner turns on for a router.
var forwardingSysctls = []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding"}

// Renew forces the uplink's clients to renew (console `renew wan N`).
func (d *Daemon) renew(ctx context.Context, index int) error {
	d.mu.Lock()
	cfg := d.running
	d.mu.Unlock()
	if index < 0 || index >= len(cfg.WAN) {
		return fmt.Errorf("renew: no uplink %d (there are %d)", index, len(cfg.WAN))
	}
	u := d.net.uplink(cfg.WAN[index].Name)
	if u == nil {
		return fmt.Errorf("renew: uplink %s is not running", cfg.WAN[index].Name)
	}
	return u.Renew(ctx)
}
