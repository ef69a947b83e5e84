package firewall

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Applier loads Rulesets into the kernel. It touches only the tables named
// in the Ruleset it is given, each replaced in one netlink transaction, and
// when only set contents differ it rewrites those sets and nothing else.
type Applier struct {
	netns  int // 0: the current network namespace
	logger *slog.Logger

	mu sync.Mutex
	// what the last successful Apply left in the kernel
	skel    string
	last    Ruleset
	handles map[string][]uint64 // "family table chain" -> rule handles
	// gen is the ruleset generation our last commit left; genOK says
	// that commit was the only one in between (see generation).
	gen     uint32
	genOK   bool
	patched int // patchSets commits, for tests
	// flow offload probe, run once
	probed     bool
	offloadErr error
}

// ApplierOptions configure an Applier.
type ApplierOptions struct {
	NetNS  int // fd of the network namespace to work in; 0 means the current one
	Logger *slog.Logger
}

// NewApplier returns an Applier; it does not touch the kernel yet.
func NewApplier(opts ApplierOptions) *Applier {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Applier{netns: opts.NetNS, logger: l.With("component", "firewall")}
}

// Changes is what an Apply did.
type Changes struct {
	// Replaced lists the tables deleted and created again ("inet cpe").
	Replaced []string
	// Sets lists sets whose elements were rewritten in place.
	Sets []SetChange
	// OffloadUnavailable says why a wanted flowtable was left out.
	OffloadUnavailable string
}

// SetChange is one set rewritten in place.
type SetChange struct {
	Table, Set     string // "inet cpe", "own_v6"
	Added, Removed []string
}

// Empty reports whether nothing was changed.
func (c Changes) Empty() bool { return len(c.Replaced) == 0 && len(c.Sets) == 0 }

func (c Changes) String() string {
	var parts []string
	for _, t := range c.Replaced {
		parts = append(parts, "replaced table "+t)
	}
	for _, s := range c.Sets {
		parts = append(parts, fmt.Sprintf("set %s %s: +%v -%v", s.Table, s.Set, s.Added, s.Removed))
	}
	if c.OffloadUnavailable != "" {
		parts = append(parts, "flow offload unavailable: "+c.OffloadUnavailable)
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

func (a *Applier) conn() (*nftables.Conn, error) {
	// One transaction is one sendmsg: a ruleset with tens of thousands of
	// set elements needs more than the default socket buffers.
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}
	if a.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(a.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: netlink: %w", err)
	}
	return c, nil
}

const sockBuf = 32 << 20

func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for _, o := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, sockBuf); e != nil {
				serr = e // not root: keep the defaults, small rulesets still fit
			}
		}
	}); err != nil {
		return err
	}
	_ = serr
	return nil
}

// probeOffload creates a flowtable in a throw-away table, in a batch that
// deletes the table again: the kernel refuses the whole batch when it has
// no flowtable support, and leaves nothing behind when it has.
func probeOffload(conn *nftables.Conn) error {
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: "cpe_probe"}
	conn.AddTable(t)
	conn.AddFlowtable(&nftables.Flowtable{Table: t, Name: "probe", Hooknum: nftables.FlowtableHookIngress,
		Priority: nftables.FlowtablePriorityRef(0)})
	conn.DelTable(t)
	return conn.Flush()
}

// withoutOffload drops the flowtables and the rules that feed them.
func withoutOffload(rs Ruleset) Ruleset {
	out := Ruleset{}
	for _, t := range rs.Tables {
		t.Flowtables = nil
		chains := make([]Chain, 0, len(t.Chains))
		for _, c := range t.Chains {
			c.Rules = slices.DeleteFunc(slices.Clone(c.Rules), func(r Rule) bool {
				return slices.ContainsFunc(r.Action, func(s Stmt) bool { _, ok := s.(flowStmt); return ok })
			})
			chains = append(chains, c)
		}
		t.Chains = chains
		out.Tables = append(out.Tables, t)
	}
	return out
}

func wantsOffload(rs Ruleset) bool {
	for _, t := range rs.Tables {
		if len(t.Flowtables) > 0 {
			return true
		}
	}
	return false
}

// Apply makes the kernel's copy of rs's tables equal to rs.
func (a *Applier) Apply(ctx context.Context, rs Ruleset) (Changes, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ch Changes
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	conn, err := a.conn()
	if err != nil {
		return ch, err
	}
	if wantsOffload(rs) {
		if !a.probed {
			a.probed = true
			a.offloadErr = probeOffload(conn)
			if a.offloadErr != nil {
				a.logger.Warn("flow offload unavailable, forwarding without it", "err", a.offloadErr)
			}
		}
		if a.offloadErr != nil {
			ch.OffloadUnavailable = a.offloadErr.Error()
			rs = withoutOffload(rs)
		}
	}
	skel := rs.skeleton()
	if a.skel == skel && a.handles != nil && a.genOK {
		if g, err := a.generation(); err == nil && g == a.gen {
			return a.patchSets(ctx, conn, rs, ch)
		}
	}
	if a.skel == skel && a.handles != nil {
		same, err := a.kernelMatches(conn, rs)
		if err != nil {
			return ch, err
		}
		if same {
			return a.applySets(ctx, conn, rs, ch)
		}
	}
	return a.replace(ctx, conn, rs, ch)
}

// kernelMatches reports whether every table of rs still holds exactly the
// rules the last Apply created; anything else means someone edited our
// tables, and the only safe answer is to rebuild them.
func (a *Applier) kernelMatches(conn *nftables.Conn, rs Ruleset) (bool, error) {
	for i := range rs.Tables {
		t := &rs.Tables[i]
		nt := &nftables.Table{Family: familyOf(t.Family), Name: t.Name}
		for _, c := range t.Chains {
			rules, err := conn.GetRules(nt, &nftables.Chain{Name: c.Name, Table: nt})
			if err != nil {
				return false, nil // table or chain gone
			}
			var hs []uint64
			for _, r := range rules {
				hs = append(hs, r.Handle)
			}
			if !slices.Equal(hs, a.handles[tableKey(t)+" "+c.Name]) {
				return false, nil
			}
		}
	}
	return true, nil
}

func (a *Applier) replace(ctx context.Context, conn *nftables.Conn, rs Ruleset, ch Changes) (Changes, error) {
	for i := range rs.Tables {
		t := &rs.Tables[i]
		exists, err := tableExists(conn, t)
		if err != nil {
			return ch, err
		}
		if exists {
			conn.DelTable(&nftables.Table{Family: familyOf(t.Family), Name: t.Name})
		}
		if err := addTable(conn, t); err != nil {
			return ch, err
		}
	}
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	if err := a.commit(conn); err != nil {
		a.skel, a.handles = "", nil
		return ch, fmt.Errorf("firewall: replace tables: %w", err)
	}
	for i := range rs.Tables {
		ch.Replaced = append(ch.Replaced, tableKey(&rs.Tables[i]))
	}
	handles, err := ruleHandles(conn, rs)
	if err != nil {
		a.skel, a.handles = "", nil
		return ch, err
	}
	a.skel, a.last, a.handles = rs.skeleton(), rs, handles
	a.logger.Info("firewall tables replaced", "tables", ch.Replaced)
	return ch, nil
}

func tableExists(conn *nftables.Conn, t *Table) (bool, error) {
	ts, err := conn.ListTablesOfFamily(familyOf(t.Family))
	if err != nil {
		return false, fmt.Errorf("firewall: list tables: %w", err)
	}
	for _, x := range ts {
		if x.Name == t.Name {
			return true, nil
		}
	}
	return false, nil
}

func ruleHandles(conn *nftables.Conn, rs Ruleset) (map[string][]uint64, error) {
	out := map[string][]uint64{}
	for i := range rs.Tables {
		t := &rs.Tables[i]
		nt := &nftables.Table{Family: familyOf(t.Family), Name: t.Name}
		for _, c := range t.Chains {
			rules, err := conn.GetRules(nt, &nftables.Chain{Name: c.Name, Table: nt})
			if err != nil {
				return nil, fmt.Errorf("firewall: list rules of %s %s: %w", tableKey(t), c.Name, err)
			}
			var hs []uint64
			for _, r := range rules {
				hs = append(hs, r.Handle)
			}
			out[tableKey(t)+" "+c.Name] = hs
		}
	}
	return out, nil
}

// elemKey is a set element as the kernel stores it, for comparing.
func elemKey(e nftables.SetElement) string {
	s := hex.EncodeToString(e.Key)
	if len(e.KeyEnd) > 0 {
		s += "-" + hex.EncodeToString(e.KeyEnd)
	}
	if e.IntervalEnd {
		s += "/end"
	}
	return s
}

func elemKeys(es []nftables.SetElement) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, elemKey(e))
	}
	sort.Strings(out)
	return out
}

// applySets rewrites the sets whose kernel contents differ from rs, all in
// one transaction. A set is flushed and filled again rather than patched:
// inside one batch that is just as atomic, and it cannot trip over how the
// kernel split intervals.
func (a *Applier) applySets(ctx context.Context, conn *nftables.Conn, rs Ruleset, ch Changes) (Changes, error) {
	var changed []SetChange
	for i := range rs.Tables {
		t := &rs.Tables[i]
		e := newEncoder(t)
		for j := range t.Sets {
			s := &t.Sets[j]
			ns := e.set(s)
			have, err := conn.GetSetElements(ns)
			if err != nil {
				return ch, fmt.Errorf("firewall: read set %s: %w", s.Name, err)
			}
			want := elements(s)
			if slices.Equal(elemKeys(have), elemKeys(want)) {
				continue
			}
			conn.FlushSet(ns)
			if err := addElements(conn, ns, want); err != nil {
				return ch, err
			}
			sc := SetChange{Table: tableKey(t), Set: s.Name}
			if lt, ok := a.last.Table(t.Family, t.Name); ok {
				if ls, ok := lt.Set(s.Name); ok {
					added, removed := elementDiff(ls.Elements, s.Elements)
					sc = setChange(sc.Table, sc.Set, added, removed)
				}
			}
			changed = append(changed, sc)
		}
	}
	if len(changed) == 0 {
		a.last = rs
		return ch, nil
	}
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	if err := a.commit(conn); err != nil {
		return ch, fmt.Errorf("firewall: update sets: %w", err)
	}
	ch.Sets = changed
	a.last = rs
	a.logger.Info("firewall sets updated", "changes", ch.String())
	return ch, nil
}

// commit sends the batch queued on conn and notes the generation it left,
// when no other commit came in between.
func (a *Applier) commit(conn *nftables.Conn) error {
	before, gerr := a.generation()
	a.genOK = false
	if err := conn.Flush(); err != nil {
		return err
	}
	after, err := a.generation()
	a.gen, a.genOK = after, gerr == nil && err == nil && after == before+1
	return nil
}

// patchSets adds and deletes just the elements that differ from what the
// last Apply loaded. It is only called while the generation shows nobody
// else committed since, so the kernel's sets are known without reading
// them; this keeps a renumbering or a new pinhole cheap however big the
// sets are.
func (a *Applier) patchSets(ctx context.Context, conn *nftables.Conn, rs Ruleset, ch Changes) (Changes, error) {
	var changed []SetChange
	for i := range rs.Tables {
		t := &rs.Tables[i]
		lt, ok := a.last.Table(t.Family, t.Name)
		if !ok {
			return a.replace(ctx, conn, rs, ch)
		}
		e := newEncoder(t)
		for j := range t.Sets {
			s := &t.Sets[j]
			ls, ok := lt.Set(s.Name)
			if !ok {
				return a.replace(ctx, conn, rs, ch)
			}
			added, removed := elementDiff(ls.Elements, s.Elements)
			if len(added) == 0 && len(removed) == 0 {
				continue
			}
			ns := e.set(s)
			if len(removed) > 0 {
				if err := conn.SetDeleteElements(ns, elements(&Set{Type: s.Type, Elements: removed})); err != nil {
					return ch, fmt.Errorf("firewall: set %s: %w", s.Name, err)
				}
			}
			if err := addElements(conn, ns, elements(&Set{Type: s.Type, Elements: added})); err != nil {
				return ch, err
			}
			changed = append(changed, setChange(tableKey(t), s.Name, added, removed))
		}
	}
	if len(changed) == 0 {
		a.last = rs
		return ch, nil
	}
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	if err := a.commit(conn); err != nil {
		return ch, fmt.Errorf("firewall: update sets: %w", err)
	}
	ch.Sets = changed
	a.last = rs
	a.patched++
	a.logger.Info("firewall sets updated", "changes", ch.String())
	return ch, nil
}

// setChange describes a set's element changes for logs and show commands.
func setChange(table, set string, added, removed []Element) SetChange {
	sc := SetChange{Table: table, Set: set}
	for _, x := range added {
		sc.Added = append(sc.Added, x.String())
	}
	for _, x := range removed {
		sc.Removed = append(sc.Removed, x.String())
	}
	return sc
}
