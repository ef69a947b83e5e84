// Command labinit puts more boxes into one VM for the system tests. It is not
// part of the image: a test appends it, with a plan, as a second initramfs
// archive and boots with rdinit=/lab/init. Started as PID 1 it forks its lab
// process and hands PID 1 over to the image's own init, so the image boots
// as always and is the first box. The lab process waits for the radios,
// then starts every other box of the plan in a network namespace of its own
// with its own radio moved into it, each running `cpe run`, and reports on
// the console what each box reaches:
//
//	lab: box1 started on phy1
//	lab: box1 lan fd12:3456:789a:1::1
//	lab: box1 reaches box0 at fd..::1
//	lab: box1 reaches all
//	lab: box1 FAILED to reach box2: ...
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	mdnetlink "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"cpe/cpe/boot"
)

// Paths inside the VM.
const (
	self      = "/lab/init"
	planPath  = "/lab/plan.json"
	imageInit = "/init"
	runDir    = "/run/lab"
)

// Plan is /lab/plan.json, written by the test.
type Plan struct {
	// Self names the image's own box (the first one, in the root namespace),
	// whose LAN address the others try to reach; SelfLAN is its LAN interface.
	Self    string `json:"self"`
	SelfLAN string `json:"self_lan"`
	Boxes   []Box  `json:"boxes"`
	// Reach is how long a box tries to reach the others before it reports a
	// failure; 0 means 5 minutes.
	Reach Duration `json:"reach"`
	// Run is a command run in a network namespace of its own once the
	// image's NICs are there (the board's modules are loaded then): each line it prints
	// comes out as "lab: run: LINE", and its end as "lab: run exit N".
	Run []string `json:"run,omitempty"`
}

// Box is one more box: its radio (phyN) and its whole configuration. A box
// with Isolated set is expected to reach nobody (a wrong mesh key) and is
// not a target of the others.
type Box struct {
	Name     string          `json:"name"`
	Phy      int             `json:"phy"`
	Config   json.RawMessage `json:"config"`
	Isolated bool            `json:"isolated,omitempty"`
}

// Duration is a time.Duration written as "90s".
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func main() {
	// The kernel gives init no PATH; cpe looks wpa_supplicant up in it.
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", boot.DefaultPath)
	}
	if os.Getpid() == 1 {
		pid1()
	}
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "lab":
		err = runLab()
	case len(os.Args) == 3 && os.Args[1] == "box":
		err = runBox(os.Args[2])
	default:
		err = errors.New("usage: labinit lab | labinit box NAME (as PID 1: start the lab, then exec " + imageInit + ")")
	}
	if err != nil {
		say("%v", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "lab: "+format+"\n", args...)
}

// pid1 starts the lab process and becomes the image's init. If the lab
// cannot start the image still boots: the test sees no lab lines.
func pid1() {
	cmd := exec.Command(self, "lab")
	// /dev/null does not exist yet: the image mounts /dev.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		say("cannot start: %v", err)
	}
	err := syscall.Exec(imageInit, []string{imageInit}, os.Environ())
	say("exec %s: %v", imageInit, err)
	for {
		time.Sleep(time.Hour)
	}
}

func readPlan() (*Plan, error) {
	doc, err := os.ReadFile(planPath)
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", planPath, err)
	}
	if p.Reach == 0 {
		p.Reach = Duration(5 * time.Minute)
	}
	return &p, nil
}

// runLab runs in the root namespace, a child of the image's PID 1.
func runLab() error {
	p, err := readPlan()
	if err != nil {
		return err
	}
	if len(p.Run) > 0 {
		return run(p.Run)
	}
	// The radios exist once the image's init has loaded mac80211_hwsim,
	// which is after it mounted /sys and /run.
	for _, b := range p.Boxes {
		if err := waitFor(2*time.Minute, func() bool { return exists(phyPath(b.Phy)) }); err != nil {
			return fmt.Errorf("no radio phy%d: %w", b.Phy, err)
		}
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	var boxes []*exec.Cmd
	for _, b := range p.Boxes {
		cmd, err := startBox(b)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name, err)
		}
		boxes = append(boxes, cmd)
		say("%s started on phy%d", b.Name, b.Phy)
	}
	// The image's box: publish its LAN address for the others.
	addr, err := waitLAN(p.SelfLAN, 3*time.Minute)
	if err != nil {
		say("%s has no LAN address: %v", p.Self, err)
	} else if err := publish(p.Self, addr); err != nil {
		return err
	}
	for i, cmd := range boxes {
		say("%s ended: %v", p.Boxes[i].Name, cmd.Wait())
	}
	return nil
}

// run waits for the image's NICs, runs args and passes on its output.
func run(args []string) error {
	if err := waitFor(2*time.Minute, func() bool { return exists("/sys/class/net/wan0") }); err != nil {
		return fmt.Errorf("the image's NICs: %w", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = "/tmp"
	// A network namespace of its own: the image's interfaces (wan0, lan0)
	// are not in the way of the names the command gives its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		say("run exit -1: %v", err)
		return err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		say("run: %s", sc.Text())
	}
	err = cmd.Wait()
	say("run exit %d", cmd.ProcessState.ExitCode())
	return err
}

func phyPath(n int) string { return fmt.Sprintf("/sys/class/ieee80211/phy%d", n) }

// startBox starts `labinit box NAME` in new network and mount namespaces,
// moves the radio into its network namespace, and lets it go on.
func startBox(b Box) (*exec.Cmd, error) {
	idx, err := os.ReadFile(filepath.Join(phyPath(b.Phy), "index"))
	if err != nil {
		return nil, err
	}
	wiphy, err := strconv.Atoi(strings.TrimSpace(string(idx)))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "box", b.Name)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWNS}
	goOn, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := moveWiphy(wiphy, cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("moving phy%d: %w", b.Phy, err)
	}
	_, err = goOn.Write([]byte("go\n"))
	return cmd, err
}

// moveWiphy moves a radio into the network namespace of pid
// (NL80211_CMD_SET_WIPHY_NETNS; mac80211_hwsim radios allow it).
func moveWiphy(wiphy, pid int) error {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	fam, err := c.GetFamily("nl80211")
	if err != nil {
		return err
	}
	ae := mdnetlink.NewAttributeEncoder()
	ae.Uint32(unix.NL80211_ATTR_WIPHY, uint32(wiphy))
	ae.Uint32(unix.NL80211_ATTR_PID, uint32(pid))
	data, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: unix.NL80211_CMD_SET_WIPHY_NETNS, Version: fam.Version},
		Data:   data,
	}, fam.ID, mdnetlink.Request|mdnetlink.Acknowledge)
	return err
}

// runBox runs in the box's namespaces: it sets up the LAN link, runs
// `cpe run` and tries to reach every other box's LAN address.
func runBox(name string) error {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("%s: waiting for the radio: %w", name, err)
	}
	p, err := readPlan()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(p.Boxes, func(b Box) bool { return b.Name == name })
	if i < 0 {
		return fmt.Errorf("%s is not in the plan", name)
	}
	me := p.Boxes[i]
	// This namespace's own view of /sys (interfaces, radios); nothing
	// mounted here reaches the image's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", 0, ""); err != nil {
		return fmt.Errorf("%s: sysfs: %w", name, err)
	}
	if err := lanLink(); err != nil {
		return fmt.Errorf("%s: LAN link: %w", name, err)
	}
	dir := filepath.Join(runDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, me.Config, 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "cpe.sock")
	cpe := exec.Command(imageInit, "run", "-config", cfg, "-state", dir, "-socket", sock)
	cpe.Stdout, cpe.Stderr = logf, logf
	if err := cpe.Start(); err != nil {
		return fmt.Errorf("%s: cpe run: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cpe.Wait() }()

	addr, err := waitLAN("lan0", 2*time.Minute)
	if err != nil {
		say("%s has no LAN address: %v", name, err)
	} else {
		say("%s lan %s", name, addr)
		if err := publish(name, addr); err != nil {
			return err
		}
	}
	// An isolated box tries too: the test fails on any "reaches" line of it.
	targets := []string{p.Self}
	for _, b := range p.Boxes {
		if b.Name != name && !b.Isolated {
			targets = append(targets, b.Name)
		}
	}
	go reachAll(name, sock, targets, time.Duration(p.Reach))
	err = <-done
	say("%s: cpe run ended: %v", name, err)
	return err
}

// lanLink makes the box's LAN: lan0, one end of a veth pair whose other end
// (lanhost) is up too, so that lan0 has carrier and its addresses pass DAD.
func lanLink() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "lanhost"}
	if err := netlink.LinkAdd(v); err != nil {
		return err
	}
	peer, err := netlink.LinkByName("lanhost")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(peer)
}

// waitLAN waits for the box's own ULA address on its LAN interface, once
// DAD is done.
func waitLAN(ifname string, within time.Duration) (netip.Addr, error) {
	var found netip.Addr
	err := waitFor(within, func() bool {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return false
		}
		as, err := netlink.AddrList(l, netlink.FAMILY_V6)
		if err != nil {
			return false
		}
		for _, a := range as {
			ip, ok := netip.AddrFromSlice(a.IP)
			if ok && ip.Is6() && ip.As16()[0] == 0xfd && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
				found = ip
				return true
			}
		}
		return false
	})
	return found, err
}

func addrPath(name string) string { return filepath.Join(runDir, name+".addr") }

func publish(name string, a netip.Addr) error {
	tmp := addrPath(name) + ".new"
	if err := os.WriteFile(tmp, []byte(a.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, addrPath(name))
}

// reachAll pings every target's published LAN address until each answers,
// and says so once per target; past the deadline it reports what is
// missing with the box's view of the mesh.
func reachAll(name, sock string, targets []string, within time.Duration) {
	left := slices.Clone(targets)
	last := map[string]error{}
	deadline := time.Now().Add(within)
	for len(left) > 0 {
		if time.Now().After(deadline) {
			for _, t := range left {
				say("%s FAILED to reach %s: %v", name, t, last[t])
			}
			for _, words := range [][]string{{"show", "mesh"}, {"show", "babel", "neighbours"}, {"show", "babel", "routes"}} {
				out, err := exec.Command(imageInit, append([]string{"cli", "-socket", sock}, words...)...).CombinedOutput()
				say("%s %s (%v):\n%s", name, strings.Join(words, " "), err, out)
			}
			return
		}
		for _, t := range slices.Clone(left) {
			doc, err := os.ReadFile(addrPath(t))
			if err != nil {
				last[t] = errors.New("no address published yet")
				continue
			}
			a, err := netip.ParseAddr(string(doc))
			if err != nil {
				last[t] = err
				continue
			}
			if err := ping(a, time.Second); err != nil {
				last[t] = err
				continue
			}
			say("%s reaches %s at %s", name, t, a)
			left = slices.DeleteFunc(left, func(s string) bool { return s == t })
		}
		time.Sleep(time.Second)
	}
	say("%s reaches all", name)
}

// ping sends one ICMPv6 echo request to a and waits for its reply.
func ping(a netip.Addr, within time.Duration) error {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return err
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("cpe lab")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(b, &net.IPAddr{IP: a.AsSlice()}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	buf := make([]byte, 1500)
	for {
		dl, _ := ctx.Deadline()
		c.SetReadDeadline(dl)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(58, buf[:n])
		if err != nil || m.Type != ipv6.ICMPTypeEchoReply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.String() == a.String() {
			return nil
		}
	}
}

func waitFor(within time.Duration, ok func() bool) error {
	for deadline := time.Now().Add(within); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", within)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
