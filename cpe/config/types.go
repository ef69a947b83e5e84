package config

import "net/netip"

// The struct tags drive everything in this package:
//
//	json:    the field's name in the document and on the CLI
//	help:    one line for completion, Describe and docs/config.md
//	default: applied when the key is absent ("@field" copies a sibling)
//	rule:    checks on the value itself, see rules.go; checked by Set at once
//	         and by Parse; rules across fields live in validate.go
//
// A pointer to a struct is a block whose presence enables a feature: {} means
// "on, with defaults". A pointer to a scalar is an optional value where the
// zero value is meaningful (subnet_id 0 is a real subnet).

// Config is the whole configuration document.
type Config struct {
	System   System   `json:"system" help:"identity and housekeeping of the box"`
	WAN      []WAN    `json:"wan,omitempty" help:"uplinks to an ISP or another network"`
	LAN      []LAN    `json:"lan,omitempty" help:"segments served by the box (IPv6 /64 each, optional IPv4)"`
	Mesh     Mesh     `json:"mesh,omitzero" help:"Babel routing with neighbouring boxes"`
	Firewall Firewall `json:"firewall,omitzero" help:"the stateful IPv6 firewall and its pinholes"`
}

// System holds settings of the box itself.
type System struct {
	Hostname string `json:"hostname,omitempty" default:"cpe" rule:"hostname" help:"host name (RFC 1123), also sent in DHCP requests"`
	LogLevel string `json:"log_level,omitempty" default:"info" rule:"enum=debug|info|warn|error" help:"least severe log level kept"`
	Watchdog bool   `json:"watchdog" default:"true" help:"feed the hardware watchdog; a hung box reboots"`
}

// WAN is one uplink.
type WAN struct {
	Name      string  `json:"name,omitempty" default:"@interface" rule:"zero,name" help:"name used in show commands and logs; defaults to the interface"`
	Interface string  `json:"interface" rule:"required,ifname" help:"Linux interface of the uplink"`
	MTU       int     `json:"mtu,omitempty" rule:"zero,range=576..9216" help:"link MTU; at least 1280 when IPv6 runs on it; 0 keeps the interface's"`
	DHCP4     *DHCP4  `json:"dhcp4,omitempty" help:"get an IPv4 address by DHCPv4 (RFC 2131)"`
	DHCP6     *DHCP6  `json:"dhcp6,omitempty" help:"get addresses and a delegated prefix by DHCPv6 (RFC 8415)"`
	RA        *RA     `json:"ra,omitempty" help:"process router advertisements: SLAAC address and default route (RFC 4861, 4862)"`
	Static    *Static `json:"static,omitempty" help:"fixed addresses, routes and DNS servers"`
}

// DHCP4 configures the DHCPv4 client of an uplink.
type DHCP4 struct {
	ClientID string `json:"client_id,omitempty" rule:"len=0..255" help:"client identifier (option 61) sent instead of the MAC address"`
	Hostname string `json:"hostname,omitempty" rule:"zero,hostname" help:"host name (option 12) sent instead of system.hostname"`
}

// DHCP6 configures the DHCPv6 client of an uplink.
type DHCP6 struct {
	IANA        bool   `json:"ia_na" default:"true" help:"ask for an address (IA_NA)"`
	IAPD        bool   `json:"ia_pd" default:"true" help:"ask for a delegated prefix for the LANs (IA_PD)"`
	PrefixHint  int    `json:"prefix_hint,omitempty" rule:"zero,range=48..64" help:"prefix length to ask for with IA_PD; 0 sends no hint"`
	RapidCommit bool   `json:"rapid_commit,omitempty" help:"offer rapid commit (two-message exchange)"`
	Start       string `json:"start,omitempty" default:"always" rule:"enum=auto|always" help:"always: start at once; auto: only when an RA sets the M or O flag"`
}

// RA configures router advertisement processing on an uplink.
type RA struct {
	AcceptDefaultRoute bool `json:"accept_default_route" default:"true" help:"install the default route the RAs announce"`
}

// Static is fixed addressing on an uplink.
type Static struct {
	Addresses []netip.Prefix `json:"addresses,omitempty" rule:"host" help:"addresses with prefix length, e.g. 2001:db8::2/64 or 203.0.113.2/24"`
	Routes    []Route        `json:"routes,omitempty" help:"routes through this uplink"`
	DNS       []netip.Addr   `json:"dns,omitempty" rule:"unicast" help:"DNS servers handed on to the LANs"`
}

// Route is one static route.
type Route struct {
	Prefix netip.Prefix `json:"prefix" rule:"required,network" help:"destination, e.g. ::/0 or 0.0.0.0/0"`
	Via    netip.Addr   `json:"via,omitzero" rule:"zero,unicast" help:"next hop; empty for an on-link route"`
	Metric uint32       `json:"metric,omitempty" help:"route metric; lower wins"`
}

// LAN is one segment the box serves.
type LAN struct {
	Name      string   `json:"name,omitempty" default:"@interface" rule:"zero,name" help:"name used in show commands and logs; defaults to the interface"`
	Interface string   `json:"interface" rule:"required,ifname" help:"Linux interface of the segment (the bridge when bridge is set)"`
	Bridge    *Bridge  `json:"bridge,omitempty" help:"create the interface as a bridge over ports"`
	IPv6      *LANIPv6 `json:"ipv6,omitempty" help:"serve IPv6: a /64 from the delegated prefix, RAs, DHCPv6"`
	IPv4      *LANIPv4 `json:"ipv4,omitempty" help:"serve IPv4: router address, NAT44, DHCPv4"`
}

// Bridge makes a LAN interface a bridge.
type Bridge struct {
	Ports []string `json:"ports,omitempty" rule:"ifname" help:"interfaces enslaved to the bridge"`
}

// LANIPv6 is the IPv6 service on a LAN.
type LANIPv6 struct {
	SubnetID *int     `json:"subnet_id,omitempty" rule:"range=0..65535" help:"which /64 of the delegated prefix; unset picks one and keeps it"`
	RA       LANRA    `json:"ra,omitzero" help:"router advertisements sent on the LAN"`
	DHCP6    LANDHCP6 `json:"dhcp6,omitzero" help:"DHCPv6 server on the LAN"`
	Firewall string   `json:"firewall,omitempty" default:"stateful" rule:"enum=stateful|open" help:"stateful: only answers come in (RFC 6092); open: transparent"`
}

// LANRA is what the advertiser puts in RAs beyond the prefix.
type LANRA struct {
	Managed bool `json:"managed,omitempty" help:"force the M flag (hosts get addresses by DHCPv6); on anyway with dhcp6.ia_na"`
	Other   bool `json:"other,omitempty" help:"force the O flag (DNS by DHCPv6); on anyway when stateless DHCPv6 has DNS servers or domains to give"`
	MTU     int  `json:"mtu,omitempty" rule:"zero,range=1280..9216" help:"MTU option; 0 sends none"`
}

// LANDHCP6 is the DHCPv6 server of a LAN.
type LANDHCP6 struct {
	Stateless bool   `json:"stateless" default:"true" help:"answer information requests (DNS servers)"`
	IANA      bool   `json:"ia_na,omitempty" help:"hand out addresses (IA_NA)"`
	PD        *LANPD `json:"pd,omitempty" help:"delegate prefixes to routers on the LAN (RFC 9818)"`
}

// LANPD is prefix delegation to downstream routers.
type LANPD struct {
	Length int `json:"length" default:"62" rule:"range=48..64" help:"length of each delegated prefix"`
}

// LANIPv4 is the IPv4 service on a LAN.
type LANIPv4 struct {
	Address netip.Prefix `json:"address" rule:"required,ipv4,host" help:"router address with prefix length, e.g. 192.168.1.1/24"`
	NAT     bool         `json:"nat" default:"true" help:"masquerade this subnet behind the uplinks (NAT44)"`
	DHCP4   *LANDHCP4    `json:"dhcp4,omitempty" help:"DHCPv4 server on the LAN"`
}

// LANDHCP4 is the DHCPv4 server of a LAN.
type LANDHCP4 struct {
	PoolStart    netip.Addr    `json:"pool_start" rule:"required,ipv4" help:"first address of the pool"`
	PoolEnd      netip.Addr    `json:"pool_end" rule:"required,ipv4" help:"last address of the pool"`
	LeaseTime    Duration      `json:"lease_time,omitzero" default:"12h" rule:"min=1m" help:"lease time"`
	StaticLeases []StaticLease `json:"static_leases,omitempty" help:"fixed addresses for known hosts"`
	DNS          []netip.Addr  `json:"dns,omitempty" rule:"ipv4,unicast" help:"DNS servers to hand out instead of the uplinks'"`
}

// StaticLease is a fixed DHCPv4 binding.
type StaticLease struct {
	MAC      MAC        `json:"mac" rule:"required" help:"the host's MAC address"`
	Address  netip.Addr `json:"address" rule:"required,ipv4" help:"address it always gets"`
	Hostname string     `json:"hostname,omitempty" rule:"zero,hostname" help:"host name to go with it"`
}

// Mesh is Babel routing (RFC 8966) with neighbouring boxes.
type Mesh struct {
	RouterID   RouterID  `json:"router_id,omitzero" help:"Babel router-id (EUI-64); empty derives one from a MAC address"`
	Interfaces []MeshIf  `json:"interfaces,omitempty" help:"interfaces Babel runs on"`
	Keys       []MeshKey `json:"keys,omitempty" help:"HMAC keys (RFC 8967); when set, unsigned packets are dropped"`
	WiFi       *MeshWiFi `json:"wifi,omitempty" help:"802.11s mesh point the Babel links run over"`
}

// MeshIf is one Babel interface.
type MeshIf struct {
	Interface      string   `json:"interface" rule:"required,ifname" help:"Linux interface"`
	Type           string   `json:"type,omitempty" default:"wireless" rule:"enum=wired|wireless" help:"wired: 2-out-of-3 link sensing; wireless: ETX"`
	HelloInterval  Duration `json:"hello_interval,omitzero" default:"4s" rule:"range=1s..655s,centiseconds" help:"interval between Hellos"`
	UpdateInterval Duration `json:"update_interval,omitzero" default:"16s" rule:"range=1s..655s,centiseconds" help:"interval between full route updates; not shorter than hello_interval"`
	Cost           int      `json:"cost,omitempty" rule:"zero,range=1..65534" help:"link cost; 0 computes it (ETX on wireless, 96 on wired)"`
}

// MeshKey is one Babel HMAC key.
type MeshKey struct {
	ID     string `json:"id" rule:"required,name" help:"name of the key"`
	Secret string `json:"secret" rule:"required,hexkey=32..64" help:"HMAC-SHA256 key, 32 to 64 bytes as hex digits"`
}

// MeshWiFi is the 802.11s mesh point.
type MeshWiFi struct {
	MeshID  string `json:"mesh_id" rule:"required,len=1..32" help:"mesh ID shared by all boxes of the mesh"`
	Channel int    `json:"channel" rule:"required,channel" help:"radio channel (1..14 on 2.4 GHz, 36..177 on 5 GHz)"`
	Key     string `json:"key,omitempty" rule:"zero,len=8..63" help:"SAE passphrase; empty runs an open mesh"`
}

// Firewall is the IPv6 firewall (RFC 6092) between the uplinks and the LANs.
type Firewall struct {
	Pinholes    []Pinhole `json:"pinholes,omitempty" help:"inbound traffic let through to LAN hosts"`
	FlowOffload bool      `json:"flow_offload,omitempty" help:"offload established flows to a flowtable"`
	LogDrops    bool      `json:"log_drops" default:"true" help:"log dropped packets (rate-limited)"`
}

// Pinhole lets inbound traffic through to a LAN host or subnet.
type Pinhole struct {
	Name     string       `json:"name" rule:"required,name" help:"name of the pinhole"`
	Address  netip.Prefix `json:"address" rule:"required,ipv6,network" help:"destination host (/128) or subnet"`
	Protocol string       `json:"protocol,omitempty" default:"any" rule:"enum=tcp|udp|sctp|udplite|icmpv6|any" help:"transport protocol"`
	Ports    []PortRange  `json:"ports,omitempty" help:"destination ports, e.g. 443 or 6000-6010; empty means all"`
}
