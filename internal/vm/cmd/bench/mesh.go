package main

func init() {
	suites = append(suites, suite{
		Title: "Mesh routing (Babel)", Pkg: "./mesh/", Bench: "^Benchmark(Convergence|Control)$", BenchTime: "1x",
		Note: "Boxes in network namespaces joined by veth pairs (wired links), all `cpe run` or all babeld, with babeld's default timers on both (4 s Hellos, 16 s updates). " +
			"Convergence: the mesh is linked up in waves outward from a target box, so that every box routes to the target's LAN over a shortest path; then the link between the target and a neighbour is deleted (the kernel reports the interface gone on both ends), and the time runs until every box's kernel route to the target's LAN leads there (polled every 50 ms) and a ping from that neighbour to the target, sent every 50 ms, is answered. " +
			"In the 10-node ring the ping then goes 9 hops the other way round; in the 3×3 grid the failed link is at a corner. " +
			"Control traffic and CPU: a 5-node ring in the steady state (from a minute after every box has its routes) over 64 s, the bytes each box sends on its mesh links (Babel with its UDP, IPv6 and Ethernet headers, and neighbour discovery) and the time its process's threads ran (/proc schedstat; the benchmark also reports utime + stime, in 10 ms ticks, as ms-cpu/s-node). " +
			"`cpe run` is the whole box (LAN RA and DHCP servers, kernel applier, firewall, console), babeld only Babel, so the CPU row overstates what Babel costs us.",
		Rows: []comparison{
			{What: "convergence after a link failure, 10-node ring", Ours: "BenchmarkConvergence/ring10/cpe", Peer: "BenchmarkConvergence/ring10/babeld", Metric: "ms-converge", Goal: "≤ 1.0"},
			{What: "convergence after a link failure, 3×3 grid", Ours: "BenchmarkConvergence/grid3x3/cpe", Peer: "BenchmarkConvergence/grid3x3/babeld", Metric: "ms-converge", Goal: "≤ 1.0"},
			{What: "10-node ring, link reported down by the kernel", Ours: "BenchmarkConvergence/ring10/cpe", Metric: "ms-converge", Goal: "≤ 500 ms", Limit: func(v float64) bool { return v <= 500 }},
			{What: "3×3 grid, link reported down by the kernel", Ours: "BenchmarkConvergence/grid3x3/cpe", Metric: "ms-converge", Goal: "≤ 500 ms", Limit: func(v float64) bool { return v <= 500 }},
			{What: "control traffic per box, 5-node ring", Ours: "BenchmarkControl/ring5/cpe", Peer: "BenchmarkControl/ring5/babeld", Metric: "B/s-node", Goal: "≤ 1.0"},
			{What: "CPU time per box, 5-node ring", Ours: "BenchmarkControl/ring5/cpe", Peer: "BenchmarkControl/ring5/babeld", Metric: "us-cpu/s-node", Goal: "≤ 1.0"},
		},
	})
}
