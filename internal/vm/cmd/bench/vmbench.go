package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"cpe/internal/vm"
)

// offloadSuite measures forwarding with flow offload in the image's kernel,
// which has flowtables where this machine's may not: the firewall package's
// forwarding benchmark runs inside the VM.
func offloadSuite(t vm.T, image string) suite {
	return suite{
		Title: "Forwarding in the image's kernel (flow offload)", Pkg: "./firewall/", Bench: "^BenchmarkForward$", BenchTime: "3x",
		Note: "The same iperf3 benchmark as above, run inside the qemu image (its Debian kernel has nf_flow_table; software emulation, one virtual CPU): " +
			"client, router and server namespaces and iperf3 on both ends share that CPU, so the figures are CPU cost per byte rather than line rate, " +
			"and absolute numbers are tiny. The peer is the same path with no ruleset; the reference rows are connection tracking alone, as above.",
		Rows: []comparison{
			{What: "IPv4 (NAT44, stateful)", Ours: "BenchmarkForward/IPv4/ruleset", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 0.95"},
			{What: "IPv6 (stateful)", Ours: "BenchmarkForward/IPv6/ruleset", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 0.95"},
			{What: "IPv4 with flow offload", Ours: "BenchmarkForward/IPv4/offload", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 1.0"},
			{What: "IPv6 with flow offload", Ours: "BenchmarkForward/IPv6/offload", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "≥ 1.0"},
			{What: "IPv4, conntrack and NAT44 alone", Ours: "BenchmarkForward/IPv4/conntrack", Peer: "BenchmarkForward/IPv4/none", Metric: "Mbit/s", Higher: true, Goal: "reference"},
			{What: "IPv6, conntrack alone", Ours: "BenchmarkForward/IPv6/conntrack", Peer: "BenchmarkForward/IPv6/none", Metric: "Mbit/s", Higher: true, Goal: "reference"},
		},
		Run: func(s suite) (map[string]map[string]float64, map[string]string, error) {
			return inVM(t, image, s, "/usr/bin/iperf3", "/usr/sbin/ip", "/usr/sbin/sysctl", "/usr/sbin/nft")
		},
	}
}

var (
	runLine = regexp.MustCompile(`(?m)lab: run: (.*)$`)
	runExit = regexp.MustCompile(`lab: run exit (-?\d+)`)
)

// inVM builds the suite's test binary for the board, boots the image with
// it and programs in a lab initramfs, runs the benchmarks there and reads
// their output off the console.
func inVM(t vm.T, image string, s suite, programs ...string) (map[string]map[string]float64, map[string]string, error) {
	plan := map[string]any{"run": []string{"/lab/pkg.test", "-test.run", "^$", "-test.bench", s.Bench,
		"-test.benchtime", s.BenchTime, "-test.v", "-test.timeout", "20m"}}
	initrd := vm.LabInitrd(t, image, plan, map[string][]byte{"lab/pkg.test": vm.BuildTestFor(t, image, s.Pkg)}, programs...)
	v := vm.Start(t, vm.Options{ImageDir: image, Initrd: initrd, Append: "rdinit=/lab/init", MemoryMiB: 1024})
	defer v.Kill()
	for deadline := time.Now().Add(25 * time.Minute); !runExit.MatchString(v.Transcript()); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("%s in the VM: no end within 25 min:\n%s", s.Pkg, v.Transcript())
		}
	}
	tr := v.Transcript()
	var out strings.Builder
	for _, m := range runLine.FindAllStringSubmatch(tr, -1) {
		out.WriteString(m[1] + "\n")
	}
	t.Logf("%s in the VM:\n%s", s.Pkg, out.String())
	res, skipped := parseBench(strings.NewReader(out.String()))
	if code := runExit.FindStringSubmatch(tr)[1]; code != "0" {
		return res, skipped, fmt.Errorf("%s in the VM: exit %s\n%s", s.Pkg, code, out.String())
	}
	return res, skipped, nil
}
