package vm

import (
	"cpe/internal/lab"
)

// StandardLab is the standard lab around a booted image: the device's wan0
// and lan0 NICs are taps in a namespace of their own, each bridged to a veth
// whose other end is the peer — the ISP (kea DHCPv4, DHCPv6 with IA_NA and
// prefix delegation, radvd) and a LAN host.
type StandardLab struct {
	Lab     *lab.Lab
	QemuNS  *lab.Netns // where qemu runs, with the taps
	ISPNS   *lab.Netns
	HostNS  *lab.Netns
	ISP     *lab.ISP
	Taps    map[string]string // board NIC name -> tap
	HostDev string            // the LAN host's interface
}

// NewStandardLab builds the lab; everything is removed at cleanup.
func NewStandardLab(t lab.T) *StandardLab {
	t.Helper()
	l := lab.New(t)
	s := &StandardLab{Lab: l, QemuNS: l.Netns("qemu"), ISPNS: l.Netns("isp"), HostNS: l.Netns("lanhost"),
		Taps: map[string]string{}, HostDev: "eth0"}
	for _, link := range []struct {
		nic, peerDev string
		peer         *lab.Netns
	}{{"wan0", "isp0", s.ISPNS}, {"lan0", s.HostDev, s.HostNS}} {
		tap, veth, br := "tap-"+link.nic, "v-"+link.nic, "br-"+link.nic
		s.QemuNS.Tap(tap)
		l.Veth(link.peer, link.peerDev, s.QemuNS, veth)
		s.QemuNS.Bridge(br, tap, veth)
		s.Taps[link.nic] = tap
	}
	s.ISP = l.NewISP(s.ISPNS, "isp0", lab.ISPOptions{
		DHCP4: true, IANA: true, PD: true, RA: true, Managed: true, Other: true,
	})
	// The ISP routes its delegation pool to the device, as an ISP's DHCPv6
	// relay installs a route per delegated prefix; the device's wan0 is its
	// board's first NIC, whose link-local address follows from its MAC.
	s.ISPNS.Run("ip", "-6", "route", "add", s.ISP.Options().PDPool().String(),
		"via", LinkLocal(NICMAC(0, 0)).String(), "dev", "isp0")
	return s
}

// Options returns VM options attaching the device to the lab.
func (s *StandardLab) Options(o Options) Options {
	o.Taps = s.Taps
	o.Netns = s.QemuNS.Name
	return o
}
