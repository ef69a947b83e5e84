// Command run boots the image under qemu with its serial console on this
// terminal, wan0 bridged to an "ISP" namespace and lan0 to a "LAN host"
// namespace (make run). Needs root. Ctrl-A x quits qemu; everything it created
// is removed on exit.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"cpe/internal/lab"
	"cpe/internal/vm"
)

func main() {
	image := flag.String("image", "out/qemu-x86_64", "image directory (make image)")
	perm := flag.String("perm", "", "disk image (default: IMAGE/perm.img, used in place)")
	flag.Parse()
	m := lab.NewMain("run")
	defer m.Close()
	if os.Geteuid() != 0 {
		m.Fatalf("needs root: it creates network namespaces and tap devices (sudo make run)")
	}
	if *perm == "" {
		*perm = filepath.Join(*image, "perm.img")
	}

	l := lab.New(m)
	qemuNS, isp, host := l.Netns("qemu"), l.Netns("isp"), l.Netns("lanhost")
	// The device's NICs are taps in qemu's namespace, each bridged to a veth
	// whose other end is the peer.
	for _, link := range []struct {
		nic, peerDev string
		peer         *lab.Netns
	}{{"wan0", "isp0", isp}, {"lan0", "eth0", host}} {
		tap, veth, br := "tap-"+link.nic, "v-"+link.nic, "br-"+link.nic
		qemuNS.Tap(tap)
		l.Veth(link.peer, link.peerDev, qemuNS, veth)
		qemuNS.Bridge(br, tap, veth)
	}
	// A minimal ISP: a router address on each family and forwarding on. DHCPv4,
	// DHCPv6-PD (kea) and RAs (radvd) come with the WAN work.
	isp.Addr("isp0", netip.MustParsePrefix("192.0.2.1/24"))
	isp.Addr("isp0", netip.MustParsePrefix("2001:db8:0:1::1/64"))
	isp.Addr("lo", netip.MustParsePrefix("203.0.113.1/32")) // "the Internet"
	isp.Sysctl("net.ipv4.ip_forward", "1")
	isp.Sysctl("net.ipv6.conf.all.forwarding", "1")
	host.Run("ip", "link", "set", "eth0", "up")

	bin, args, err := vm.Args(vm.Options{
		ImageDir: *image, Perm: *perm, Serial: "mon:stdio",
		Taps: map[string]string{"wan0": "tap-wan0", "lan0": "tap-lan0"},
	})
	if err != nil {
		m.Fatalf("%v", err)
	}
	fmt.Fprintf(os.Stderr, "run: namespaces: ISP %s (isp0 192.0.2.1, 2001:db8:0:1::1), LAN host %s (eth0)\n", isp.Name, host.Name)
	fmt.Fprintf(os.Stderr, "run: a shell in one: ip netns exec %s bash\n", host.Name)
	fmt.Fprintf(os.Stderr, "run: disk %s; Ctrl-A x quits, Ctrl-A c the qemu monitor\n\n", *perm)

	cmd := exec.Command("ip", append([]string{"netns", "exec", qemuNS.Name, bin}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// qemu has the terminal in raw mode, so ^C reaches the device; a signal from
	// elsewhere stops qemu (by its PID) and the lab is torn down.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		m.Fatalf("%s: %v (Debian package qemu-system-x86)", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "\nrun: %v: stopping qemu (pid %d)\n", s, cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	if err != nil {
		m.Logf("qemu: %v", err)
	}
}
