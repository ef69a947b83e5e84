package firewall

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStats: counters read back from the kernel are the ones nft lists, and
// Listing puts them on the right rules.
func TestStats(t *testing.T) {
	ns, fd := newNetns(t)
	a := newApplier(t, fd)
	if _, _, err := a.Stats(); err == nil {
		t.Error("Stats before any Apply: no error")
	}
	if _, err := a.Apply(context.Background(), Build(configs[0].in)); err != nil {
		t.Fatal(err)
	}
	inNetns(t, ns, "", "ip", "link", "set", "lo", "up")
	inNetns(t, ns, "", "ping", "-c", "3", "-i", "0.01", "-W", "1", "127.0.0.1")

	rs, st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := rs.Table(FamilyInet, FilterTable)
	c, _ := in.Chain("input")
	lo := -1
	for i, r := range c.Rules {
		if strings.Contains(r.String(), `iifname "lo"`) {
			lo = i
		}
	}
	got, ok := st.RuleCounter(in, "input", lo)
	if !ok || got.Packets < 1 {
		t.Fatalf("lo rule counter = %+v (found %v), want the first echo request (the others are established)", got, ok)
	}

	// nft's own listing shows the same count on the same rule.
	re := regexp.MustCompile(`iifname "lo" counter packets (\d+) bytes (\d+)`)
	m := re.FindStringSubmatch(listTables(t, ns))
	if m == nil {
		t.Fatal("nft lists no counted lo rule")
	}
	if n, _ := strconv.ParseUint(m[1], 10, 64); n != got.Packets {
		t.Errorf("nft counts %d packets on the lo rule, Stats %d", n, got.Packets)
	}
	listing := rs.Listing(st)
	if !strings.Contains(listing, m[0]) {
		t.Errorf("Listing lacks %q:\n%s", m[0], listing)
	}
	if !strings.Contains(listing, "counter input {\n\t\tpackets 0 bytes 0\n\t}") {
		t.Errorf("Listing lacks the named counter values:\n%s", listing)
	}
}
