package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
)

// Virtual makes the box's bridges and VLAN sub-interfaces match want. It
// creates VLANs before bridges (a VLAN may be a bridge port), enslaves the
// listed ports and releases the others from our bridges, and deletes the
// links it created earlier (marked with OwnerAlias) that want no longer
// names. A link of the wanted name that the box did not create is used only
// if it already is of the wanted kind; it is never deleted.
func (o *linuxOps) Virtual(want []VirtualLink) ([]string, error) {
	links, err := o.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("kernel: list links: %w", err)
	}
	byName := map[string]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}
	var changes []string
	var errs []error
	wanted := map[string]bool{}
	ordered := slices.Clone(want)
	slices.SortStableFunc(ordered, func(a, b VirtualLink) int { return int(b.Kind) - int(a.Kind) }) // VLANs first
	for _, v := range ordered {
		wanted[v.Name] = true
		l, ch, err := o.ensure(v, byName)
		changes = append(changes, ch...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byName[v.Name] = l
	}
	for _, v := range ordered {
		if v.Kind != Bridge || byName[v.Name] == nil {
			continue
		}
		ch, err := o.ports(v, byName)
		changes = append(changes, ch...)
		errs = append(errs, err)
	}
	for _, l := range links {
		a := l.Attrs()
		if a.Alias != OwnerAlias || wanted[a.Name] {
			continue
		}
		if err := o.h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("kernel: delete %s %s: %w", l.Type(), a.Name, err))
			continue
		}
		changes = append(changes, "delete "+l.Type()+" "+a.Name)
	}
	return changes, errors.Join(errs...)
}

// ensure returns the link v, creating it (or re-creating one of ours of the
// wrong shape) when needed.
func (o *linuxOps) ensure(v VirtualLink, byName map[string]netlink.Link) (netlink.Link, []string, error) {
	var changes []string
	if l := byName[v.Name]; l != nil {
		if o.matches(v, l, byName) {
			return l, nil, nil
		}
		if l.Attrs().Alias != OwnerAlias {
			return nil, nil, fmt.Errorf("kernel: %s %s: a %s of that name exists and is not the box's", v.Kind, v.Name, l.Type())
		}
		if err := o.h.LinkDel(l); err != nil {
			return nil, nil, fmt.Errorf("kernel: delete %s to re-create it: %w", v.Name, err)
		}
		changes = append(changes, "delete "+l.Type()+" "+v.Name)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = v.Name
	var nl netlink.Link
	switch v.Kind {
	case Bridge:
		nl = &netlink.Bridge{LinkAttrs: attrs}
	case VLAN:
		parent := byName[v.Parent]
		if parent == nil {
			return nil, changes, fmt.Errorf("kernel: vlan %s: no parent link %s", v.Name, v.Parent)
		}
		attrs.ParentIndex = parent.Attrs().Index
		nl = &netlink.Vlan{LinkAttrs: attrs, VlanId: v.ID, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}
	}
	if err := o.h.LinkAdd(nl); err != nil {
		return nil, changes, fmt.Errorf("kernel: create %s %s: %w", v.Kind, v.Name, err)
	}
	l, err := o.h.LinkByName(v.Name)
	if err != nil {
		return nil, changes, fmt.Errorf("kernel: %s %s: %w", v.Kind, v.Name, err)
	}
	if err := o.h.LinkSetAlias(l, OwnerAlias); err != nil {
		return l, changes, fmt.Errorf("kernel: mark %s: %w", v.Name, err)
	}
	desc := "create " + v.Kind.String() + " " + v.Name
	if v.Kind == VLAN {
		desc += fmt.Sprintf(" on %s id %d", v.Parent, v.ID)
	}
	return l, append(changes, desc), nil
}

func (o *linuxOps) matches(v VirtualLink, l netlink.Link, byName map[string]netlink.Link) bool {
	switch x := l.(type) {
	case *netlink.Bridge:
		return v.Kind == Bridge
	case *netlink.Vlan:
		p := byName[v.Parent]
		return v.Kind == VLAN && x.VlanId == v.ID && p != nil && x.ParentIndex == p.Attrs().Index
	}
	return false
}

// ports enslaves v's ports to it (and sets them up: a bridge forwards only
// between ports that are up) and releases links enslaved to it that are no
// longer listed.
func (o *linuxOps) ports(v VirtualLink, byName map[string]netlink.Link) ([]string, error) {
	br := byName[v.Name]
	var changes []string
	var errs []error
	for _, name := range v.Ports {
		p := byName[name]
		if p == nil {
			errs = append(errs, fmt.Errorf("kernel: bridge %s: no port %s", v.Name, name))
			continue
		}
		if p.Attrs().MasterIndex != br.Attrs().Index {
			if err := o.h.LinkSetMaster(p, br); err != nil {
				errs = append(errs, fmt.Errorf("kernel: bridge %s: add port %s: %w", v.Name, name, err))
				continue
			}
			changes = append(changes, "set link "+name+" master "+v.Name)
		}
		if p.Attrs().Flags&net.FlagUp == 0 {
			if err := o.h.LinkSetUp(p); err != nil {
				errs = append(errs, fmt.Errorf("kernel: bridge %s: port %s up: %w", v.Name, name, err))
				continue
			}
			changes = append(changes, "set link "+name+" up")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		l := byName[name]
		if l.Attrs().MasterIndex == br.Attrs().Index && !slices.Contains(v.Ports, name) {
			if err := o.h.LinkSetNoMaster(l); err != nil {
				errs = append(errs, fmt.Errorf("kernel: bridge %s: release %s: %w", v.Name, name, err))
				continue
			}
			changes = append(changes, "set link "+name+" nomaster")
		}
	}
	return changes, errors.Join(errs...)
}
