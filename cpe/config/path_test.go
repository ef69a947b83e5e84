package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// compact makes JSON comparable regardless of indentation.
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return buf.String()
}

func words(s string) []string { return strings.Fields(s) }

const withStatic = `{"wan": [{"interface": "wan0", "static": {"addresses": ["2001:db8::2/64"], "dns": ["2001:db8::53", "2001:db8::54"]}}]}`

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		doc, path, value string
		get              string // path to read back
		want             string // compact JSON at get
	}{
		{``, "system hostname", "lab", "", `{"system":{"hostname":"lab"}}`},
		{``, "wan 0 interface", "wan0", "", `{"wan":[{"interface":"wan0"}]}`},
		{factory, "wan 0 dhcp6 prefix_hint", "56", "wan 0 dhcp6", `{"prefix_hint":56}`},
		{factory, "wan 0 dhcp6 ia_na", "false", "wan 0 dhcp6", `{"ia_na":false}`},
		{factory, "wan 0 interface", "eth9", "wan 0 interface", `"eth9"`},
		{factory, "wan 1 interface", "wan1", "wan", `[{"interface":"wan0","dhcp4":{},"dhcp6":{},"ra":{}},{"interface":"wan1"}]`},
		{factory, "wan 1", "", "wan 1", `{}`},
		{factory, "wan 0", "", "wan 0", `{"interface":"wan0","dhcp4":{},"dhcp6":{},"ra":{}}`},
		{`{"wan": [{"interface": "wan0"}]}`, "wan 0 dhcp6", "", "wan 0", `{"interface":"wan0","dhcp6":{}}`},
		{`{"wan": [{"interface": "wan0", "dhcp6": {"prefix_hint": 56}}]}`, "wan 0 dhcp6", "", "wan 0 dhcp6", `{"prefix_hint":56}`},
		{`{"wan": [{"interface": "wan0"}]}`, "wan 0 static routes 0 prefix", "::/0", "wan 0 static", `{"routes":[{"prefix":"::/0"}]}`},
		{factory, "lan 0 ipv6 ra managed", "", "lan 0 ipv6", `{"ra":{"managed":true}}`},
		{factory, "lan 0 ipv6 ra managed", "off", "lan 0 ipv6", `{"ra":{"managed":false}}`},
		{factory, "lan 0 ipv6 subnet_id", "0", "lan 0 ipv6", `{"subnet_id":0}`},
		{withStatic, "wan 0 static dns", "2001:db8::55", "wan 0 static dns", `["2001:db8::53","2001:db8::54","2001:db8::55"]`},
		{withStatic, "wan 0 static dns", "2001:DB8::53", "wan 0 static dns", `["2001:db8::53","2001:db8::54"]`},
		{factory, "lan 0 ipv4 dhcp4 lease_time", "720m", "lan 0 ipv4 dhcp4 lease_time", `"12h"`},
		{factory, "lan 0 ipv4 dhcp4 static_leases 0 mac", "02-00-00-00-00-0A", "lan 0 ipv4 dhcp4 static_leases", `[{"mac":"02:00:00:00:00:0a"}]`},
		{``, "firewall pinholes 0 ports", "443-443", "firewall", `{"pinholes":[{"ports":["443"]}]}`},
		{``, "mesh router_id", "02-00-00-FF-FE-00-00-01", "mesh", `{"router_id":"02:00:00:ff:fe:00:00:01"}`},
		{``, "mesh interfaces 0 hello_interval", "4000ms", "mesh", `{"interfaces":[{"hello_interval":"4s"}]}`},
		{``, "wan 0 static routes 0 metric", "4294967295", "wan", `[{"static":{"routes":[{"metric":4294967295}]}}]`},
	} {
		t.Run(tc.path+"="+tc.value, func(t *testing.T) {
			in := []byte(tc.doc)
			orig := bytes.Clone(in)
			out, err := Set(in, words(tc.path), tc.value)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Error("Set modified its input")
			}
			if c, err := Canonical(out); err != nil || !bytes.Equal(c, out) {
				t.Errorf("Set's output is not canonical (%v):\n%s", err, out)
			}
			got, err := Get(out, words(tc.get))
			if err != nil {
				t.Fatalf("Get %q: %v", tc.get, err)
			}
			if g := compact(t, got); g != tc.want {
				t.Errorf("after Set, %q is\n  %s\nwant\n  %s", tc.get, g, tc.want)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, path, value string
		want             string
	}{
		{factory, "wan 0 dhcp6 prefix_hint", "99", "wan[0].dhcp6.prefix_hint: must be between 48 and 64"},
		{factory, "wan 0 dhcp6 prefix_hint", "abc", `wan[0].dhcp6.prefix_hint: "abc" is not an integer`},
		{factory, "wan 0 mtu", "abc", `wan[0].mtu: "abc" is not an integer`},
		{factory, "wan 0 mtu", "1e3", `wan[0].mtu: "1e3" is not an integer`},
		{factory, "wan 0 mtu", "", "wan[0].mtu: needs a value: <integer 576..9216, or 0>"},
		{factory, "wan 0 mtu 1500", "x", `wan[0].mtu: unexpected "1500": mtu takes a single value`},
		{factory, "wan 0 static routes 0 metric", "-1", "wan[0].static.routes[0].metric: must be between 0 and 4294967295"},
		{factory, "wan 5 interface", "x", "wan[5]: no such element; the next new one is 1"},
		{factory, "wan x interface", "x", `wan: "x" is not an index`},
		{factory, "wan 01 interface", "x", `wan: "01" is not an index`},
		{factory, "wan", "", "wan: needs an index: 0 to 1"},
		{factory, "wan 0", "x", "wan[0]: an element takes no value; fields: name, interface, mtu, dhcp4, dhcp6, ra, static"},
		{factory, "wan 0 dhcp6", "5", "wan[0].dhcp6: dhcp6 is a block and takes no value; fields: ia_na, ia_pd, prefix_hint, rapid_commit, start"},
		{factory, "wan 0 dhcp6 prefx_hint", "56", "wan[0].dhcp6.prefx_hint: unknown field"},
		{factory, "lan 0 ipv6 ra managed", "maybe", `lan[0].ipv6.ra.managed: "maybe" is not a boolean (true or false)`},
		{factory, "system log_level", "loud", "system.log_level: must be one of debug, info, warn, error"},
		{factory, "system hostname", "-x", "system.hostname: labels must not start or end with '-'"},
		{factory, "wan 0 interface", "a/b", "wan[0].interface: must not contain '/', ':', whitespace or NUL"},
		{factory, "wan 0 static dns", "", "wan[0].static.dns: needs a value to add: <IP address (unicast)>"},
		{factory, "wan 0 static dns", "ff02::1", "wan[0].static.dns: must be a unicast address"},
		{factory, "wan 0 static dns", "dns.example", `wan[0].static.dns: "dns.example" is not an IP address`},
		{factory, "wan 0 static dns 1", "2001:db8::53", `wan[0].static.dns: unexpected "1": give the value to add after dns`},
		{factory, "lan 0 ipv4 address", "2001:db8::1/64", "lan[0].ipv4.address: must be an IPv4 prefix, not IPv6"},
		{factory, "lan 0 ipv4 dhcp4 lease_time", "30s", "lan[0].ipv4.dhcp4.lease_time: must be at least 1m"},
		{factory, "lan 0 ipv4 dhcp4 lease_time", "-1h", "lan[0].ipv4.dhcp4.lease_time: must not be negative"},
		{factory, "firewall pinholes 0 ports", "0", "firewall.pinholes[0].ports: ports must be between 1 and 65535"},
		{factory, "mesh router_id", "00:00:00:00:00:00:00:00", "mesh.router_id: all-zeros and all-ones router-ids are reserved"},
		{factory, "mesh wifi channel", "15", "mesh.wifi.channel: must be a channel in 1..14 (2.4 GHz) or 36..177 (5 GHz)"},
		{factory, "mesh keys 0 secret", "abc", "mesh.keys[0].secret: must be 32 to 64 bytes written as 64 to 128 hex digits"},
		{factory, "", "x", "(document): a path is needed"},
		{`{"x": 1}`, "system hostname", "a", "x: unknown field"},
		{`{"wan": 5}`, "system hostname", "a", "wan: expected a list, got 5"},
		{`{`, "system hostname", "a", "(document): invalid JSON: unexpected end of document"},
		{`[]`, "system hostname", "a", "(document): expected an object, got a list"},
	} {
		t.Run(tc.path+"="+tc.value, func(t *testing.T) {
			out, err := Set([]byte(tc.doc), words(tc.path), tc.value)
			if err == nil {
				t.Fatalf("Set succeeded:\n%s", out)
			}
			if err.Error() != tc.want {
				t.Errorf("Set error\n  got  %s\n  want %s", err, tc.want)
			}
		})
	}
}

// TestSetMatchesParse: a value Set refuses on its own merits gets the same
// message Parse gives for it in a document.
func TestSetMatchesParse(t *testing.T) {
	for _, tc := range []struct {
		path, value, doc string
	}{
		{"wan 0 dhcp6 prefix_hint", "99", `{"wan": [{"interface": "wan0", "dhcp6": {"prefix_hint": 99}}]}`},
		{"wan 0 mtu", "100", `{"wan": [{"interface": "wan0", "mtu": 100, "dhcp4": {}}]}`},
		{"wan 0 interface", "abcdefghijklmnop", `{"wan": [{"interface": "abcdefghijklmnop", "dhcp4": {}}]}`},
		{"wan 0 static addresses", "2001:db8::/64", `{"wan": [{"interface": "wan0", "static": {"addresses": ["2001:db8::/64"]}}]}`},
		{"system hostname", "a_b", `{"system": {"hostname": "a_b"}}`},
		{"system log_level", "trace", `{"system": {"log_level": "trace"}}`},
		{"lan 0 ipv4 dhcp4 lease_time", "59s", `{"lan": [{"interface": "lan0", "ipv4": {"address": "10.0.0.1/24", "dhcp4": {"pool_start": "10.0.0.2", "pool_end": "10.0.0.9", "lease_time": "59s"}}}]}`},
		{"lan 0 ipv6 subnet_id", "65536", `{"lan": [{"interface": "lan0", "ipv6": {"subnet_id": 65536}}]}`},
		{"mesh interfaces 0 hello_interval", "1.005s", `{"mesh": {"interfaces": [{"interface": "m0", "hello_interval": "1.005s"}]}}`},
		{"mesh interfaces 0 update_interval", "700s", `{"mesh": {"interfaces": [{"interface": "m0", "hello_interval": "1s", "update_interval": "700s"}]}}`},
		{"mesh wifi key", "1234567", `{"mesh": {"wifi": {"mesh_id": "m", "channel": 1, "key": "1234567"}}}`},
		{"firewall pinholes 0 ports", "9-8", `{"firewall": {"pinholes": [{"name": "p", "address": "2001:db8::1/128", "protocol": "tcp", "ports": ["9-8"]}]}}`},
		{"firewall pinholes 0 address", "2001:db8::1/64", `{"firewall": {"pinholes": [{"name": "p", "address": "2001:db8::1/64"}]}}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, setErr := Set(nil, words(tc.path), tc.value)
			errs := Check([]byte(tc.doc))
			if setErr == nil || len(errs) != 1 {
				t.Fatalf("Set: %v; Check: %v; want one error from each", setErr, errs)
			}
			// Set reports lists of values at the list, Parse at the element.
			want := errs[0]
			want.Path = strings.TrimSuffix(want.Path, "[0]")
			if setErr.Error() != want.Error() {
				t.Errorf("Set says %q, Parse says %q", setErr, errs[0])
			}
		})
	}
}

func TestDelete(t *testing.T) {
	twoWANs := `{"wan": [{"interface": "wan0", "ra": {}}, {"interface": "wan1", "dhcp4": {}}]}`
	for _, tc := range []struct {
		doc, path string
		want      string // the whole document, compact
	}{
		{factory, "wan 0", `{"system":{"hostname":"cpe"},"lan":[{"interface":"lan0","ipv6":{},"ipv4":{"address":"192.168.1.1/24","dhcp4":{"pool_start":"192.168.1.100","pool_end":"192.168.1.250"}}}]}`},
		{twoWANs, "wan 0", `{"wan":[{"interface":"wan1","dhcp4":{}}]}`},
		{twoWANs, "wan 1", `{"wan":[{"interface":"wan0","ra":{}}]}`},
		{twoWANs, "wan 0 ra", `{"wan":[{"interface":"wan0"},{"interface":"wan1","dhcp4":{}}]}`},
		{twoWANs, "wan", `{}`},
		{withStatic, "wan 0 static dns 2001:db8::53", `{"wan":[{"interface":"wan0","static":{"addresses":["2001:db8::2/64"],"dns":["2001:db8::54"]}}]}`},
		{withStatic, "wan 0 static dns 2001:DB8::54", `{"wan":[{"interface":"wan0","static":{"addresses":["2001:db8::2/64"],"dns":["2001:db8::53"]}}]}`},
		{withStatic, "wan 0 static addresses 2001:db8::2/64", `{"wan":[{"interface":"wan0","static":{"dns":["2001:db8::53","2001:db8::54"]}}]}`},
		{withStatic, "wan 0 static dns", `{"wan":[{"interface":"wan0","static":{"addresses":["2001:db8::2/64"]}}]}`},
		{factory, "system", `{"wan":[{"interface":"wan0","dhcp4":{},"dhcp6":{},"ra":{}}],"lan":[{"interface":"lan0","ipv6":{},"ipv4":{"address":"192.168.1.1/24","dhcp4":{"pool_start":"192.168.1.100","pool_end":"192.168.1.250"}}}]}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			in := []byte(tc.doc)
			orig := bytes.Clone(in)
			out, err := Delete(in, words(tc.path))
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Error("Delete modified its input")
			}
			if c, err := Canonical(out); err != nil || !bytes.Equal(c, out) {
				t.Errorf("Delete's output is not canonical (%v):\n%s", err, out)
			}
			if got := compact(t, out); got != tc.want {
				t.Errorf("got\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

func TestDeleteErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, path, want string
	}{
		{factory, "wan 3", "wan[3]: not set"},
		{factory, "wan 0 mtu", "wan[0].mtu: not set"},
		{factory, "mesh", "mesh: not set"},
		{factory, "wan 0 bogus", "wan[0].bogus: unknown field"},
		{factory, "wan 0 interface wan0", `wan[0].interface: unexpected "wan0": interface is a single value`},
		{factory, "wan x", `wan: "x" is not an index`},
		{withStatic, "wan 0 static dns 2001:db8::99", "wan[0].static.dns: 2001:db8::99 is not in the list"},
		{withStatic, "wan 0 static dns nope", `wan[0].static.dns: "nope" is not an IP address`},
		{withStatic, "wan 0 static dns 2001:db8::53 x", `wan[0].static.dns: unexpected "x" after the value to remove`},
		{factory, "", "(document): a path is needed"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			out, err := Delete([]byte(tc.doc), words(tc.path))
			if err == nil {
				t.Fatalf("Delete succeeded:\n%s", out)
			}
			if err.Error() != tc.want {
				t.Errorf("Delete error\n  got  %s\n  want %s", err, tc.want)
			}
		})
	}
}

func TestGet(t *testing.T) {
	doc := Default()
	for _, tc := range []struct{ path, want string }{
		{"lan 0 ipv4 address", "\"192.168.1.1/24\"\n"},
		{"wan 0 dhcp6", "{}\n"},
		{"lan 0 ipv4 dhcp4", "{\n  \"pool_start\": \"192.168.1.100\",\n  \"pool_end\": \"192.168.1.250\"\n}\n"},
		{"", string(doc)},
	} {
		got, err := Get(doc, words(tc.path))
		if err != nil {
			t.Errorf("Get %q: %v", tc.path, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Get %q = %q, want %q", tc.path, got, tc.want)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"wan 0 mtu", "wan[0].mtu: not set"},
		{"wan 1", "wan[1]: not set"},
		{"mesh", "mesh: not set"},
		{"wan 0 nope", "wan[0].nope: unknown field"},
		{"wan zero", `wan: "zero" is not an index`},
		{"wan 0 interface x", `wan[0].interface: unexpected "x": this is a single value`},
	} {
		if _, err := Get(doc, words(tc.path)); err == nil || err.Error() != tc.want {
			t.Errorf("Get %q: error %v, want %s", tc.path, err, tc.want)
		}
	}
}

func TestComplete(t *testing.T) {
	wordsOf := func(cs []Completion) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Word)
		}
		return out
	}
	for _, tc := range []struct {
		doc, path string
		want      []string
	}{
		{factory, "", []string{"system", "wan", "lan", "mesh", "firewall"}},
		{``, "", []string{"system", "wan", "lan", "mesh", "firewall"}},
		{factory, "wan", []string{"0", "1"}},
		{`{`, "wan", []string{"0"}}, // a broken document still completes
		{factory, "wan 0", []string{"name", "interface", "mtu", "dhcp4", "dhcp6", "ra", "static"}},
		{factory, "wan 1", []string{"name", "interface", "mtu", "dhcp4", "dhcp6", "ra", "static"}},
		{factory, "wan 0 dhcp6", []string{"ia_na", "ia_pd", "prefix_hint", "rapid_commit", "start"}},
		{factory, "wan 0 dhcp6 prefix_hint", []string{"<integer 48..64, or 0>"}},
		{factory, "wan 0 dhcp6 start", []string{"auto", "always"}},
		{factory, "lan 0 ipv6 ra managed", []string{"true", "false"}},
		{factory, "lan 0 ipv4 address", []string{"<IPv4 prefix with a host address>"}},
		{factory, "lan 0 ipv4 dhcp4 lease_time", []string{"<duration at least 1m>"}},
		{factory, "wan 0 interface", []string{"<interface name>"}},
		{withStatic, "wan 0 static dns", []string{"2001:db8::53", "2001:db8::54", "<IP address (unicast)>"}},
		{factory, "firewall pinholes 0 ports", []string{"<port or lo-hi>"}},
		{factory, "wan 2", nil},
		{factory, "wan x", nil},
		{factory, "bogus", nil},
		{factory, "wan 0 mtu 5", nil},
		{withStatic, "wan 0 static dns 2001:db8::53", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := wordsOf(Complete([]byte(tc.doc), words(tc.path))); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Complete = %q, want %q", got, tc.want)
			}
		})
	}
	// Help comes along.
	got := Complete(Default(), words("wan"))
	want := []Completion{{"0", "wan0"}, {"1", "a new element"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Complete wan = %v, want %v", got, want)
	}
	got = Complete(Default(), words("wan 0 dhcp6"))
	if got[2] != (Completion{"prefix_hint", "prefix length to ask for with IA_PD; 0 sends no hint"}) {
		t.Errorf("Complete wan 0 dhcp6: %v", got)
	}
	got = Complete(Default(), words("wan 0 dhcp6 start"))
	if !reflect.DeepEqual(got, []Completion{{"auto", ""}, {"always", "default"}}) {
		t.Errorf("Complete start: %v", got)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"wan 0 dhcp6 prefix_hint", "prefix_hint: prefix length to ask for with IA_PD; 0 sends no hint (integer 48..64, or 0; default 0)"},
		{"wan 7 dhcp6 prefix_hint", "prefix_hint: prefix length to ask for with IA_PD; 0 sends no hint (integer 48..64, or 0; default 0)"},
		{"wan 0 dhcp6", "dhcp6: get addresses and a delegated prefix by DHCPv6 (RFC 8415) (block (presence enables); default absent (off))"},
		{"wan", "wan: uplinks to an ISP or another network (list of blocks; default empty list)"},
		{"wan 0 name", "name: name used in show commands and logs; defaults to the interface (name; default the interface)"},
		{"lan 0 ipv6 ra managed", "managed: force the M flag (hosts get addresses by DHCPv6); on anyway with dhcp6.ia_na (boolean; default false)"},
		{"system log_level", "log_level: least severe log level kept (one of debug, info, warn, error; default info)"},
		{"wan 0 static dns", "dns: DNS servers handed on to the LANs (list of IP address (unicast); default empty list)"},
		{"", "the configuration: system, wan (uplinks), lan (segments), mesh, firewall"},
	} {
		got, err := Describe(words(tc.path))
		if err != nil || got != tc.want {
			t.Errorf("Describe %q = %q, %v\nwant %q", tc.path, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"wan x", `wan: "x" is not an index`},
		{"wan 0 nope", "wan[0].nope: unknown field"},
		{"wan 0 mtu 5", "wan[0].mtu: mtu is a single value; nothing is below it"},
	} {
		if _, err := Describe(words(tc.path)); err == nil || err.Error() != tc.want {
			t.Errorf("Describe %q: error %v, want %s", tc.path, err, tc.want)
		}
	}
}

// TestEditSession walks a candidate through the edits an operator makes,
// invalid in between, valid at the end.
func TestEditSession(t *testing.T) {
	doc := Default()
	steps := []struct {
		op, path, value string
	}{
		{"set", "system hostname", "lab"},
		{"set", "wan 1 interface", "wan1"},
		{"set", "wan 1 ra", ""},
		{"set", "wan 1 dhcp6 ia_na", "false"},
		{"set", "wan 1 dhcp6 prefix_hint", "60"},
		{"set", "lan 1 interface", "lan1"},
		{"set", "lan 1 ipv6 subnet_id", "1"},
		{"set", "lan 1 ipv6 firewall", "open"},
		{"delete", "lan 0 ipv4 nat", ""}, // not set: an error, the document stays
		{"set", "firewall pinholes 0 name", "web"},
		{"set", "firewall pinholes 0 address", "2001:db8::80/128"},
		{"set", "firewall pinholes 0 protocol", "tcp"},
		{"set", "firewall pinholes 0 ports", "443"},
		{"delete", "wan 0 dhcp4", ""},
	}
	for _, s := range steps {
		var out []byte
		var err error
		if s.op == "set" {
			out, err = Set(doc, words(s.path), s.value)
		} else {
			out, err = Delete(doc, words(s.path))
		}
		if err != nil {
			if s.path == "lan 0 ipv4 nat" {
				continue
			}
			t.Fatalf("%s %s %s: %v", s.op, s.path, s.value, err)
		}
		doc = out
	}
	cfg, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse after the session:\n%v\n%s", err, doc)
	}
	if cfg.System.Hostname != "lab" || len(cfg.WAN) != 2 || cfg.WAN[1].DHCP6.IANA || cfg.WAN[1].DHCP6.PrefixHint != 60 ||
		cfg.WAN[0].DHCP4 != nil || cfg.LAN[1].IPv6.Firewall != "open" || *cfg.LAN[1].IPv6.SubnetID != 1 ||
		cfg.Firewall.Pinholes[0].Ports[0] != (PortRange{443, 443}) {
		t.Errorf("unexpected result: %+v", cfg)
	}
	// An edit that breaks a rule across fields is accepted by Set and
	// caught at commit.
	broken, err := Set(doc, words("lan 1 interface"), "lan0")
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(Check(broken)); !reflect.DeepEqual(got, []string{`lan[1].interface: "lan0" is already used by lan[0].interface`}) {
		t.Errorf("Check = %q", got)
	}
}

func TestSetNotLeaf(t *testing.T) {
	doc := Default()
	for _, tc := range []struct {
		path    string
		value   string
		notLeaf bool
	}{
		{"wan 0 dhcp6", "5", true},
		{"wan 0", "x", true},
		{"system", "x", true},
		{"system hostname", "-bad-", false},
		{"wan 0 dhcp6 prefix_hint", "99", false},
	} {
		_, err := Set(doc, strings.Fields(tc.path), tc.value)
		if err == nil {
			t.Errorf("Set(%s, %q) succeeded", tc.path, tc.value)
			continue
		}
		if got := errors.Is(err, ErrNotLeaf); got != tc.notLeaf {
			t.Errorf("Set(%s, %q): errors.Is(ErrNotLeaf) = %v, want %v (%v)", tc.path, tc.value, got, tc.notLeaf, err)
		}
	}
}
