package kernel

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Desired
		want string // in the error
	}{
		{"link without name", Desired{Links: []Link{{Up: true}}}, "empty link name"},
		{"long link name", Desired{Links: []Link{{Name: "abcdefghijklmnop"}}}, "longer than 15"},
		{"negative mtu", Desired{Links: []Link{{Name: "wan0", MTU: -1}}}, "negative mtu"},
		{"link twice", Desired{Links: []Link{{Name: "wan0"}, {Name: "wan0", Up: true}}}, "listed twice"},
		{"bad sysctl", Desired{Sysctls: map[string]string{"net..x": "1"}}, `sysctl "net..x"`},
		{"sysctl spelled twice", Desired{Sysctls: map[string]string{
			"net.ipv6.conf.wan0.accept_ra": "0", "net/ipv6/conf/wan0/accept_ra": "2"}}, "set to both"},
		{"address without link", Desired{Addresses: []Address{{Prefix: mustPrefix("192.0.2.1/24")}}}, "empty link name"},
		{"address invalid", Desired{Addresses: []Address{{Link: "wan0"}}}, "invalid prefix"},
		{"address multicast", Desired{Addresses: []Address{{Link: "wan0", Prefix: mustPrefix("ff02::1/64")}}}, "not a unicast"},
		{"address twice", Desired{Addresses: []Address{
			{Link: "wan0", Prefix: mustPrefix("2001:db8::1/64")},
			{Link: "wan0", Prefix: mustPrefix("2001:db8::1/128")}}}, "listed twice"},
		{"route host bits", Desired{Routes: []Route{{Dst: mustPrefix("2001:db8::1/56"), Type: Unreachable}}}, "host bits"},
		{"route unicast without link", Desired{Routes: []Route{{Dst: mustPrefix("2001:db8::/56")}}}, "empty link name"},
		{"route gateway family", Desired{Routes: []Route{{Dst: mustPrefix("2001:db8::/56"), Link: "wan0", Via: mustAddr("192.0.2.1")}}}, "bad gateway"},
		{"route source family", Desired{Routes: []Route{{Dst: mustPrefix("::/0"), Src: mustPrefix("192.0.2.0/24"), Link: "wan0"}}}, "another family"},
		{"unreachable with gateway", Desired{Routes: []Route{{Dst: mustPrefix("2001:db8::/56"), Type: Unreachable, Via: mustAddr("2001:db8::1")}}}, "has no gateway"},
		{"ipv4 source in main", Desired{Routes: []Route{{Dst: mustPrefix("0.0.0.0/0"), Src: mustPrefix("198.51.100.0/24"), Link: "wan0"}}}, "table other than main"},
		{"local table", Desired{Routes: []Route{{Dst: mustPrefix("192.0.2.0/24"), Link: "wan0", Table: 255}}}, "local table"},
		{"unknown type", Desired{Routes: []Route{{Dst: mustPrefix("192.0.2.0/24"), Type: 9}}}, "unknown type"},
		{"route twice", Desired{Routes: []Route{
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 100, Src: mustPrefix("198.51.100.0/25")},
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 100, Src: mustPrefix("198.51.100.128/25")}}}, "listed twice"},
		{"rule without family", Desired{Rules: []Rule{{Table: 100}}}, "no family"},
		{"rule family mismatch", Desired{Rules: []Rule{{Family: IPv6, Src: mustPrefix("192.0.2.0/24"), Table: 100}}}, "family ipv6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "kernel: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestValidateReportsEveryEntry(t *testing.T) {
	d := Desired{
		Links:     []Link{{Name: ""}, {Name: "wan0", Up: true}},
		Addresses: []Address{{Link: "wan0"}, {Link: "wan0", Prefix: mustPrefix("192.0.2.2/24")}},
		Routes:    []Route{{Dst: mustPrefix("192.0.2.1/24")}},
	}
	err := d.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 3 {
		t.Errorf("got %d errors, want 3:\n%v", n, err)
	}
	n, _ := d.normalize()
	if len(n.Links) != 1 || len(n.Addresses) != 1 || len(n.Routes) != 0 {
		t.Errorf("the valid entries were not kept: %+v", n)
	}
}

func TestNormalize(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	d := Desired{
		Sysctls: map[string]string{"net/ipv6/conf/wan0/accept_ra": " 0\n"},
		Addresses: []Address{
			// preferred longer than valid: clamped
			{Link: "lan0", Prefix: mustPrefix("2001:db8:1:1::1/64"), PreferredUntil: t0.Add(2 * time.Hour), ValidUntil: t0.Add(time.Hour)},
			// preferred forever with a finite valid: clamped too
			{Link: "lan0", Prefix: mustPrefix("::ffff:198.51.100.1/120"), ValidUntil: t0.Add(time.Hour)},
		},
		Routes: []Route{
			{Dst: mustPrefix("2001:db8:1::/56"), Type: Unreachable, Link: "lo", Table: 254},
			{Dst: mustPrefix("0.0.0.0/0"), Src: mustPrefix("198.51.100.0/24"), Via: mustAddr("::ffff:192.0.2.1"), Link: "wan0", Table: 100},
			{Dst: mustPrefix("0.0.0.0/0"), Src: mustPrefix("198.51.100.0/25"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 101},
			{Dst: mustPrefix("::/0"), Src: mustPrefix("::/0"), Via: mustAddr("fe80::1%wan0"), Link: "wan0"},
		},
		Rules: []Rule{
			// sends 198.51.100.0/25 to 101 already: no derived rule for it
			{Src: mustPrefix("198.51.100.0/25"), Table: 101, Priority: 9000},
			{Family: IPv6, Src: mustPrefix("::/0"), Table: 254},
			{Family: IPv6, Table: 0}, // the same rule again
		},
	}
	got, err := d.normalize()
	if err != nil {
		t.Fatal(err)
	}
	want := Desired{
		Sysctls: map[string]string{"net.ipv6.conf.wan0.accept_ra": "0"},
		Addresses: []Address{
			{Link: "lan0", Prefix: mustPrefix("198.51.100.1/24"), PreferredUntil: t0.Add(time.Hour), ValidUntil: t0.Add(time.Hour)},
			{Link: "lan0", Prefix: mustPrefix("2001:db8:1:1::1/64"), PreferredUntil: t0.Add(time.Hour), ValidUntil: t0.Add(time.Hour)},
		},
		Routes: []Route{
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 100},
			{Dst: mustPrefix("0.0.0.0/0"), Via: mustAddr("192.0.2.1"), Link: "wan0", Table: 101},
			{Dst: mustPrefix("::/0"), Via: mustAddr("fe80::1"), Link: "wan0", Metric: 1024},
			{Dst: mustPrefix("2001:db8:1::/56"), Type: Unreachable, Metric: 1024},
		},
		Rules: []Rule{
			{Family: IPv4, Src: mustPrefix("198.51.100.0/25"), Table: 101, Priority: 9000},
			{Family: IPv4, Src: mustPrefix("198.51.100.0/24"), Table: 100, Priority: DefaultRulePriority},
			{Family: IPv6, Table: 0, Priority: DefaultRulePriority},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("normalize:\n got %+v\nwant %+v", got, want)
	}
	again, err := got.normalize()
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("normalize is not idempotent: %+v, %v", again, err)
	}
}

func TestAddressKey(t *testing.T) {
	// IPv6 identifies an address by itself, IPv4 with its length.
	a := keyOfAddress(Address{Link: "wan0", Prefix: mustPrefix("2001:db8::1/64")})
	b := keyOfAddress(Address{Link: "wan0", Prefix: mustPrefix("2001:db8::1/128")})
	if a != b {
		t.Errorf("IPv6 keys differ: %v %v", a, b)
	}
	c := keyOfAddress(Address{Link: "wan0", Prefix: mustPrefix("192.0.2.1/24")})
	d := keyOfAddress(Address{Link: "wan0", Prefix: mustPrefix("192.0.2.1/32")})
	if c == d {
		t.Errorf("IPv4 keys equal: %v", c)
	}
	e := keyOfAddress(Address{Link: "lan0", Prefix: mustPrefix("2001:db8::1/64")})
	if a == e {
		t.Errorf("keys on two links equal")
	}
}

func TestLifetimeSeconds(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		deadline time.Time
		want     uint32
	}{
		{time.Time{}, lifetimeForever},
		{now.Add(time.Hour), 3600},
		{now.Add(time.Hour + time.Millisecond), 3601}, // rounded up
		{now, 0},
		{now.Add(-time.Hour), 0},
		{now.Add(200 * 365 * 24 * time.Hour), lifetimeForever - 1}, // finite stays finite
	} {
		if got := lifetimeSeconds(tc.deadline, now); got != tc.want {
			t.Errorf("lifetimeSeconds(%v) = %d, want %d", tc.deadline, got, tc.want)
		}
	}
	if !deadline(lifetimeForever, now).IsZero() {
		t.Error("forever is not the zero deadline")
	}
	if got := deadline(60, now); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("deadline(60) = %v", got)
	}
}

func TestLiveAddresses(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	d := Desired{Addresses: []Address{
		{Link: "lan0", Prefix: mustPrefix("2001:db8:1::1/64"), PreferredUntil: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour)},
		{Link: "lan0", Prefix: mustPrefix("2001:db8:2::1/64"), PreferredUntil: now.Add(-time.Hour), ValidUntil: now},
		{Link: "lan0", Prefix: mustPrefix("2001:db8:3::1/64")},
	}}
	got := liveAddresses(d, now).Addresses
	want := []Address{
		{Link: "lan0", Prefix: mustPrefix("2001:db8:1::1/64"), PreferredUntil: now, ValidUntil: now.Add(time.Hour)},
		{Link: "lan0", Prefix: mustPrefix("2001:db8:3::1/64")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("liveAddresses:\n got %+v\nwant %+v", got, want)
	}
}
