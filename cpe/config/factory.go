package config

// factory is the configuration a box starts with: the first uplink takes
// whatever the ISP offers (DHCPv4, DHCPv6 with IA_NA and IA_PD, RAs) and the
// first LAN gets a /64 of the delegation plus NAT44 on 192.168.1.0/24.
const factory = `{
  "system": {"hostname": "cpe"},
  "wan": [{"interface": "wan0", "dhcp4": {}, "dhcp6": {}, "ra": {}}],
  "lan": [{
    "interface": "lan0",
    "ipv6": {},
    "ipv4": {
      "address": "192.168.1.1/24",
      "dhcp4": {"pool_start": "192.168.1.100", "pool_end": "192.168.1.250"}
    }
  }]
}`

// Default returns the factory configuration document, in canonical form.
func Default() []byte {
	doc, err := Canonical([]byte(factory))
	if err != nil {
		// Unreachable: TestDefault parses the factory document.
		return []byte(factory + "\n")
	}
	return doc
}
