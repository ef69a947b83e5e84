package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// generation reads the nftables ruleset generation: the kernel counts one
// up for every committed transaction, anyone's. When it is the number our
// own last commit left, nothing else has touched nftables since, so the
// kernel holds exactly what the Applier last loaded and a change can be
// patched in without reading anything back.
func (a *Applier) generation() (uint32, error) {
	c, err := a.netlinkConn()
	if err != nil {
		return 0, err
	}
	g, err := queryGeneration(c)
	if err != nil {
		a.nl.Close()
		a.nl = nil
	}
	return g, err
}

// netlinkConn returns the lasting plain netlink socket, for the
// generation and for set element patches, dialling it if need be.
func (a *Applier) netlinkConn() (*netlink.Conn, error) {
	if a.closed {
		return nil, errClosed
	}
	if a.nl != nil {
		return a.nl, nil
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: a.netns})
	if err != nil {
		return nil, fmt.Errorf("firewall: netlink: %w", err)
	}
	if err := bigBuffers(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("firewall: netlink: %w", err)
	}
	a.nl = c
	return c, nil
}

func queryGeneration(c *netlink.Conn) (uint32, error) {
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return 0, fmt.Errorf("firewall: ruleset generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("firewall: ruleset generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, fmt.Errorf("firewall: ruleset generation: no NFTA_GEN_ID in the answer")
}
