// Command run boots the image under qemu with its serial console on this
// terminal, wan0 bridged to an "ISP" namespace and lan0 to a "LAN host"
// namespace (make run). Needs root. Ctrl-A x quits qemu; everything it created
// is removed on exit.
package main

import (
	"flag"
	"fmt"
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

	std := vm.NewStandardLab(m)
	isp, host := std.ISPNS, std.HostNS
	host.Run("ip", "link", "set", std.HostDev, "up")
	o := std.ISP.Options()

	bin, args, err := vm.Args(vm.Options{
		ImageDir: *image, Perm: *perm, Serial: "mon:stdio",
		Taps: std.Taps,
	})
	if err != nil {
		m.Fatalf("%v", err)
	}
	fmt.Fprintf(os.Stderr, "run: ISP namespace %s: isp0 %s and %s, kea (DHCPv4; DHCPv6 IA_NA and /%d delegations from %s), radvd\n",
		isp.Name, o.Gateway4(), o.Gateway6(), o.PDLength, o.PDPool())
	fmt.Fprintf(os.Stderr, "run: LAN host namespace %s (%s)\n", host.Name, std.HostDev)
	fmt.Fprintf(os.Stderr, "run: a shell in one: ip netns exec %s bash\n", host.Name)
	fmt.Fprintf(os.Stderr, "run: disk %s; Ctrl-A x quits, Ctrl-A c the qemu monitor\n\n", *perm)

	cmd := exec.Command("ip", append([]string{"netns", "exec", std.QemuNS.Name, bin}, args...)...)
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
