package vm_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cpe/cpe/boot"
	"cpe/internal/lab"
	"cpe/internal/vm"
)

var hostnameRE = regexp.MustCompile(`(?m)^\s*hostname:\s*(\S+)\s*$`)

// bootToPrompt starts a VM and waits for the CLI prompt, returning the time it took.
func bootToPrompt(t *testing.T, o vm.Options, within time.Duration) (*vm.VM, time.Duration) {
	t.Helper()
	v := vm.Start(t, o)
	if _, err := v.WaitPrompt(within); err != nil {
		t.Fatalf("boot: %v", err)
	}
	return v, time.Since(v.Started())
}

func command(t *testing.T, v *vm.VM, line string) string {
	t.Helper()
	out, err := v.Command(line, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hostname(t *testing.T, v *vm.VM) string {
	t.Helper()
	out := command(t, v, "show system")
	m := hostnameRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("show system has no hostname line:\n%s", out)
	}
	return m[1]
}

// configure runs lines in configuration mode and leaves it.
func configure(t *testing.T, v *vm.VM, lines ...string) {
	t.Helper()
	for _, l := range append(append([]string{"configure"}, lines...), "exit") {
		out := command(t, v, l)
		if strings.Contains(strings.ToLower(out), "error") {
			t.Fatalf("%q: %s", l, out)
		}
	}
}

func banners(v *vm.VM) int { return strings.Count(v.Transcript(), boot.Banner) }

func TestBoot(t *testing.T) {
	v, took := bootToPrompt(t, vm.Options{}, 30*time.Second)
	t.Logf("qemu start to prompt: %v", took.Round(10*time.Millisecond))
	if out := command(t, v, "show version"); !strings.Contains(out, "cpe") {
		t.Errorf("show version = %q, want it to mention cpe", out)
	}
}

func TestCommitConfirmed(t *testing.T) {
	v, _ := bootToPrompt(t, vm.Options{}, 60*time.Second)
	old := hostname(t, v)
	if old != "cpe" {
		t.Logf("factory hostname is %q (expected cpe); checking the rollback against it", old)
	}
	configure(t, v, "set system hostname lab1", "commit confirmed 1")
	if got := hostname(t, v); got != "lab1" {
		t.Fatalf("after commit confirmed: hostname %q, want lab1", got)
	}
	// Not confirming: the deadline passes and the old config comes back, without a reboot.
	start := time.Now()
	for {
		time.Sleep(5 * time.Second)
		got := hostname(t, v)
		if got == old {
			t.Logf("rolled back to %q %v after the commit", got, time.Since(start).Round(time.Second))
			break
		}
		if got != "lab1" {
			t.Fatalf("hostname %q while waiting for the rollback (want lab1 or %s)", got, old)
		}
		if time.Since(start) > 120*time.Second {
			t.Fatalf("no rollback 120 s after commit confirmed 1")
		}
	}
	if n := banners(v); n != 1 {
		t.Fatalf("the box rebooted to roll back (%d boot banners)", n)
	}

	configure(t, v, "set system hostname keep1", "commit confirmed 5", "confirm")
	if err := v.Send("reboot\r"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ExpectString(boot.Banner, 60*time.Second); err != nil {
		t.Fatalf("no reboot: %v", err)
	}
	if _, err := v.WaitPrompt(60 * time.Second); err != nil {
		t.Fatalf("after reboot: %v", err)
	}
	if got := hostname(t, v); got != "keep1" {
		t.Fatalf("after a confirmed commit and a reboot: hostname %q, want keep1", got)
	}
}

func TestPowerCut(t *testing.T) {
	n := 20
	if s := os.Getenv("CPE_POWERCUT_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("CPE_POWERCUT_N=%q: want a positive number", s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CPE_POWERCUT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("power cut: %d iterations, seed %d (CPE_POWERCUT_SEED=%d repeats the delays)", n, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	// One disk for all boots: each one sees what the cut left behind.
	perm := vm.FreshPerm(t, vm.ImageDir(t))

	allowed := map[string]bool{}
	for i := 0; i <= n; i++ {
		v, took := bootToPrompt(t, vm.Options{Perm: perm}, 60*time.Second)
		host := hostname(t, v)
		if i > 0 && !allowed[host] {
			t.Fatalf("boot %d: hostname %q, want one of %v", i, host, keys(allowed))
		}
		cfg := strings.TrimSpace(command(t, v, "show config"))
		if !json.Valid([]byte(cfg)) {
			t.Fatalf("boot %d: show config is not JSON:\n%s", i, cfg)
		}
		if i == n {
			t.Logf("boot %d: %v to prompt, hostname %s: state intact after %d power cuts", i, took.Round(10*time.Millisecond), host, n)
			break
		}
		allowed = map[string]bool{host: true}
		var burst strings.Builder
		// Ten commits take a second or two under emulation; cutting
		// anywhere in the first two seconds lands mostly inside them.
		for j := 0; j < 10; j++ {
			name := fmt.Sprintf("pc%d%c", i, 'a'+j)
			allowed[name] = true
			fmt.Fprintf(&burst, "configure\rset system hostname %s\rcommit\rexit\r", name)
		}
		delay := time.Duration(rng.Int64N(int64(2 * time.Second)))
		if err := v.Send(burst.String()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		v.Kill()
		t.Logf("boot %d: %v to prompt, hostname %s; power cut %v after the burst", i, took.Round(10*time.Millisecond), host, delay.Round(time.Millisecond))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWANUplink: the booted image, with its factory configuration, gets a
// DHCPv4 lease and a delegated prefix from the ISP namespace over a tap.
func TestWANUplink(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "kea-dhcp6", "radvd")
	vm.ImageDir(t)
	std := vm.NewStandardLab(t)
	v, _ := bootToPrompt(t, std.Options(vm.Options{}), 60*time.Second)
	var out string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(3 * time.Second) {
		out = command(t, v, "show wan")
		if strings.Contains(out, "dhcp4: BOUND") && strings.Contains(out, "prefix  2001:db8:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DHCPv4 lease and delegated prefix within 90 s:\n%s\n%s", out, command(t, v, "show log 40"))
		}
	}
	t.Logf("show wan:\n%s", out)
	if !strings.Contains(out, "192.0.2.") {
		t.Errorf("the lease is not from the ISP's subnet:\n%s", out)
	}
	if diag := command(t, v, "diagnose wan 0"); !strings.Contains(diag, "pass  IA_PD bound") {
		t.Errorf("diagnose wan does not pass IA_PD:\n%s", diag)
	}
}

// TestLANHost: with the factory configuration, a host on the device's LAN
// gets a DHCPv4 lease and a SLAAC address from the delegated prefix, and
// reaches the ISP side over IPv4 through NAT44 and natively over IPv6.
func TestLANHost(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireCommands(t, "kea-dhcp4", "kea-dhcp6", "radvd", "dhcpcd", "ping")
	vm.ImageDir(t)
	std := vm.NewStandardLab(t)
	host := std.HostNS
	host.Run("ip", "link", "set", std.HostDev, "up")
	v, _ := bootToPrompt(t, std.Options(vm.Options{}), 60*time.Second)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(3 * time.Second) {
		out := command(t, v, "show wan")
		if strings.Contains(out, "dhcp4: BOUND") && strings.Contains(out, "prefix  2001:db8:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DHCPv4 lease and delegated prefix within 90 s:\n%s\n%s", out, command(t, v, "show log 40"))
		}
	}
	host.StartDHCPCD("", "--ipv4only", "--noipv4ll", std.HostDev)
	var v4, v6 string
	for deadline := time.Now().Add(60 * time.Second); (v4 == "" || v6 == "") && time.Now().Before(deadline); time.Sleep(time.Second) {
		addrs := host.Run("ip", "addr", "show", "dev", std.HostDev, "scope", "global", "-tentative")
		if m := regexp.MustCompile(`inet (192\.168\.1\.\d+)/24`).FindStringSubmatch(addrs); m != nil {
			v4 = m[1]
		}
		if m := regexp.MustCompile(`inet6 (2001:db8:1[0-9a-f:]+)/64`).FindStringSubmatch(addrs); m != nil {
			v6 = m[1]
		}
	}
	if v4 == "" || v6 == "" {
		t.Fatalf("LAN host addresses: IPv4 %q, IPv6 %q\n%s\n%s", v4, v6, host.Run("ip", "addr"), command(t, v, "show lan"))
	}
	t.Logf("LAN host: %s and %s", v4, v6)
	o := std.ISP.Options()
	for _, dst := range []string{o.Internet4().String(), o.Internet6().String()} {
		var out string
		var err error
		for try := 0; try < 10; try++ { // the default route via the RA may come a moment after the address
			if out, err = host.Exec("ping", "-c", "2", "-i", "0.3", "-W", "2", dst); err == nil {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Errorf("the LAN host cannot reach %s: %v\n%s\n%s\n%s", dst, err, out, command(t, v, "show firewall"), command(t, v, "show log 300"))
		}
	}
}

// TestBridgeAndVLAN: a LAN bridge over a VLAN sub-interface (the lab
// machine's kernel has no 802.1Q, the image's has) is created on commit
// and removed when the segment is deleted.
func TestBridgeAndVLAN(t *testing.T) {
	vm.ImageDir(t)
	v, _ := bootToPrompt(t, vm.Options{}, 60*time.Second)
	configure(t, v, "set lan 1 interface br-lan", "set lan 1 bridge ports wan1.10", "set lan 1 ipv6 subnet_id 1", "commit")
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		out = command(t, v, "show interfaces")
		if strings.Contains(out, "br-lan") && strings.Contains(out, "wan1.10") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no br-lan over wan1.10 after the commit:\n%s\n%s", out, command(t, v, "show log 30"))
		}
	}
	configure(t, v, "delete lan 1", "commit")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		out = command(t, v, "show interfaces")
		if !strings.Contains(out, "br-lan") && !strings.Contains(out, "wan1.10") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("br-lan or wan1.10 still there after deleting the segment:\n%s", out)
		}
	}
	if !strings.Contains(out, "wan1") {
		t.Errorf("the VLAN's parent went too:\n%s", out)
	}
}

// TestMeshPoint: on the board's simulated radio (mac80211_hwsim) the box
// creates an 802.11s mesh point, joins the mesh on the configured channel
// and runs Babel on it.
func TestMeshPoint(t *testing.T) {
	vm.ImageDir(t)
	v, _ := bootToPrompt(t, vm.Options{}, 60*time.Second)
	configure(t, v, "set mesh interfaces 0 interface wmesh0", "set mesh wifi mesh_id labmesh", "set mesh wifi channel 6", "commit")
	var out string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(2 * time.Second) {
		out = command(t, v, "show mesh")
		if strings.Contains(out, "joined on channel 6 (2437 MHz)") && strings.Contains(out, "link wmesh0 (wireless): up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mesh point did not join:\n%s\n%s\n%s", out, command(t, v, "show components"), command(t, v, "show log 40"))
		}
	}
	t.Logf("show mesh:\n%s", out)
}

// TestMeshBoxes: boxes in one VM form an 802.11s mesh on the simulated
// radios, authenticate their peer links with SAE and reach each other's LANs
// over Babel. The image's own box is configured from the console; three more
// run `cpe run` each in a network namespace of its own with its own radio
// (cmd/labinit starts them and pings from them). box3 has the wrong mesh key
// and must not join.
func TestMeshBoxes(t *testing.T) {
	dir := vm.ImageDir(t)
	const key, wrong = "correct horse battery", "wrong horse battery"
	box := func(name string, phy int, key string) map[string]any {
		return map[string]any{"name": name, "phy": phy, "isolated": key == wrong, "config": map[string]any{
			"system": map[string]any{"hostname": name},
			"lan":    []any{map[string]any{"interface": "lan0", "ipv6": map[string]any{}}},
			"mesh": map[string]any{
				"interfaces": []any{map[string]any{"interface": "wmesh0", "hello_interval": "1s", "update_interval": "4s"}},
				"wifi":       map[string]any{"mesh_id": "labmesh", "channel": 6, "key": key},
			},
		}}
	}
	plan := map[string]any{"self": "box0", "self_lan": "lan0", "reach": "4m",
		"boxes": []any{box("box1", 1, key), box("box2", 2, key), box("box3", 3, wrong)}}
	v := bootLab(t, dir, plan, 4)
	for _, b := range []string{"box1", "box2", "box3"} {
		if !waitTranscript(v, regexp.MustCompile("lab: "+b+" started"), 2*time.Minute) {
			t.Fatalf("%s did not start:\n%s", b, v.Transcript())
		}
	}
	configure(t, v, "set mesh interfaces 0 interface wmesh0", "set mesh interfaces 0 hello_interval 1s",
		"set mesh interfaces 0 update_interval 4s", "set mesh wifi mesh_id labmesh", "set mesh wifi channel 6",
		fmt.Sprintf("set mesh wifi key %q", key), "commit")

	fails := regexp.MustCompile(`lab: (box\d) FAILED`)
	for _, b := range []string{"box1", "box2"} {
		if !waitTranscript(v, regexp.MustCompile(`lab: `+b+` reaches all|lab: box[12] FAILED`), 5*time.Minute) || fails.MatchString(v.Transcript()) {
			t.Fatalf("%s does not reach every box:\n%s\n%s", b, v.Transcript(), command(t, v, "show babel routes"))
		}
	}
	var mesh string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Second) {
		mesh = command(t, v, "show mesh")
		if strings.Count(mesh, " established ") == 2 && strings.Contains(mesh, "SAE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("show mesh does not list two established SAE peer links:\n%s", mesh)
		}
	}
	routes := command(t, v, "show babel routes")
	lans := map[string]string{}
	for _, m := range regexp.MustCompile(`lab: (box\d) lan (fd[0-9a-f:]+)::1\b`).FindAllStringSubmatch(v.Transcript(), -1) {
		lans[m[1]] = m[2] + "::/64"
	}
	for _, b := range []string{"box1", "box2"} {
		if lans[b] == "" || !strings.Contains(routes, lans[b]) {
			t.Errorf("box0 has no Babel route to %s's LAN %q:\n%s", b, lans[b], routes)
		}
	}
	// box3 had as long as the others: no peer link, no route, no ping.
	if lans["box3"] == "" {
		t.Errorf("box3 never got its LAN address:\n%s", v.Transcript())
	} else if strings.Contains(routes, lans["box3"]) {
		t.Errorf("box0 routes to box3 (wrong key) at %s:\n%s", lans["box3"], routes)
	}
	if strings.Contains(v.Transcript(), "lab: box3 reaches") {
		t.Errorf("box3, with the wrong key, reached another box:\n%s", v.Transcript())
	}
	t.Logf("box0:\n%s\n%s", mesh, routes)
}

// waitTranscript waits for re anywhere in what the VM printed (lab lines
// come between console prompts, so Expect's cursor may be past them).
func waitTranscript(v *vm.VM, re *regexp.Regexp, within time.Duration) bool {
	for deadline := time.Now().Add(within); !re.MatchString(v.Transcript()); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// bootLab boots the image with cmd/labinit and plan appended to its
// initramfs and radios simulated radios, and waits for the console.
func bootLab(t *testing.T, dir string, plan any, radios int) *vm.VM {
	t.Helper()
	v, _ := bootToPrompt(t, vm.Options{
		Initrd:    vm.LabInitrd(t, dir, plan, nil),
		Append:    fmt.Sprintf("rdinit=/lab/init mac80211_hwsim.radios=%d", radios),
		MemoryMiB: 512,
	}, 90*time.Second)
	return v
}
