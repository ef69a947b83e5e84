package daemon

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cpe/cpe/kernel"
	"cpe/firewall"
)

// recordingKernel keeps the last plan it was asked to apply.
type recordingKernel struct {
	mu    sync.Mutex
	last  kernel.Desired
	n     int
	heard chan struct{}
}

func (k *recordingKernel) Heard() <-chan struct{} { return k.heard }

func (k *recordingKernel) Apply(_ context.Context, d kernel.Desired) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.last, k.n = d, k.n+1
	return nil, nil
}

func (k *recordingKernel) sysctl(key string) (string, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last.Sysctls[key], k.n
}

// flakyFirewall fails until told to work.
type flakyFirewall struct {
	mu     sync.Mutex
	broken bool
	loaded []firewall.Ruleset
}

func (f *flakyFirewall) Apply(_ context.Context, rs firewall.Ruleset) (firewall.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return firewall.Changes{}, errors.New("firewall: netlink: operation not supported")
	}
	f.loaded = append(f.loaded, rs)
	return firewall.Changes{Replaced: []string{"inet cpe", "ip cpe_nat"}}, nil
}

func (f *flakyFirewall) Stats() (firewall.Ruleset, firewall.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.loaded) == 0 {
		return firewall.Ruleset{}, firewall.Stats{}, errors.New("firewall: no ruleset applied yet")
	}
	return f.loaded[len(f.loaded)-1], firewall.Stats{}, nil
}

// TestForwardingWaitsForFirewall: the box does not forward until a ruleset
// is loaded (fail closed); once loaded, forwarding is on and stays on.
func TestForwardingWaitsForFirewall(t *testing.T) {
	k := &recordingKernel{}
	fw := &flakyFirewall{broken: true}
	h := startWith(t, t.TempDir(), func(o *Options) { o.Kernel, o.Firewall = k, fw })

	// waitFor waits for a plan made after the call with forwarding want.
	waitFor := func(want string) {
		t.Helper()
		_, n0 := k.sysctl("")
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, n := k.sysctl("net.ipv6.conf.all.forwarding")
			if got == want && n > n0+1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("ipv6 forwarding %q after %d plans, want %q", got, n, want)
			}
			h.d.net.replan()
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("0")
	if v, _ := k.sysctl("net.ipv4.ip_forward"); v != "0" {
		t.Errorf("ipv4 forwarding %q without a firewall", v)
	}
	var out bytes.Buffer
	if err := h.d.showFirewall(context.Background(), nil, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "NOT LOADED, forwarding is off") {
		t.Errorf("show firewall while broken:\n%s", out.String())
	}

	fw.mu.Lock()
	fw.broken = false
	fw.mu.Unlock()
	waitFor("1")
	out.Reset()
	if err := h.d.showFirewall(context.Background(), nil, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ruleset: loaded", "uplink  wan0", "DROPS", "inet cpe forward"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show firewall lacks %q:\n%s", want, out.String())
		}
	}

	// Broken again: the loaded ruleset stays, and so does forwarding.
	fw.mu.Lock()
	fw.broken = true
	fw.mu.Unlock()
	waitFor("1")
}

// TestFirewallUnchangedIsNotReloaded: replans that leave the firewall's
// input as it was do not rebuild and reload the ruleset, until
// firewallRecheck has gone by; a changed input is loaded at once.
func TestFirewallUnchangedIsNotReloaded(t *testing.T) {
	k := &recordingKernel{}
	fw := &flakyFirewall{}
	h := startWith(t, t.TempDir(), func(o *Options) { o.Kernel, o.Firewall = k, fw })
	loads := func() int {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		return len(fw.loaded)
	}
	// replans waits for n plans made after the call.
	replans := func(n int) {
		t.Helper()
		_, n0 := k.sysctl("")
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, got := k.sysctl(""); got >= n0+n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d plans in 5 s", n)
			}
			h.d.net.replan()
			time.Sleep(5 * time.Millisecond)
		}
	}
	replans(2)
	if loads() == 0 {
		t.Fatal("no ruleset loaded")
	}
	n := loads()
	replans(3)
	if got := loads(); got != n {
		t.Errorf("%d reloads of an unchanged ruleset", got-n)
	}

	h.clk.advance(firewallRecheck)
	replans(2)
	if got := loads(); got != n+1 {
		t.Errorf("%d loads once firewallRecheck went by, want 1", got-n)
	}

	if _, err := h.d.commit(h.set("firewall log_drops", "false"), "quiet", 0); err != nil {
		t.Fatal(err)
	}
	replans(2)
	fw.mu.Lock()
	last := fw.loaded[len(fw.loaded)-1].String()
	fw.mu.Unlock()
	if got := loads(); got != n+2 || strings.Contains(last, "log prefix") {
		t.Errorf("after the commit: %d loads, want 1; last loaded:\n%s", got-n-1, last)
	}
}
