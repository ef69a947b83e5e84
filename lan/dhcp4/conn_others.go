//go:build !linux

package dhcp4

import (
	"errors"
	"net/netip"
)

// NewConn is only implemented on Linux, the firmware's one target; the
// engine and the driver build and test anywhere.
func NewConn(ifname string, from netip.Addr) (Conn, error) {
	return nil, errors.New("dhcp4: " + ifname + ": no DHCP server socket on this OS")
}
