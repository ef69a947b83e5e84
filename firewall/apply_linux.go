package firewall

import (
	"context"
	"encoding/hex"
	"errors"
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
//
// It keeps its netlink sockets open from the first Apply on, since dialling
// (into a network namespace above all) costs more than a small change
// itself; Close releases them.
type Applier struct {
	netns  int // 0: the current network namespace
	logger *slog.Logger

	mu sync.Mutex
	// The lasting sockets: nft for the nftables library, nl for the
	// generation and set element patches (batch_linux.go). Each is
	// dropped after an error, so that whatever a failed exchange left
	// queued or unread goes with it, and dialled again on next use.
	nft    *nftables.Conn
	nl     *netlink.Conn
	closed bool
	// what the last successful Apply left in the kernel; handles is nil
	// when nothing is known
	last    Ruleset
	handles map[string][]uint64 // "family table chain" -> rule handles
	// ascending says, per "family table set", that last's elements are
	// strictly ascending, which the next diff then need not check again.
	ascending map[string]bool
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

var errClosed = errors.New("firewall: applier closed")

// conn returns the lasting nftables connection, dialling it if need be.
func (a *Applier) conn() (*nftables.Conn, error) {
	if a.closed {
		return nil, errClosed
	}
	if a.nft != nil {
		return a.nft, nil
	}
	// One transaction is one sendmsg: a ruleset with tens of thousands of
	// set elements needs more than the default socket buffers.
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if a.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(a.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: netlink: %w", err)
	}
	a.nft = c
	return c, nil
}

// dropConns closes the sockets after an error: the nftables library
// neither forgets messages queued for a batch that was never sent nor
// matches replies to requests, so a socket that saw an error is not
// trusted with the next exchange.
func (a *Applier) dropConns() {
	if a.nft != nil {
		a.nft.CloseLasting()
		a.nft = nil
	}
	if a.nl != nil {
		a.nl.Close()
		a.nl = nil
	}
}

// Close releases the netlink sockets; the tables stay loaded. Apply and
// Stats fail after Close. An Applier that lives as long as the process
// need not be closed.
func (a *Applier) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.dropConns()
	return nil
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
func (a *Applier) Apply(ctx context.Context, rs Ruleset) (ch Changes, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	conn, err := a.conn()
	if err != nil {
		return ch, err
	}
	defer func() {
		if err != nil {
			a.dropConns()
		}
	}()
	if wantsOffload(rs) {
		if !a.probed {
			a.probed = true
			a.offloadErr = probeOffload(conn)
			if a.offloadErr != nil {
				a.logger.Warn("flow offload unavailable, forwarding without it", "err", a.offloadErr)
				// The refused batch went through the socket: start afresh.
				a.dropConns()
				if conn, err = a.conn(); err != nil {
					return ch, err
				}
			}
		}
		if a.offloadErr != nil {
			ch.OffloadUnavailable = a.offloadErr.Error()
			rs = withoutOffload(rs)
		}
	}
	if a.handles != nil && sameSkeleton(a.last, rs) {
		if a.genOK {
			pch, err := a.patchSets(rs, ch)
			if !errors.Is(err, errStale) {
				return pch, err
			}
			// Someone else committed since: what the kernel holds is
			// no longer known, read it back.
			a.genOK = false
		}
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
		a.handles = nil
		return ch, fmt.Errorf("firewall: replace tables: %w", err)
	}
	for i := range rs.Tables {
		ch.Replaced = append(ch.Replaced, tableKey(&rs.Tables[i]))
	}
	handles, err := ruleHandles(conn, rs)
	if err != nil {
		a.handles = nil
		return ch, err
	}
	a.last, a.handles, a.ascending = rs, handles, ascendingSets(rs)
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
		a.last, a.ascending = rs, ascendingSets(rs)
		return ch, nil
	}
	if err := ctx.Err(); err != nil {
		return ch, err
	}
	if err := a.commit(conn); err != nil {
		return ch, fmt.Errorf("firewall: update sets: %w", err)
	}
	ch.Sets = changed
	a.last, a.ascending = rs, ascendingSets(rs)
	a.logger.Info("firewall sets updated", "changes", ch.String())
	return ch, nil
}

func setKey(t *Table, s *Set) string { return tableKey(t) + " " + s.Name }

// ascendingSets notes which sets of rs are strictly ascending.
func ascendingSets(rs Ruleset) map[string]bool {
	out := map[string]bool{}
	for i := range rs.Tables {
		t := &rs.Tables[i]
		for j := range t.Sets {
			out[setKey(t, &t.Sets[j])] = ascending(t.Sets[j].Elements)
		}
	}
	return out
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
// last Apply loaded, in a batch the kernel refuses (errStale) when anyone
// else committed since our last commit: the kernel's sets are then known
// without reading them, which keeps a renumbering or a new pinhole cheap
// however big the sets are.
func (a *Applier) patchSets(rs Ruleset, ch Changes) (Changes, error) {
	var msgs []netlink.Message
	var changed []SetChange
	asc := make(map[string]bool, len(a.ascending))
	for i := range rs.Tables {
		t := &rs.Tables[i]
		lt, ok := a.last.Table(t.Family, t.Name)
		if !ok {
			return ch, errStale // not after sameSkeleton; be safe
		}
		var e *encoder
		for j := range t.Sets {
			s := &t.Sets[j]
			ls, ok := lt.Set(s.Name)
			if !ok {
				return ch, errStale
			}
			k := setKey(t, s)
			added, removed, sorted := diffElements(ls.Elements, a.ascending[k], s.Elements)
			asc[k] = sorted
			if len(added) == 0 && len(removed) == 0 {
				continue
			}
			if e == nil {
				e = newEncoder(t)
			}
			ns := e.set(s)
			del, err := elemMsgs(ns, elements(&Set{Type: s.Type, Elements: removed}), true)
			if err != nil {
				return ch, err
			}
			add, err := elemMsgs(ns, elements(&Set{Type: s.Type, Elements: added}), false)
			if err != nil {
				return ch, err
			}
			msgs = append(append(msgs, del...), add...)
			changed = append(changed, setChange(tableKey(t), s.Name, added, removed))
		}
	}
	if len(msgs) == 0 {
		// Nothing to send, but the caller must still learn whether
		// someone else changed our tables.
		if g, err := a.generation(); err != nil || g != a.gen {
			return ch, errStale
		}
		a.last, a.ascending = rs, asc
		return ch, nil
	}
	if err := a.sendPatch(msgs, a.gen); err != nil {
		if !errors.Is(err, errStale) {
			a.genOK = false
			err = fmt.Errorf("firewall: update sets: %w", err)
		}
		return ch, err
	}
	a.gen = nextGen(a.gen)
	ch.Sets = changed
	a.last, a.ascending = rs, asc
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
