package config

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestCanonical(t *testing.T) {
	// Fields out of order, odd spacing, values in non-canonical spellings,
	// a null, no defaults: the output puts fields in schema order, spells
	// values one way and adds nothing.
	in := `{"lan":[{"ipv4":{"dhcp4":{"lease_time":"720m","pool_end":"192.168.1.250","pool_start":"192.168.1.100",
	  "static_leases":[{"hostname":"pr","address":"192.168.1.10","mac":"02-00-00-00-00-AB"}]},"address":"192.168.1.1/24"},
	  "interface":"lan0"}],
	  "wan":[{"static":{"addresses":["2001:DB8:0::2/64"]},"mtu":1492,"interface":"wan0","dhcp4":null}],
	  "firewall":{"pinholes":[{"ports":["80-80","1000-2000"],"protocol":"tcp","address":"2001:db8::80/128","name":"<web&>"}]},
	  "system":{"watchdog":false}}`
	want := `{
  "system": {
    "watchdog": false
  },
  "wan": [
    {
      "interface": "wan0",
      "mtu": 1492,
      "static": {
        "addresses": [
          "2001:db8::2/64"
        ]
      }
    }
  ],
  "lan": [
    {
      "interface": "lan0",
      "ipv4": {
        "address": "192.168.1.1/24",
        "dhcp4": {
          "pool_start": "192.168.1.100",
          "pool_end": "192.168.1.250",
          "lease_time": "12h",
          "static_leases": [
            {
              "mac": "02:00:00:00:00:ab",
              "address": "192.168.1.10",
              "hostname": "pr"
            }
          ]
        }
      }
    }
  ],
  "firewall": {
    "pinholes": [
      {
        "name": "<web&>",
        "address": "2001:db8::80/128",
        "protocol": "tcp",
        "ports": [
          "80",
          "1000-2000"
        ]
      }
    ]
  }
}
`
	got, err := Canonical([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Canonical:\n%s\nwant:\n%s", got, want)
	}
	again, err := Canonical(got)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("Canonical is not stable (%v):\n%s", err, again)
	}
}

func TestCanonicalKeepsInvalid(t *testing.T) {
	// Rules are for Parse; Canonical only needs a document that decodes.
	in := `{"wan": [{"interface": "wan0", "mtu": 1, "dhcp6": {"prefix_hint": 99}}]}`
	if _, err := Canonical([]byte(in)); err != nil {
		t.Errorf("Canonical: %v", err)
	}
	for doc, want := range map[string]string{
		`{"wan": [{"interfce": "wan0"}]}`: "wan[0].interfce: unknown field",
		`{"wan": [{"mtu": "1500"}]}`:      `wan[0].mtu: expected an integer, got "1500"`,
		`{"system": {}} x`:                "(document): line 1 column 16: unexpected data after the document",
	} {
		if _, err := Canonical([]byte(doc)); err == nil || err.Error() != want {
			t.Errorf("Canonical(%s): %v, want %s", doc, err, want)
		}
	}
}

func TestDefault(t *testing.T) {
	doc := Default()
	cfg, err := Parse(doc)
	if err != nil {
		t.Fatalf("the factory configuration does not parse:\n%v", err)
	}
	if c, err := Canonical(doc); err != nil || !bytes.Equal(c, doc) {
		t.Errorf("Default is not canonical")
	}
	if cfg.System.Hostname != "cpe" || len(cfg.WAN) != 1 || len(cfg.LAN) != 1 {
		t.Fatalf("unexpected factory configuration: %+v", cfg)
	}
	w, l := cfg.WAN[0], cfg.LAN[0]
	if w.Interface != "wan0" || w.DHCP4 == nil || w.DHCP6 == nil || !w.DHCP6.IANA || !w.DHCP6.IAPD || w.RA == nil {
		t.Errorf("wan: %+v", w)
	}
	if l.Interface != "lan0" || l.IPv6 == nil || l.IPv4 == nil || l.IPv4.Address.String() != "192.168.1.1/24" ||
		l.IPv4.DHCP4.PoolStart.String() != "192.168.1.100" || l.IPv4.DHCP4.PoolEnd.String() != "192.168.1.250" {
		t.Errorf("lan: %+v", l)
	}
	// Callers may keep and change what they get.
	doc[0] = 'x'
	if Default()[0] != '{' {
		t.Error("Default shares its buffer")
	}
}

// TestExamples: every file in examples/ is a valid configuration, written
// canonically, and survives a round trip.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse:\n%v", err)
			}
			c, err := Canonical(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c, doc) {
				t.Errorf("not canonical; it would be:\n%s", c)
			}
			roundTrip(t, doc, cfg)
		})
	}
}

// roundTrip checks that the canonical form means the same thing.
func roundTrip(t *testing.T, doc []byte, cfg *Config) {
	t.Helper()
	c, err := Canonical(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg2, err := Parse(c)
	if err != nil {
		t.Fatalf("the canonical form does not parse:\n%v", err)
	}
	if !reflect.DeepEqual(cfg, cfg2) {
		t.Errorf("the canonical form means something else:\n%+v\n%+v", cfg, cfg2)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range goodDocs {
		cfg, err := Parse([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		roundTrip(t, []byte(tc.doc), cfg)
	}
}

func TestLabExample(t *testing.T) {
	doc, err := os.ReadFile("../../examples/lab.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	w, l := cfg.WAN[0], cfg.LAN[0]
	if cfg.System.Hostname != "lab" || w.Interface != "wan0" || w.DHCP4 == nil || w.RA == nil ||
		!w.DHCP6.IANA || !w.DHCP6.IAPD || w.DHCP6.PrefixHint != 56 {
		t.Errorf("wan: %+v %+v", cfg.System, w)
	}
	if l.Interface != "lan0" || l.IPv6.Firewall != "stateful" || !l.IPv6.DHCP6.Stateless ||
		l.IPv4.Address.String() != "192.168.1.1/24" || !l.IPv4.NAT || l.IPv4.DHCP4 == nil ||
		l.IPv4.DHCP4.LeaseTime.D() != 12*time.Hour {
		t.Errorf("lan: %+v", l)
	}
}

func TestSchema(t *testing.T) {
	n, err := root()
	if err != nil {
		t.Fatal(err)
	}
	// Every field is reachable by Describe and mentioned in the docs.
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *node, words []string, docPath string)
	count := 0
	walk = func(n *node, words []string, docPath string) {
		for _, f := range n.fields {
			count++
			w := append(append([]string(nil), words...), f.name)
			if _, err := Describe(w); err != nil {
				t.Errorf("Describe %v: %v", w, err)
			}
			p := docPath + f.name
			if !bytes.Contains(docs, []byte("`"+p+"`")) {
				t.Errorf("docs/config.md does not mention `%s`", p)
			}
			switch f.node.kind {
			case kObject:
				walk(f.node, w, p+".")
			case kList:
				walk(f.node.elem, append(w, "0"), p+"[].")
			}
		}
	}
	walk(n, nil, "")
	if count < 60 {
		t.Errorf("only %d fields in the schema", count)
	}
}

// TestSchemaTags: a malformed tag is an error from the schema builder, not
// a panic and not a rule silently skipped.
func TestSchemaTags(t *testing.T) {
	for name, typ := range map[string]reflect.Type{
		"no help": reflect.TypeFor[struct {
			A int `json:"a"`
		}](),
		"no json name": reflect.TypeFor[struct {
			A int `help:"h"`
		}](),
		"unknown rule": reflect.TypeFor[struct {
			A int `json:"a" help:"h" rule:"even"`
		}](),
		"enum on int": reflect.TypeFor[struct {
			A int `json:"a" help:"h" rule:"enum=a|b"`
		}](),
		"range syntax": reflect.TypeFor[struct {
			A int `json:"a" help:"h" rule:"range=1-2"`
		}](),
		"range bound": reflect.TypeFor[struct {
			A int `json:"a" help:"h" rule:"range=x..2"`
		}](),
		"bad default": reflect.TypeFor[struct {
			A int `json:"a" help:"h" default:"x"`
		}](),
		"default breaks": reflect.TypeFor[struct {
			A int `json:"a" help:"h" default:"5" rule:"range=1..2"`
		}](),
		"default on block": reflect.TypeFor[struct {
			A struct{} `json:"a" help:"h" default:"x"`
		}](),
		"list of lists": reflect.TypeFor[struct {
			A [][]int `json:"a" help:"h"`
		}](),
		"map": reflect.TypeFor[struct {
			A map[string]int `json:"a" help:"h"`
		}](),
		"ifname on int": reflect.TypeFor[struct {
			A int `json:"a" help:"h" rule:"ifname"`
		}](),
		"host on addr": reflect.TypeFor[struct {
			A netip.Addr `json:"a" help:"h" rule:"host"`
		}](),
	} {
		if _, err := buildNode(typ); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
