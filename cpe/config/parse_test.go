package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Small valid pieces the bad documents below are built from.
const (
	wan0 = `{"interface": "wan0", "dhcp6": {}}`
	lan0 = `{"interface": "lan0", "ipv6": {}}`
)

// lanV4 is a LAN with IPv4 and a DHCPv4 server; dhcp4 is spliced into the
// dhcp4 object after the pool.
func lanV4(address, dhcp4 string) string {
	return `{"lan": [{"interface": "lan0", "ipv4": {"address": "` + address + `", "dhcp4": {"pool_start": "192.168.1.100", "pool_end": "192.168.1.200"` + dhcp4 + `}}}]}`
}

func meshIf(fields string) string {
	return `{"mesh": {"interfaces": [{"interface": "mesh0"` + fields + `}]}}`
}

func pinhole(fields string) string {
	return `{"firewall": {"pinholes": [{"name": "web", "address": "2001:db8::80/128"` + fields + `}]}}`
}

var badDocs = []struct {
	name string
	doc  string
	want []string
}{
	// The document as a whole.
	{"empty", ``, []string{"(document): empty document"}},
	{"blank", " \n\t", []string{"(document): empty document"}},
	{"list", `[1]`, []string{"(document): expected an object, got a list"}},
	{"null", `null`, []string{"(document): expected an object, got null"}},
	{"string", `"wan"`, []string{`(document): expected an object, got "wan"`}},
	{"syntax", "{\n  \"wan\": [}", []string{"(document): line 2 column 11: invalid JSON: invalid character '}' looking for beginning of value"}},
	{"truncated", `{"wan": [`, []string{"(document): invalid JSON: unexpected end of document"}},
	{"trailing data", `{} {}`, []string{"(document): line 1 column 4: unexpected data after the document"}},
	{"too deep", `{"x": ` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		[]string{"x" + strings.Repeat("[0]", 64) + ": nested too deeply"}},
	{"duplicate key", `{"system": {"hostname": "a", "hostname": "b"}}`, []string{"system.hostname: duplicate key"}},
	{"unknown top-level field", `{"sytem": {}}`, []string{"sytem: unknown field"}},
	{"odd unknown key", `{"a.b": 1}`, []string{`["a.b"]: unknown field`}},

	// system
	{"system not an object", `{"system": []}`, []string{"system: expected an object, got a list"}},
	{"hostname hyphen", `{"system": {"hostname": "-cpe"}}`, []string{"system.hostname: labels must not start or end with '-'"}},
	{"hostname underscore", `{"system": {"hostname": "my_cpe"}}`, []string{"system.hostname: must contain only letters, digits, '-' and '.'"}},
	{"hostname empty", `{"system": {"hostname": ""}}`, []string{"system.hostname: must not be empty"}},
	{"hostname empty label", `{"system": {"hostname": "a..b"}}`, []string{"system.hostname: labels must be 1 to 63 bytes long"}},
	{"log level", `{"system": {"log_level": "verbose"}}`, []string{"system.log_level: must be one of debug, info, warn, error"}},
	{"watchdog string", `{"system": {"watchdog": "yes"}}`, []string{`system.watchdog: expected a boolean (true or false), got "yes"`}},

	// wan
	{"wan not a list", `{"wan": {}}`, []string{"wan: expected a list, got an object"}},
	{"wan element not an object", `{"wan": [5, ` + wan0 + `]}`, []string{"wan[0]: expected an object, got 5"}},
	{"wan interface missing", `{"wan": [{"dhcp6": {}}]}`, []string{"wan[0].interface: required"}},
	{"wan interface too long", `{"wan": [{"interface": "abcdefghijklmnop", "dhcp6": {}}]}`, []string{"wan[0].interface: must be at most 15 bytes long"}},
	{"wan interface slash", `{"wan": [{"interface": "wan/0", "dhcp6": {}}]}`, []string{"wan[0].interface: must not contain '/', ':', whitespace or NUL"}},
	{"wan interface dotdot", `{"wan": [{"interface": "..", "dhcp6": {}}]}`, []string{`wan[0].interface: must not be "." or ".."`}},
	{"wan interface twice", `{"wan": [` + wan0 + `, ` + wan0 + `]}`, []string{`wan[1].interface: "wan0" is already used by wan[0].interface`}},
	{"wan name twice", `{"wan": [{"name": "up", "interface": "wan0", "ra": {}}, {"name": "up", "interface": "wan1", "ra": {}}]}`, []string{`wan[1].name: "up" is already used by wan[0].name`}},
	{"wan name space", `{"wan": [{"name": "my wan", "interface": "wan0", "ra": {}}]}`, []string{"wan[0].name: must not contain whitespace, control characters, '/', ':', quotes or '\\'"}},
	{"wan no method", `{"wan": [{"interface": "wan0"}]}`, []string{"wan[0]: needs at least one of dhcp4, dhcp6, ra, static"}},
	{"wan mtu string", `{"wan": [{"interface": "wan0", "mtu": "abc", "dhcp6": {}}]}`, []string{`wan[0].mtu: expected an integer, got "abc"`}},
	{"wan mtu fraction", `{"wan": [{"interface": "wan0", "mtu": 1500.5, "dhcp6": {}}]}`, []string{"wan[0].mtu: expected an integer, got 1500.5"}},
	{"wan mtu range", `{"wan": [{"interface": "wan0", "mtu": 100, "dhcp4": {}}]}`, []string{"wan[0].mtu: must be between 576 and 9216"}},
	{"wan mtu ipv6", `{"wan": [{"interface": "wan0", "mtu": 1000, "ra": {}}]}`, []string{"wan[0].mtu: must be at least 1280 when IPv6 runs on the uplink"}},
	{"wan mtu huge", `{"wan": [{"interface": "wan0", "mtu": 99999999999999999999, "dhcp6": {}}]}`, []string{"wan[0].mtu: must be between -9223372036854775808 and 9223372036854775807"}},
	{"dhcp4 not an object", `{"wan": [{"interface": "wan0", "dhcp4": true}]}`, []string{"wan[0].dhcp4: expected an object, got true"}},
	{"dhcp4 hostname", `{"wan": [{"interface": "wan0", "dhcp4": {"hostname": "a b"}}]}`, []string{"wan[0].dhcp4.hostname: must contain only letters, digits, '-' and '.'"}},
	{"dhcp4 client id long", `{"wan": [{"interface": "wan0", "dhcp4": {"client_id": "` + strings.Repeat("x", 256) + `"}}]}`, []string{"wan[0].dhcp4.client_id: must be at most 255 bytes long"}},
	{"prefix hint range", `{"wan": [{"interface": "wan0", "dhcp6": {"prefix_hint": 99}}]}`, []string{"wan[0].dhcp6.prefix_hint: must be between 48 and 64"}},
	{"prefix hint typo", `{"wan": [{"interface": "wan0", "dhcp6": {"prefx_hint": 56}}]}`, []string{"wan[0].dhcp6.prefx_hint: unknown field"}},
	{"prefix hint without pd", `{"wan": [{"interface": "wan0", "dhcp6": {"ia_pd": false, "prefix_hint": 56}}]}`, []string{"wan[0].dhcp6.prefix_hint: needs ia_pd"}},
	{"prefix hint, pd broken", `{"wan": [{"interface": "wan0", "dhcp6": {"ia_pd": "no", "prefix_hint": 56}}]}`, []string{`wan[0].dhcp6.ia_pd: expected a boolean (true or false), got "no"`}},
	{"dhcp6 start", `{"wan": [{"interface": "wan0", "dhcp6": {"start": "sometimes"}}]}`, []string{"wan[0].dhcp6.start: must be one of auto, always"}},
	{"static empty", `{"wan": [{"interface": "wan0", "static": {}}]}`, []string{"wan[0].static: needs at least one address or route"}},
	{"static address anycast", `{"wan": [{"interface": "wan0", "static": {"addresses": ["2001:db8::/64"]}}]}`, []string{"wan[0].static.addresses[0]: must be a host address, not the subnet-router anycast address"}},
	{"static address broadcast", `{"wan": [{"interface": "wan0", "static": {"addresses": ["203.0.113.255/24"]}}]}`, []string{"wan[0].static.addresses[0]: must be a host address, not the broadcast address"}},
	{"static address no length", `{"wan": [{"interface": "wan0", "static": {"addresses": ["203.0.113.2"]}}]}`, []string{`wan[0].static.addresses[0]: expected an IP prefix (address/length), got "203.0.113.2"`}},
	{"static address twice", `{"wan": [{"interface": "wan0", "static": {"addresses": ["2001:db8::2/64", "2001:db8::2/64"]}}]}`, []string{"wan[0].static.addresses[1]: duplicate of addresses[0]"}},
	{"static addresses not a list", `{"wan": [{"interface": "wan0", "static": {"addresses": "2001:db8::2/64"}}]}`, []string{`wan[0].static.addresses: expected a list, got "2001:db8::2/64"`}},
	{"route host bits", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "2001:db8::1/64"}]}}]}`, []string{"wan[0].static.routes[0].prefix: has host bits set; the network is 2001:db8::/64"}},
	{"route prefix missing", `{"wan": [{"interface": "wan0", "static": {"routes": [{"via": "fe80::1"}]}}]}`, []string{"wan[0].static.routes[0].prefix: required"}},
	{"route via family", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "via": "192.0.2.1"}]}}]}`, []string{"wan[0].static.routes[0].via: must be of the same family as prefix ::/0"}},
	{"route via multicast", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "via": "ff02::1"}]}}]}`, []string{"wan[0].static.routes[0].via: must be a unicast address"}},
	{"route metric negative", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "metric": -1}]}}]}`, []string{"wan[0].static.routes[0].metric: must be between 0 and 4294967295"}},
	{"static dns unspecified", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0"}], "dns": ["::"]}}]}`, []string{"wan[0].static.dns[0]: must be a unicast address"}},
	{"static dns empty", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0"}], "dns": [""]}}]}`, []string{"wan[0].static.dns[0]: must not be empty"}},
	{"static dns null element", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0"}], "dns": [null]}}]}`, []string{"wan[0].static.dns[0]: expected an IP address, got null"}},

	// lan
	{"lan nothing to serve", `{"lan": [{"interface": "lan0"}]}`, []string{"lan[0]: needs ipv6, ipv4 or both"}},
	{"lan interface of a wan", `{"wan": [` + wan0 + `], "lan": [{"interface": "wan0", "ipv6": {}}]}`, []string{`lan[0].interface: "wan0" is already used by wan[0].interface`}},
	{"bridge port of a wan", `{"wan": [` + wan0 + `], "lan": [{"interface": "br0", "bridge": {"ports": ["lan0", "wan0"]}, "ipv6": {}}]}`, []string{`lan[0].bridge.ports[1]: "wan0" is already used by wan[0].interface`}},
	{"bridge port is the bridge", `{"lan": [{"interface": "br0", "bridge": {"ports": ["br0"]}, "ipv6": {}}]}`, []string{`lan[0].bridge.ports[0]: "br0" is already used by lan[0].interface`}},
	{"bridge port in two bridges", `{"lan": [{"interface": "br0", "bridge": {"ports": ["eth1"]}, "ipv6": {}}, {"interface": "br1", "bridge": {"ports": ["eth1"]}, "ipv6": {}}]}`, []string{`lan[1].bridge.ports[0]: "eth1" is already used by lan[0].bridge.ports[0]`}},
	{"subnet id range", `{"lan": [{"interface": "lan0", "ipv6": {"subnet_id": 70000}}]}`, []string{"lan[0].ipv6.subnet_id: must be between 0 and 65535"}},
	{"subnet id twice", `{"lan": [{"interface": "lan0", "ipv6": {"subnet_id": 1}}, {"interface": "lan1", "ipv6": {"subnet_id": 1}}]}`, []string{"lan[1].ipv6.subnet_id: 1 is already used by lan[0].ipv6.subnet_id"}},
	{"managed without ia_na", `{"lan": [{"interface": "lan0", "ipv6": {"ra": {"managed": true}}}]}`, []string{"lan[0].ipv6.ra.managed: needs dhcp6.ia_na: hosts would ask a DHCPv6 server for addresses that it does not hand out"}},
	{"other without server", `{"lan": [{"interface": "lan0", "ipv6": {"ra": {"other": true}, "dhcp6": {"stateless": false}}}]}`, []string{"lan[0].ipv6.ra.other: needs dhcp6.stateless or dhcp6.ia_na: hosts would ask a DHCPv6 server that does not answer"}},
	{"ra mtu", `{"lan": [{"interface": "lan0", "ipv6": {"ra": {"mtu": 1000}}}]}`, []string{"lan[0].ipv6.ra.mtu: must be between 1280 and 9216"}},
	{"lan firewall", `{"lan": [{"interface": "lan0", "ipv6": {"firewall": "closed"}}]}`, []string{"lan[0].ipv6.firewall: must be one of stateful, open"}},
	{"pd length", `{"lan": [{"interface": "lan0", "ipv6": {"dhcp6": {"pd": {"length": 40}}}}]}`, []string{"lan[0].ipv6.dhcp6.pd.length: must be between 48 and 64"}},
	{"ipv4 address missing", `{"lan": [{"interface": "lan0", "ipv4": {}}]}`, []string{"lan[0].ipv4.address: required"}},
	{"ipv4 address is ipv6", `{"lan": [{"interface": "lan0", "ipv4": {"address": "2001:db8::1/64"}}]}`, []string{"lan[0].ipv4.address: must be an IPv4 prefix, not IPv6"}},
	{"ipv4 network address", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.0/24"}}]}`, []string{"lan[0].ipv4.address: must be a host address, not the network address"}},
	{"ipv4 slash 31", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.0/31"}}]}`, []string{"lan[0].ipv4.address: prefix length must be between 8 and 30"}},
	{"ipv4 subnets overlap", `{"lan": [{"interface": "lan0", "ipv4": {"address": "10.0.0.1/16"}}, {"interface": "lan1", "ipv4": {"address": "10.0.1.1/24"}}]}`, []string{"lan[1].ipv4.address: subnet 10.0.1.0/24 overlaps 10.0.0.0/16 of lan[0].ipv4.address"}},
	{"pool outside", lanV4("192.168.2.1/24", ""), []string{
		"lan[0].ipv4.dhcp4.pool_start: 192.168.1.100 is outside the subnet 192.168.2.0/24",
		"lan[0].ipv4.dhcp4.pool_end: 192.168.1.200 is outside the subnet 192.168.2.0/24"}},
	{"pool reversed", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.1/24", "dhcp4": {"pool_start": "192.168.1.200", "pool_end": "192.168.1.100"}}}]}`, []string{"lan[0].ipv4.dhcp4.pool_end: must not be below pool_start 192.168.1.200"}},
	{"pool has router", lanV4("192.168.1.150/24", ""), []string{"lan[0].ipv4.dhcp4.pool_start: the pool 192.168.1.100-192.168.1.200 includes the router address 192.168.1.150"}},
	{"pool network and broadcast", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.1/24", "dhcp4": {"pool_start": "192.168.1.0", "pool_end": "192.168.1.255"}}}]}`, []string{
		"lan[0].ipv4.dhcp4.pool_start: 192.168.1.0 is the network address of 192.168.1.0/24",
		"lan[0].ipv4.dhcp4.pool_end: 192.168.1.255 is the broadcast address of 192.168.1.0/24"}},
	{"pool missing", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.1/24", "dhcp4": {}}}]}`, []string{
		"lan[0].ipv4.dhcp4.pool_start: required",
		"lan[0].ipv4.dhcp4.pool_end: required"}},
	{"pool ipv6", `{"lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.1/24", "dhcp4": {"pool_start": "2001:db8::1", "pool_end": "192.168.1.9"}}}]}`, []string{"lan[0].ipv4.dhcp4.pool_start: must be an IPv4 address, not IPv6"}},
	{"lease time short", lanV4("192.168.1.1/24", `, "lease_time": "30s"`), []string{"lan[0].ipv4.dhcp4.lease_time: must be at least 1m"}},
	{"lease time negative", lanV4("192.168.1.1/24", `, "lease_time": "-1h"`), []string{"lan[0].ipv4.dhcp4.lease_time: must not be negative"}},
	{"lease time number", lanV4("192.168.1.1/24", `, "lease_time": 3600`), []string{"lan[0].ipv4.dhcp4.lease_time: expected a duration (4s, 12h), got 3600"}},
	{"lease mac", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "zz", "address": "192.168.1.10"}]`), []string{`lan[0].ipv4.dhcp4.static_leases[0].mac: expected a MAC address, got "zz"`}},
	{"lease mac eui64", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02:00:00:ff:fe:00:00:01", "address": "192.168.1.10"}]`), []string{`lan[0].ipv4.dhcp4.static_leases[0].mac: expected a MAC address, got "02:00:00:ff:fe:00:00:01"`}},
	{"lease mac twice", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02:00:00:00:00:01", "address": "192.168.1.10"}, {"mac": "02:00:00:00:00:01", "address": "192.168.1.11"}]`),
		[]string{"lan[0].ipv4.dhcp4.static_leases[1].mac: 02:00:00:00:00:01 already has a lease at lan[0].ipv4.dhcp4.static_leases[0]"}},
	{"lease address twice", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02:00:00:00:00:01", "address": "192.168.1.10"}, {"mac": "02:00:00:00:00:02", "address": "192.168.1.10"}]`),
		[]string{"lan[0].ipv4.dhcp4.static_leases[1].address: 192.168.1.10 is already leased by lan[0].ipv4.dhcp4.static_leases[0]"}},
	{"lease address outside", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02:00:00:00:00:01", "address": "10.0.0.10"}]`),
		[]string{"lan[0].ipv4.dhcp4.static_leases[0].address: 10.0.0.10 is outside the subnet 192.168.1.0/24"}},
	{"lease router address", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02:00:00:00:00:01", "address": "192.168.1.1"}]`),
		[]string{"lan[0].ipv4.dhcp4.static_leases[0].address: is the router address"}},
	{"lease fields missing", lanV4("192.168.1.1/24", `, "static_leases": [{}]`), []string{
		"lan[0].ipv4.dhcp4.static_leases[0].mac: required",
		"lan[0].ipv4.dhcp4.static_leases[0].address: required"}},
	{"dhcp4 dns ipv6", lanV4("192.168.1.1/24", `, "dns": ["2001:db8::53"]`), []string{"lan[0].ipv4.dhcp4.dns[0]: must be an IPv4 address, not IPv6"}},

	// mesh
	{"router id reserved", `{"mesh": {"router_id": "ff:ff:ff:ff:ff:ff:ff:ff"}}`, []string{"mesh.router_id: all-zeros and all-ones router-ids are reserved"}},
	{"router id short", `{"mesh": {"router_id": "02:00:00:00:00:01"}}`, []string{`mesh.router_id: expected a router-id (xx:xx:xx:xx:xx:xx:xx:xx), got "02:00:00:00:00:01"`}},
	{"mesh interface missing", `{"mesh": {"interfaces": [{"type": "wired"}]}}`, []string{"mesh.interfaces[0].interface: required"}},
	{"mesh type", meshIf(`, "type": "radio"`), []string{"mesh.interfaces[0].type: must be one of wired, wireless"}},
	{"hello too fast", meshIf(`, "hello_interval": "500ms"`), []string{"mesh.interfaces[0].hello_interval: must be between 1s and 10m55s"}},
	{"hello centiseconds", meshIf(`, "hello_interval": "4.005s"`), []string{"mesh.interfaces[0].hello_interval: must be a multiple of 10ms"}},
	{"update below hello", meshIf(`, "hello_interval": "10s", "update_interval": "5s"`), []string{"mesh.interfaces[0].update_interval: must not be shorter than hello_interval (10s)"}},
	{"update below default hello", meshIf(`, "update_interval": "2s"`), []string{"mesh.interfaces[0].update_interval: must not be shorter than hello_interval (4s)"}},
	{"update, hello broken", meshIf(`, "hello_interval": 10, "update_interval": "5s"`), []string{"mesh.interfaces[0].hello_interval: expected a duration (4s, 12h), got 10"}},
	{"mesh cost", meshIf(`, "cost": 65535`), []string{"mesh.interfaces[0].cost: must be between 1 and 65534"}},
	{"mesh on a lan", `{"lan": [` + lan0 + `], "mesh": {"interfaces": [{"interface": "lan0"}]}}`, []string{`mesh.interfaces[0].interface: "lan0" is already used by lan[0].interface`}},
	{"key short", `{"mesh": {"keys": [{"id": "k", "secret": "00112233"}]}}`, []string{"mesh.keys[0].secret: must be 32 to 64 bytes written as 64 to 128 hex digits"}},
	{"key not hex", `{"mesh": {"keys": [{"id": "k", "secret": "` + strings.Repeat("zz", 32) + `"}]}}`, []string{"mesh.keys[0].secret: must be 32 to 64 bytes written as 64 to 128 hex digits"}},
	{"key id twice", `{"mesh": {"keys": [{"id": "k", "secret": "` + strings.Repeat("ab", 32) + `"}, {"id": "k", "secret": "` + strings.Repeat("cd", 32) + `"}]}}`, []string{`mesh.keys[1].id: "k" is already used by mesh.keys[0].id`}},
	{"wifi empty", `{"mesh": {"wifi": {}}}`, []string{"mesh.wifi.mesh_id: required", "mesh.wifi.channel: required"}},
	{"wifi mesh id long", `{"mesh": {"wifi": {"mesh_id": "` + strings.Repeat("m", 33) + `", "channel": 6}}}`, []string{"mesh.wifi.mesh_id: must be 1 to 32 bytes long"}},
	{"wifi channel", `{"mesh": {"wifi": {"mesh_id": "m", "channel": 15}}}`, []string{"mesh.wifi.channel: must be a channel in 1..14 (2.4 GHz) or 36..177 (5 GHz)"}},
	{"wifi key short", `{"mesh": {"wifi": {"mesh_id": "m", "channel": 6, "key": "short"}}}`, []string{"mesh.wifi.key: must be 8 to 63 bytes long"}},

	// firewall
	{"pinhole ipv4", `{"firewall": {"pinholes": [{"name": "web", "address": "192.0.2.80/32"}]}}`, []string{"firewall.pinholes[0].address: must be an IPv6 prefix, not IPv4"}},
	{"pinhole host bits", `{"firewall": {"pinholes": [{"name": "web", "address": "2001:db8::80/64"}]}}`, []string{"firewall.pinholes[0].address: has host bits set; the network is 2001:db8::/64"}},
	{"pinhole fields missing", `{"firewall": {"pinholes": [{}]}}`, []string{"firewall.pinholes[0].name: required", "firewall.pinholes[0].address: required"}},
	{"pinhole name twice", `{"firewall": {"pinholes": [{"name": "web", "address": "2001:db8::80/128"}, {"name": "web", "address": "2001:db8::81/128"}]}}`, []string{`firewall.pinholes[1].name: "web" is already used by firewall.pinholes[0].name`}},
	{"pinhole protocol", pinhole(`, "protocol": "icmp"`), []string{"firewall.pinholes[0].protocol: must be one of tcp, udp, sctp, udplite, icmpv6, any"}},
	{"port zero", pinhole(`, "protocol": "tcp", "ports": ["0"]`), []string{"firewall.pinholes[0].ports[0]: ports must be between 1 and 65535"}},
	{"port too big", pinhole(`, "protocol": "tcp", "ports": ["70000"]`), []string{"firewall.pinholes[0].ports[0]: ports must be between 1 and 65535"}},
	{"port range reversed", pinhole(`, "protocol": "tcp", "ports": ["2000-1000"]`), []string{"firewall.pinholes[0].ports[0]: range start must not be above its end"}},
	{"port name", pinhole(`, "protocol": "tcp", "ports": ["http"]`), []string{`firewall.pinholes[0].ports[0]: expected a port or port range (443, 6000-6010), got "http"`}},
	{"port number", pinhole(`, "protocol": "tcp", "ports": [80]`), []string{"firewall.pinholes[0].ports[0]: expected a port or port range (443, 6000-6010), got 80"}},
	{"port twice", pinhole(`, "protocol": "tcp", "ports": ["80", "80-80"]`), []string{"firewall.pinholes[0].ports[1]: duplicate of ports[0]"}},
	{"ports need a protocol", pinhole(`, "ports": ["80"]`), []string{"firewall.pinholes[0].ports: needs protocol tcp, udp, sctp or udplite, not any"}},
	{"ports, protocol broken", pinhole(`, "protocol": 6, "ports": ["80"]`), []string{"firewall.pinholes[0].protocol: expected a string, got 6"}},
	{"log drops", `{"firewall": {"log_drops": "no"}}`, []string{`firewall.log_drops: expected a boolean (true or false), got "no"`}},
	{"flow offload", `{"firewall": {"flow_offload": 1}}`, []string{"firewall.flow_offload: expected a boolean (true or false), got 1"}},
}

func TestParseBad(t *testing.T) {
	if len(badDocs) < 30 {
		t.Fatalf("only %d bad documents", len(badDocs))
	}
	for _, tc := range badDocs {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error is %T, want Errors", err)
			}
			if got := lines(errs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n  got  %q\n  want %q", got, tc.want)
			}
			if got := lines(Check([]byte(tc.doc))); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Check disagrees with Parse: %q", got)
			}
		})
	}
}

func lines(errs Errors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// TestParseReportsEverything: one document with problems all over comes
// back with all of them, in document order.
func TestParseReportsEverything(t *testing.T) {
	doc := `{
	  "firewall": {"pinholes": [{"name": "web", "address": "192.0.2.1/32"}]},
	  "system": {"hostname": "-x", "colour": "blue"},
	  "wan": [
	    {"interface": "wan0", "mtu": "abc", "dhcp6": {"prefx_hint": 56, "prefix_hint": 99}},
	    {"interface": "wan0", "ra": {}}
	  ],
	  "lan": [{"interface": "lan0", "ipv4": {"address": "192.168.1.1/24",
	    "dhcp4": {"pool_start": "10.0.0.1", "pool_end": "192.168.1.9", "lease_time": "-1s"}}}],
	  "mesh": {"interfaces": [{"interface": "mesh0", "hello_interval": "20s", "update_interval": "10s"}]}
	}`
	want := []string{
		"system.hostname: labels must not start or end with '-'",
		"system.colour: unknown field",
		`wan[0].mtu: expected an integer, got "abc"`,
		"wan[0].dhcp6.prefix_hint: must be between 48 and 64",
		"wan[0].dhcp6.prefx_hint: unknown field",
		`wan[1].interface: "wan0" is already used by wan[0].interface`,
		"lan[0].ipv4.dhcp4.pool_start: 10.0.0.1 is outside the subnet 192.168.1.0/24",
		"lan[0].ipv4.dhcp4.lease_time: must not be negative",
		"mesh.interfaces[0].update_interval: must not be shorter than hello_interval (20s)",
		"firewall.pinholes[0].address: must be an IPv6 prefix, not IPv4",
	}
	_, err := Parse([]byte(doc))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: %v", err)
	}
	if got := lines(errs); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := errs.Error(), strings.Join(want, "\n"); got != want {
		t.Errorf("Errors.Error() = %q, want one line per error", got)
	}
}

var goodDocs = []struct {
	name string
	doc  string
}{
	{"empty object", `{}`},
	{"ipv4-only uplink may have a small mtu", `{"wan": [{"interface": "wan0", "mtu": 1000, "dhcp4": {}}]}`},
	{"nulls are absent", `{"system": null, "wan": [{"interface": "wan0", "mtu": null, "dhcp6": {}, "dhcp4": null}]}`},
	{"static unnumbered", `{"wan": [{"interface": "wan0", "static": {"routes": [{"prefix": "::/0", "via": "fe80::1"}]}}]}`},
	{"ipv6 point-to-point", `{"wan": [{"interface": "wan0", "static": {"addresses": ["2001:db8::/127", "192.0.2.0/31"]}}]}`},
	{"same name on a wan and a lan", `{"wan": [{"name": "x", "interface": "wan0", "ra": {}}], "lan": [{"name": "x", "interface": "lan0", "ipv6": {}}]}`},
	{"subnet id 0", `{"lan": [{"interface": "lan0", "ipv6": {"subnet_id": 0}}, {"interface": "lan1", "ipv6": {"subnet_id": 1}}]}`},
	{"managed with ia_na", `{"lan": [{"interface": "lan0", "ipv6": {"ra": {"managed": true, "other": true}, "dhcp6": {"ia_na": true, "stateless": false}}}]}`},
	{"pool of one", `{"lan": [{"interface": "lan0", "ipv4": {"address": "10.0.0.1/30", "dhcp4": {"pool_start": "10.0.0.2", "pool_end": "10.0.0.2"}}}]}`},
	{"lease outside the pool", lanV4("192.168.1.1/24", `, "static_leases": [{"mac": "02-00-00-00-00-01", "address": "192.168.1.10", "hostname": "printer"}]`)},
	{"mesh defaults", `{"mesh": {"interfaces": [{"interface": "mesh0"}, {"interface": "mesh1", "type": "wired", "hello_interval": "1s", "update_interval": "1s"}]}}`},
	{"pinhole any protocol", pinhole(``)},
}

func TestParseGood(t *testing.T) {
	for _, tc := range goodDocs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.doc)); err != nil {
				t.Errorf("Parse:\n%v", err)
			}
			if errs := Check([]byte(tc.doc)); errs != nil {
				t.Errorf("Check = %v, want nil", errs)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`{
	  "wan": [{"interface": "wan0", "dhcp6": {}, "ra": {}}, {"interface": "wan1", "dhcp6": {"ia_na": false}}],
	  "lan": [{"interface": "lan0", "ipv6": {"dhcp6": {"pd": {}}},
	    "ipv4": {"address": "192.168.1.1/24", "dhcp4": {"pool_start": "192.168.1.100", "pool_end": "192.168.1.250"}}}],
	  "mesh": {"interfaces": [{"interface": "mesh0"}]},
	  "firewall": {"pinholes": [{"name": "all", "address": "2001:db8::1/128"}]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		System: System{Hostname: "cpe", LogLevel: "info", Watchdog: true},
		WAN: []WAN{
			{Name: "wan0", Interface: "wan0", DHCP6: &DHCP6{IANA: true, IAPD: true, Start: "always"}, RA: &RA{AcceptDefaultRoute: true}},
			{Name: "wan1", Interface: "wan1", DHCP6: &DHCP6{IANA: false, IAPD: true, Start: "always"}},
		},
		LAN: []LAN{{
			Name: "lan0", Interface: "lan0",
			IPv6: &LANIPv6{DHCP6: LANDHCP6{Stateless: true, PD: &LANPD{Length: 62}}, Firewall: "stateful"},
			IPv4: &LANIPv4{
				Address: netip.MustParsePrefix("192.168.1.1/24"), NAT: true,
				DHCP4: &LANDHCP4{
					PoolStart: netip.MustParseAddr("192.168.1.100"), PoolEnd: netip.MustParseAddr("192.168.1.250"),
					LeaseTime: Duration(12 * time.Hour),
				},
			},
		}},
		Mesh: Mesh{Interfaces: []MeshIf{{Interface: "mesh0", Type: "wireless", HelloInterval: Duration(4 * time.Second), UpdateInterval: Duration(16 * time.Second)}}},
		Firewall: Firewall{
			Pinholes: []Pinhole{{Name: "all", Address: netip.MustParsePrefix("2001:db8::1/128"), Protocol: "any"}},
			LogDrops: true,
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{Error{Path: "wan[0].dhcp6.prefix_hint", Msg: "must be between 48 and 64"}, "wan[0].dhcp6.prefix_hint: must be between 48 and 64"},
		{Error{Msg: "empty document"}, "(document): empty document"},
		{Errors{{Path: "a", Msg: "x"}, {Path: "b", Msg: "y"}}, "a: x\nb: y"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
