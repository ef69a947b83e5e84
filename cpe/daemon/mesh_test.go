package daemon

import (
	"net/netip"
	"testing"

	"cpe/cpe/plan"
	"cpe/cpe/state"
	"cpe/mesh/babel"
)

// A Babel metric that moves (a link-cost sample) must not wake the
// planner: the kernel routes do not carry it. A new next hop must.
func TestKernelRoutesIgnoreMetric(t *testing.T) {
	st := state.New()
	route := func(metric uint16, via string) []babel.InstalledRoute {
		return []babel.InstalledRoute{{
			Prefix: netip.MustParsePrefix("fd00:1::/64"), Via: netip.MustParseAddr(via),
			Interface: "wmesh0", Metric: metric,
		}}
	}
	st.Put(plan.KeyMeshRoutes, kernelRoutes(route(300, "fe80::1")))
	v := st.Snapshot().Version
	st.Put(plan.KeyMeshRoutes, kernelRoutes(route(420, "fe80::1")))
	if got := st.Snapshot().Version; got != v {
		t.Errorf("a metric change moved the facts from version %d to %d", v, got)
	}
	st.Put(plan.KeyMeshRoutes, kernelRoutes(route(420, "fe80::2")))
	if got := st.Snapshot().Version; got == v {
		t.Errorf("a new next hop left the facts at version %d", v)
	}
	in := route(300, "fe80::1")
	kernelRoutes(in)
	if in[0].Metric != 300 {
		t.Errorf("kernelRoutes changed its argument")
	}
}
