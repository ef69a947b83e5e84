package ra

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/ndp"
)

// Advertisement is one RA as sent: the fields with the lifetimes it
// carried, for "show ra" and for tests.
type Advertisement struct {
	Sent   time.Time // zero: nothing sent yet
	To     netip.Addr
	Reason string // ReasonInitial, ReasonChanged, ...
	Size   int    // bytes of the ICMPv6 message

	HopLimit       uint8
	Managed, Other bool
	Preference     ndp.Preference
	RouterLifetime time.Duration
	MTU            uint32 // 0: no MTU option
	SourceLL       net.HardwareAddr

	Prefixes      []AdvertisedPrefix
	Routes        []AdvertisedRoute
	DNSServers    []AdvertisedServer
	SearchDomains []AdvertisedDomain
}

// AdvertisedPrefix is one PIO as sent.
type AdvertisedPrefix struct {
	Prefix           netip.Prefix
	OnLink           bool
	Autonomous       bool
	Preferred, Valid time.Duration
}

// AdvertisedRoute is one RIO as sent.
type AdvertisedRoute struct {
	Prefix     netip.Prefix
	Preference ndp.Preference
	Lifetime   time.Duration
}

// AdvertisedServer is one RDNSS address as sent (lifetime 0: withdrawn).
type AdvertisedServer struct {
	Addr     netip.Addr
	Lifetime time.Duration
}

// AdvertisedDomain is one DNSSL domain as sent (lifetime 0: withdrawn).
type AdvertisedDomain struct {
	Name     string
	Lifetime time.Duration
}

func (a Advertisement) clone() Advertisement {
	a.SourceLL = slices.Clone(a.SourceLL)
	a.Prefixes = slices.Clone(a.Prefixes)
	a.Routes = slices.Clone(a.Routes)
	a.DNSServers = slices.Clone(a.DNSServers)
	a.SearchDomains = slices.Clone(a.SearchDomains)
	return a
}

// remaining is what is left of a lifetime ending at end, in whole seconds
// rounded down (never advertise more than is left), never negative, and at
// most limit.
func remaining(now, end time.Time, limit time.Duration) time.Duration {
	d := end.Sub(now).Truncate(time.Second)
	return max(0, min(d, limit))
}

// maxFinite is the largest lifetime that is not Infinity (0xffffffff).
const maxFinite = ndp.Infinity - time.Second

// build computes the RA of the current Config at now.
func (a *Advertiser) build(now time.Time, final bool) Advertisement {
	c := &a.cfg
	adv := Advertisement{
		Sent: now, To: AllNodes,
		HopLimit: c.HopLimit, Managed: c.Managed, Other: c.Other,
		Preference: c.Preference, MTU: c.MTU, SourceLL: slices.Clone(c.SourceLL),
	}
	if c.DefaultRouter && !final {
		adv.RouterLifetime = c.RouterLifetime
	} else {
		// RFC 4191 2.2: with Router Lifetime 0 the preference must be
		// medium (sent as 00).
		adv.Preference = ndp.Medium
	}
	size := c.size()

	inPIO := map[netip.Prefix]bool{}
	for _, p := range c.Prefixes {
		inPIO[p.Prefix] = true
		valid := remaining(now, p.Valid, NDValidLimit)
		adv.Prefixes = append(adv.Prefixes, AdvertisedPrefix{
			Prefix: p.Prefix, OnLink: p.OnLink, Autonomous: p.Autonomous,
			Valid: valid, Preferred: min(remaining(now, p.Preferred, NDPreferredLimit), valid),
		})
	}
	for _, p := range c.Stale {
		inPIO[p] = true
		onLink, auto := true, true
		if h, ok := a.held[heldKey{kind: kindPIO, prefix: p}]; ok {
			onLink, auto = h.onLink, h.autonomous
		}
		adv.Prefixes = append(adv.Prefixes, AdvertisedPrefix{Prefix: p, OnLink: onLink, Autonomous: auto})
	}
	// Withdrawals are best effort: they are left out rather than let the
	// RA grow past the minimum MTU.
	for _, w := range a.withdrawn(now, kindPIO, func(k heldKey) bool { return inPIO[k.prefix] }) {
		if size+32 > maxMessage {
			break
		}
		size += 32
		adv.Prefixes = append(adv.Prefixes, AdvertisedPrefix{Prefix: w.key.prefix, OnLink: w.opt.onLink, Autonomous: w.opt.autonomous})
	}

	inRIO := map[netip.Prefix]bool{}
	for _, r := range c.Routes {
		inRIO[r.Prefix] = true
		lt := 3 * c.MaxInterval
		if !r.Until.IsZero() {
			lt = remaining(now, r.Until, maxFinite)
		}
		adv.Routes = append(adv.Routes, AdvertisedRoute{Prefix: r.Prefix, Preference: r.Preference, Lifetime: lt})
	}
	for _, w := range a.withdrawn(now, kindRIO, func(k heldKey) bool { return inRIO[k.prefix] }) {
		if n := rioSize(w.key.prefix.Bits()); size+n <= maxMessage {
			size += n
			adv.Routes = append(adv.Routes, AdvertisedRoute{Prefix: w.key.prefix, Preference: ndp.Preference(w.opt.preference)})
		}
	}

	inDNS := map[netip.Addr]bool{}
	for _, s := range c.DNSServers {
		inDNS[s] = true
		adv.DNSServers = append(adv.DNSServers, AdvertisedServer{Addr: s, Lifetime: c.DNSLifetime})
	}
	gone := a.withdrawn(now, kindRDNSS, func(k heldKey) bool { return inDNS[k.addr] })
	for i, w := range gone {
		if size+rdnssSize(i+1)-rdnssSize(i) > maxMessage {
			break
		}
		size += rdnssSize(i+1) - rdnssSize(i)
		adv.DNSServers = append(adv.DNSServers, AdvertisedServer{Addr: w.key.addr})
	}

	inDNSSL := map[string]bool{}
	for _, d := range c.SearchDomains {
		inDNSSL[d] = true
		adv.SearchDomains = append(adv.SearchDomains, AdvertisedDomain{Name: d, Lifetime: c.DNSLifetime})
	}
	var names []string
	for _, w := range a.withdrawn(now, kindDNSSL, func(k heldKey) bool { return inDNSSL[k.name] }) {
		grown := append(slices.Clone(names), w.key.name)
		if size-dnsslSize(names)+dnsslSize(grown) > maxMessage {
			break
		}
		size += dnsslSize(grown) - dnsslSize(names)
		names = grown
		adv.SearchDomains = append(adv.SearchDomains, AdvertisedDomain{Name: w.key.name})
	}
	return adv
}

// message turns adv into ndp's form. Entries of one option kind with one
// lifetime share an option: all current servers in one RDNSS, the
// withdrawn ones in another.
func (adv *Advertisement) message() *ndp.RouterAdvertisement {
	m := &ndp.RouterAdvertisement{
		CurrentHopLimit:           adv.HopLimit,
		ManagedConfiguration:      adv.Managed,
		OtherConfiguration:        adv.Other,
		RouterSelectionPreference: adv.Preference,
		RouterLifetime:            adv.RouterLifetime,
	}
	if adv.SourceLL != nil {
		m.Options = append(m.Options, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: adv.SourceLL})
	}
	if adv.MTU != 0 {
		m.Options = append(m.Options, ndp.NewMTU(adv.MTU))
	}
	for _, p := range adv.Prefixes {
		m.Options = append(m.Options, &ndp.PrefixInformation{
			PrefixLength: uint8(p.Prefix.Bits()), OnLink: p.OnLink, AutonomousAddressConfiguration: p.Autonomous,
			ValidLifetime: p.Valid, PreferredLifetime: p.Preferred, Prefix: p.Prefix.Addr(),
		})
	}
	for _, r := range adv.Routes {
		m.Options = append(m.Options, rio(r))
	}
	for _, group := range groupBy(adv.DNSServers, func(s AdvertisedServer) time.Duration { return s.Lifetime }) {
		o := &ndp.RecursiveDNSServer{Lifetime: group[0].Lifetime}
		for _, s := range group {
			o.Servers = append(o.Servers, s.Addr)
		}
		m.Options = append(m.Options, o)
	}
	for _, group := range groupBy(adv.SearchDomains, func(d AdvertisedDomain) time.Duration { return d.Lifetime }) {
		o := &ndp.DNSSearchList{Lifetime: group[0].Lifetime}
		for _, d := range group {
			o.DomainNames = append(o.DomainNames, d.Name)
		}
		m.Options = append(m.Options, o)
	}
	return m
}

// rio encodes a Route Information option (RFC 4191 2.3) by hand: ndp
// v1.1.0 writes it correctly but reads back only PrefixLength/8 whole
// bytes of the prefix, so nothing here goes through its RIO type.
func rio(r AdvertisedRoute) *ndp.RawOption {
	n := rioSize(r.Prefix.Bits())
	v := make([]byte, n-2)
	v[0] = byte(r.Prefix.Bits())
	v[1] = byte(r.Preference&3) << 3
	s := uint32(r.Lifetime / time.Second)
	v[2], v[3], v[4], v[5] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
	a := r.Prefix.Masked().Addr().As16()
	copy(v[6:], a[:n-8])
	return &ndp.RawOption{Type: 24, Length: uint8(n / 8), Value: v}
}

// groupBy splits s into runs of consecutive elements with the same key.
func groupBy[T any, K comparable](s []T, key func(T) K) [][]T {
	var out [][]T
	for i, v := range s {
		if i == 0 || key(s[i-1]) != key(v) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], v)
	}
	return out
}

func (adv *Advertisement) marshal() ([]byte, error) {
	b, err := ndp.MarshalMessage(adv.message())
	if err != nil {
		return nil, err
	}
	if len(b) > maxMessage {
		return nil, fmt.Errorf("%d bytes, more than %d", len(b), maxMessage)
	}
	return b, nil
}

// String prints the RA the way "show ra" does.
func (adv Advertisement) String() string {
	var s strings.Builder
	if adv.Sent.IsZero() {
		return "no router advertisement sent yet\n"
	}
	fmt.Fprintf(&s, "sent %s to %s (%s, %d bytes)\n", adv.Sent.UTC().Format(time.RFC3339Nano), adv.To, adv.Reason, adv.Size)
	fmt.Fprintf(&s, "hop limit %d, managed %t, other %t, preference %s, router lifetime %s\n",
		adv.HopLimit, adv.Managed, adv.Other, adv.Preference, secs(adv.RouterLifetime))
	if adv.SourceLL != nil {
		fmt.Fprintf(&s, "source link-layer address %s\n", adv.SourceLL)
	}
	if adv.MTU != 0 {
		fmt.Fprintf(&s, "mtu %d\n", adv.MTU)
	}
	for _, p := range adv.Prefixes {
		fmt.Fprintf(&s, "prefix %s on-link %t autonomous %t preferred %s valid %s\n",
			p.Prefix, p.OnLink, p.Autonomous, secs(p.Preferred), secs(p.Valid))
	}
	for _, r := range adv.Routes {
		fmt.Fprintf(&s, "route %s preference %s lifetime %s\n", r.Prefix, r.Preference, secs(r.Lifetime))
	}
	for _, d := range adv.DNSServers {
		fmt.Fprintf(&s, "dns server %s lifetime %s\n", d.Addr, secs(d.Lifetime))
	}
	for _, d := range adv.SearchDomains {
		fmt.Fprintf(&s, "search domain %s lifetime %s\n", d.Name, secs(d.Lifetime))
	}
	return s.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) }
