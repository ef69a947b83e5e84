package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// encoder turns one table of the model into nftables objects. It keeps the
// set objects so that rules can refer to them inside the same batch.
type encoder struct {
	table  *nftables.Table
	sets   map[string]*nftables.Set
	nextID uint32
	anon   []anonSet // anonymous sets the current rule needs, added before it
	// what the current rule has loaded already, so each dependency is
	// emitted once, as nft itself does
	haveNfproto, haveL4 bool
}

type anonSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

func familyOf(f Family) nftables.TableFamily {
	if f == FamilyIP {
		return nftables.TableFamilyIPv4
	}
	return nftables.TableFamilyINet
}

func newEncoder(t *Table) *encoder {
	return &encoder{
		table: &nftables.Table{Family: familyOf(t.Family), Name: t.Name},
		sets:  map[string]*nftables.Set{},
	}
}

func (e *encoder) set(s *Set) *nftables.Set {
	if ns, ok := e.sets[s.Name]; ok {
		return ns
	}
	e.nextID++
	ns := &nftables.Set{Table: e.table, Name: s.Name, ID: e.nextID}
	switch s.Type {
	case SetIfname:
		// nft reads strings in host byte order; without saying so it
		// prints every name as "".
		ns.KeyType, ns.KeyByteOrder = nftables.TypeIFName, binaryutil.NativeEndian
	case SetIPv4:
		ns.KeyType, ns.Interval, ns.KeyByteOrder = nftables.TypeIPAddr, true, binaryutil.BigEndian
	case SetIPv6:
		ns.KeyType, ns.Interval, ns.KeyByteOrder = nftables.TypeIP6Addr, true, binaryutil.BigEndian
	case SetPinhole:
		ns.KeyType = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)
		ns.Interval, ns.Concatenation, ns.KeyByteOrder = true, true, binaryutil.BigEndian
	case SetPinholeExact:
		ns.KeyType = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)
		ns.Concatenation, ns.KeyByteOrder = true, binaryutil.BigEndian
	}
	e.sets[s.Name] = ns
	return ns
}

func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

func pad4(b []byte) []byte {
	out := make([]byte, (len(b)+3)/4*4)
	copy(out, b)
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// lastAddr is the highest address inside p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// pinholeKey is the key of a concatenation ipv6_addr . inet_proto .
// inet_service: each field padded to 32 bits, as registers hold them.
func pinholeKey(a netip.Addr, proto uint8, port uint16) []byte {
	key := append(a.AsSlice(), pad4([]byte{proto})...)
	return append(key, pad4(be16(port))...)
}

// elements encodes set elements the way nft does: an interval set holds a
// start element and an end element one past the last address (none when
// the interval runs to the top of the address space); a concatenated
// interval set (pipapo) holds key and key end in one element, each field
// padded to 32 bits; one without intervals (a hash) holds the key alone.
func elements(s *Set) []nftables.SetElement {
	var out []nftables.SetElement
	for _, el := range s.Elements {
		switch s.Type {
		case SetIfname:
			out = append(out, nftables.SetElement{Key: ifname(el.Ifname)})
		case SetIPv4, SetIPv6:
			out = append(out, nftables.SetElement{Key: el.Prefix.Masked().Addr().AsSlice()})
			if next := lastAddr(el.Prefix).Next(); next.IsValid() {
				out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
			}
		case SetPinholeExact:
			out = append(out, nftables.SetElement{Key: pinholeKey(el.Prefix.Addr(), el.ProtoLo, el.PortLo)})
		case SetPinhole:
			key := pinholeKey(el.Prefix.Masked().Addr(), el.ProtoLo, el.PortLo)
			end := pinholeKey(lastAddr(el.Prefix), el.ProtoHi, el.PortHi)
			out = append(out, nftables.SetElement{Key: key, KeyEnd: end})
		}
	}
	return out
}

func cmpEq(reg uint32, data []byte) *expr.Cmp {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data}
}

func (e *encoder) nfproto(v6 bool) []expr.Any {
	if e.haveNfproto || e.table.Family != nftables.TableFamilyINet {
		return nil
	}
	e.haveNfproto = true
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq(1, []byte{p})}
}

func (e *encoder) l4(p uint8) []expr.Any {
	if e.haveL4 {
		return nil
	}
	e.haveL4 = true
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq(1, []byte{p})}
}

// lookupOrCmp matches register 1 against one value or an anonymous set.
func (e *encoder) lookupOrCmp(typ nftables.SetDatatype, vals [][]byte) []expr.Any {
	if len(vals) == 1 {
		return []expr.Any{cmpEq(1, vals[0])}
	}
	e.nextID++
	s := &nftables.Set{Table: e.table, Name: "__set%d", ID: e.nextID, Anonymous: true, Constant: true, KeyType: typ}
	var elems []nftables.SetElement
	for _, v := range vals {
		elems = append(elems, nftables.SetElement{Key: v})
	}
	e.anon = append(e.anon, anonSet{s, elems})
	return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}}
}

func (e *encoder) lookup(name string, invert bool) ([]expr.Any, error) {
	s, ok := e.sets[name]
	if !ok {
		return nil, fmt.Errorf("firewall: table %s: no set %q", e.table.Name, name)
	}
	return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: invert}}, nil
}

func (e *encoder) stmt(s Stmt) ([]expr.Any, error) {
	switch m := s.(type) {
	case ifaceMatch:
		key := expr.MetaKeyIIFNAME
		if m.Out {
			key = expr.MetaKeyOIFNAME
		}
		out := []expr.Any{&expr.Meta{Key: key, Register: 1}}
		if m.Set != "" {
			l, err := e.lookup(m.Set, false)
			return append(out, l...), err
		}
		return append(out, cmpEq(1, ifname(m.Name))), nil
	case nfprotoMatch:
		e.haveNfproto = false
		return e.nfproto(m.V6), nil
	case addrMatch:
		out := e.nfproto(m.V6)
		off, n := uint32(12), uint32(4)
		if m.V6 {
			off, n = 8, 16
		}
		if m.Dst {
			off += n
		}
		out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		if m.Set != "" {
			l, err := e.lookup(m.Set, m.Neg)
			return append(out, l...), err
		}
		mask := netip.PrefixFrom(lastAddr(netip.PrefixFrom(m.Prefix.Addr(), 0)), m.Prefix.Bits()).Masked().Addr().AsSlice()
		op := expr.CmpOpEq
		if m.Neg {
			op = expr.CmpOpNeq
		}
		return append(out,
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
			&expr.Cmp{Op: op, Register: 1, Data: m.Prefix.Masked().Addr().AsSlice()}), nil
	case ctMatch:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(m.Bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		}, nil
	case icmpMatch:
		proto, typ := uint8(unix.IPPROTO_ICMP), nftables.TypeICMPType
		if m.V6 {
			proto, typ = unix.IPPROTO_ICMPV6, nftables.TypeICMP6Type
		}
		out := e.l4(proto)
		out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
		var vals [][]byte
		for _, t := range m.Types {
			vals = append(vals, []byte{t})
		}
		return append(out, e.lookupOrCmp(typ, vals)...), nil
	case hopLimitMatch:
		out := e.nfproto(true)
		return append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 7, Len: 1}, cmpEq(1, []byte{m.Value})), nil
	case udpMatch:
		out := e.l4(unix.IPPROTO_UDP)
		if m.Sport != 0 {
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}, cmpEq(1, be16(m.Sport)))
		}
		if m.Dport != 0 {
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, cmpEq(1, be16(m.Dport)))
		}
		return out, nil
	case tcpSynMatch:
		out := e.l4(unix.IPPROTO_TCP)
		return append(out,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}}), nil
	case l4protoMatch:
		out := []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}}
		var vals [][]byte
		for _, p := range m.Protos {
			vals = append(vals, []byte{p})
		}
		return append(out, e.lookupOrCmp(nftables.TypeInetProto, vals)...), nil
	case pinholeMatch:
		out := e.nfproto(true)
		// Concatenations use 32-bit registers: the address fills 8..11
		// (register 1), the protocol 12, the port 13.
		out = append(out,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 12},
			&expr.Payload{DestRegister: 13, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
		l, err := e.lookup(m.Set, false)
		return append(out, l...), err
	case limitStmt:
		return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(m.PerSecond), Unit: expr.LimitTimeSecond, Burst: m.Burst}}, nil
	case counterStmt:
		if m.Name != "" {
			return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: m.Name}}, nil
		}
		return []expr.Any{&expr.Counter{}}, nil
	case logStmt:
		return []expr.Any{&expr.Log{Key: 1 << unix.NFTA_LOG_PREFIX, Data: []byte(m.Prefix)}}, nil
	case mssStmt:
		return []expr.Any{
			&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
			&expr.Exthdr{SourceRegister: 1, Type: 2, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt},
		}, nil
	case masqStmt:
		return []expr.Any{&expr.Masq{}}, nil
	case flowStmt:
		return []expr.Any{&expr.FlowOffload{Name: m.Flowtable}}, nil
	}
	return nil, fmt.Errorf("firewall: cannot encode %T", s)
}

func (e *encoder) rule(r Rule) ([]expr.Any, []byte, error) {
	e.haveNfproto, e.haveL4, e.anon = false, false, nil
	var out []expr.Any
	for _, s := range append(append([]Stmt(nil), r.Match...), r.Action...) {
		x, err := e.stmt(s)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, x...)
	}
	switch r.Verdict.Kind {
	case Accept:
		out = append(out, &expr.Verdict{Kind: expr.VerdictAccept})
	case Drop:
		out = append(out, &expr.Verdict{Kind: expr.VerdictDrop})
	case Goto:
		out = append(out, &expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Verdict.Chain})
	}
	var ud []byte
	if r.Comment != "" {
		ud = userdata.AppendString(nil, userdata.TypeComment, r.Comment)
	}
	return out, ud, nil
}

var hooks = map[Hook]*nftables.ChainHook{
	HookInput: nftables.ChainHookInput, HookForward: nftables.ChainHookForward,
	HookOutput: nftables.ChainHookOutput, HookPostrouting: nftables.ChainHookPostrouting,
}

// maxElemsPerMsg keeps each element list under the 64 KiB a netlink
// attribute can hold; a pipapo element with key and key end is ~70 bytes.
const maxElemsPerMsg = 512

// addTable queues the whole table into conn's batch.
func addTable(conn *nftables.Conn, t *Table) error {
	e := newEncoder(t)
	conn.AddTable(e.table)
	for _, c := range t.Counters {
		conn.AddObj(&nftables.CounterObj{Table: e.table, Name: c})
	}
	for i := range t.Sets {
		s := e.set(&t.Sets[i])
		if err := conn.AddSet(s, nil); err != nil {
			return fmt.Errorf("firewall: set %s: %w", s.Name, err)
		}
		if err := addElements(conn, s, elements(&t.Sets[i])); err != nil {
			return err
		}
	}
	for _, f := range t.Flowtables {
		conn.AddFlowtable(&nftables.Flowtable{Table: e.table, Name: f.Name, Hooknum: nftables.FlowtableHookIngress,
			Priority: nftables.FlowtablePriorityRef(0), Devices: f.Devices})
	}
	chains := map[string]*nftables.Chain{}
	for _, c := range t.Chains {
		nc := &nftables.Chain{Name: c.Name, Table: e.table}
		if c.Hook != HookNone {
			nc.Hooknum = hooks[c.Hook]
			nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.Priority))
			nc.Type = nftables.ChainType(c.Type)
			p := nftables.ChainPolicyAccept
			if c.Drop {
				p = nftables.ChainPolicyDrop
			}
			nc.Policy = &p
		}
		chains[c.Name] = conn.AddChain(nc)
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			x, ud, err := e.rule(r)
			if err != nil {
				return err
			}
			for _, a := range e.anon {
				if err := conn.AddSet(a.set, a.elems); err != nil {
					return fmt.Errorf("firewall: anonymous set: %w", err)
				}
			}
			conn.AddRule(&nftables.Rule{Table: e.table, Chain: chains[c.Name], Exprs: x, UserData: ud})
		}
	}
	return nil
}

func addElements(conn *nftables.Conn, s *nftables.Set, els []nftables.SetElement) error {
	for _, run := range chunks(s, els) {
		if err := conn.SetAddElements(s, run); err != nil {
			return fmt.Errorf("firewall: set %s: %w", s.Name, err)
		}
	}
	return nil
}
